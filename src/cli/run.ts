import { InterlockError, toInterlockError } from '../errors.ts';

/** Exit codes: 0 success, 1 a check failed or internal error, 2 bad input. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/**
 * Every command's action runs through here: an InterlockError becomes one
 * line on stderr and exit code 2; anything else is an internal error, still
 * one line, with the stack only when INTERLOCK_DEBUG is set.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void, options: { exitOnError?: boolean } = {}) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? EXIT_OK;
    } catch (error) {
      reportError(error);
      // A long-running command that failed half-way through starting (a port in use) has timers and
      // sockets of the parts it did start; they must not keep a process alive that will never serve.
      if (options.exitOnError) process.exit();
    }
  };
}

export function reportError(error: unknown): void {
  const failure = toInterlockError(error);
  process.stderr.write(`interlock: error ${failure.toLine()}\n`);
  if (process.env.INTERLOCK_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exitCode = error instanceof InterlockError ? EXIT_BAD_INPUT : EXIT_FAILED;
}

/**
 * Keeps a long-running command alive until SIGTERM, SIGINT or (with
 * `stopWithStdin`, used by the lab so no child outlives it) the end of stdin,
 * then runs `close` once.
 */
export function runUntilStopped(options: { stopWithStdin?: boolean; onStop: (reason: string) => void; close: () => Promise<void> }): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      options.onStop(reason);
      // stdin is watched only to notice the parent going away; it must not keep the process alive.
      process.stdin.destroy();
      void options.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    if (options.stopWithStdin) {
      process.stdin.resume();
      process.stdin.once('close', () => stop('parent gone'));
    }
  });
}
