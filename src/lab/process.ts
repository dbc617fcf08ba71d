import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterlockError } from '../errors.ts';

const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'bin', 'interlock.mjs');

/**
 * Starts `interlock <args>` as a child process, logs its output to a file
 * and resolves with the first JSON log line whose `event` is `readyEvent`.
 * The child watches its stdin, so it stops if the lab dies.
 */
export function spawnInterlock(
  args: readonly string[],
  options: {
    logPath: string;
    readyEvent: string;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    /** Runs the child through this command, e.g. `ip netns exec <ns>` (which execs it, so the pid stays the child's). */
    prefix?: readonly string[];
  },
): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  // INTERLOCK_CPU_PROFILE_DIR=<dir>: each child writes a V8 CPU profile there when it stops (for bench profiling; NODE_OPTIONS may not carry --cpu-prof).
  const profileDir = process.env.INTERLOCK_CPU_PROFILE_DIR;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const argv = [...(options.prefix ?? []), process.execPath, ...nodeArgs, CLI, ...args, '--stop-with-stdin'];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolvePromise, reject) => {
    const log = createWriteStream(options.logPath, { flags: 'a' });
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new InterlockError('IL_ERR_LAB_FAILED', `${args[0]} not ready after ${timeoutMs} ms; see ${options.logPath}`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.event === options.readyEvent) {
            clearTimeout(timer);
            resolvePromise({ child, ready: entry });
          }
        } catch {
          /* not a JSON log line */
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderr += chunk.toString('utf8');
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new InterlockError('IL_ERR_LAB_FAILED', `${args[0]} exited with code ${code}: ${stderr.trim().split('\n')[0] ?? ''} (log: ${options.logPath})`));
    });
  });
}

/** Asks a child to stop (closing its stdin and SIGTERM) and waits until it has. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin?.end();
  child.kill('SIGTERM');
  await exited;
}
