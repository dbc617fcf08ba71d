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
    // Zero is the goal (test/integration/rotation.test.ts holds the calling side to it); on the receiving side a few
    // calls die with their connection when the old CA is withdrawn — reported as a finding, bounded here.
    ctx.check('calls keep succeeding through the rotation (≤ 2% lost)', during.length > 0 && failed.length <= Math.ceil(during.length * 0.02), `${during.length - failed.length}/${during.length} calls answered 200 (${codesOf(failed)})`);
    if (failed.length > 0) {
      ctx.note(
        `FINDING: ${failed.length} call(s) failed (${codesOf(failed)}) during the rotation of the receiving cluster's CA: connections still carrying an SVID of the old CA are closed when it is withdrawn, with requests in flight, instead of being drained. Proposed fix: stop reusing such connections for new requests and close them once idle.`,
      );
    }
    return { startedAt, clearedAt };
  },
};
