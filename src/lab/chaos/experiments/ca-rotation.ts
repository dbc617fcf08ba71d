import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChaosExperiment } from '../types.ts';
import { allowedBetween, codesOf, custodian } from './common.ts';

const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), 'bin', 'interlock.mjs');

function runCli(args: readonly string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.once('exit', (status) => done({ status, output }));
  });
}

export const caRotation: ChaosExperiment = {
  name: 'ca-rotation',
  title: 'Intermediate CA rotation under load',
  hypothesis: "A staged rotation of west's intermediate CA (publish → switch issuance → withdraw the old CA once its SVIDs have expired) under continuous traffic fails no call: overlapping trust bundles carry every connection across.",
  fault: "`interlock ca rotate --cluster west` run to completion while the load runs (SVIDs live 15 s, so the old CA is withdrawn within the experiment)",
  recoveryBudgetMs: 2_000,
  lab: 'shared',
  run: async (ctx) => {
    const admin = await custodian(ctx.world);
    const tokenFile = join(ctx.workDir, 'custodian.token');
    writeFileSync(tokenFile, admin.token + '\n', { mode: 0o600 });
    const startedAt = ctx.load.now();
    const result = await runCli(['ca', 'rotate', '--cluster', 'west', '--poll', '200', '--wait', '60', '--server', ctx.world.controlPlane.url, '--ca-file', ctx.world.controlPlane.bundleFile, '--token-file', tokenFile]);
    const clearedAt = ctx.load.now();
    ctx.check('the rotation completed', result.status === 0 && /old CA withdrawn/.test(result.output), `exit ${result.status}: ${result.output.trim().split('\n').slice(-2).join(' / ')}`);
    const during = allowedBetween(ctx.load.records, startedAt, clearedAt);
    const failed = during.filter((r) => r.status !== 200);
    // Connections on SVIDs of the old CA are retired before those expire (gateway/connection-lifetime.ts),
    // so the withdrawal finds none in use: no call may be lost, on either side.
    ctx.check('every call succeeds through the rotation', during.length > 0 && failed.length === 0, `${during.length - failed.length}/${during.length} calls answered 200 (${codesOf(failed)})`);
    return { startedAt, clearedAt };
  },
};
