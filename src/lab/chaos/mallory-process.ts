import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterlockError } from '../../errors.ts';
import type { LabNetwork } from '../netns.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../..');

export interface MalloryProcess {
  /** Mallory's report so far (see mallory.ts). */
  report(): Record<string, unknown>;
  stop(): Promise<void>;
}

/** Starts mallory.ts in the lab's attacker namespace and waits until it is ready. */
export async function startMallory(network: LabNetwork, mode: 'mitm' | 'tamper' | 'replay', options: { report: string; listen?: { host: string; port: number }; target?: { host: string; port: number }; bytesFile?: string }): Promise<MalloryProcess> {
  const argv = [...network.mallory.exec, process.execPath, '--import', 'tsx', join(HERE, 'mallory.ts'), mode, JSON.stringify(options)];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => fail('not ready after 20 s'), 20_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new InterlockError('IL_ERR_LAB_FAILED', `mallory (${mode}) ${why}: ${output.trim()}`, { field: 'mallory' }));
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('mallory ready')) {
        clearTimeout(timer);
        resolvePromise();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => fail(`exited with code ${code}`));
  });
  return {
    report: () => (existsSync(options.report) ? (JSON.parse(readFileSync(options.report, 'utf8')) as Record<string, unknown>) : {}),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
