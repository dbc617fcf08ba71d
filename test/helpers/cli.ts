import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/interlock.mjs', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process, as a user would. */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): CliResult {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(options.env ?? {}) };
  delete env.INTERLOCK_CA_PASSPHRASE;
  if (options.env?.INTERLOCK_CA_PASSPHRASE) env.INTERLOCK_CA_PASSPHRASE = options.env.INTERLOCK_CA_PASSPHRASE;
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Like runCli, without blocking this process: needed when the CLI talks to a
 * server running inside the test process (spawnSync would freeze it).
 */
export function runCliAsync(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(options.env ?? {}) };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, timeout: options.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
