/**
 * The fuzz harness: every property in test/fuzz runs through `fuzz()`, which
 *
 *   - takes its number of runs from $FUZZ_RUNS (times the property's `scale`,
 *     so costly properties run fewer inputs), small by default so `npm test`
 *     stays quick; scripts/fuzz.mjs raises it for the long run;
 *   - replays one failure with $FUZZ_SEED (and $FUZZ_PATH), and runs only the
 *     properties whose name contains $FUZZ_ONLY;
 *   - appends one JSON line per property (name, inputs, ms, failed, seed) to
 *     $FUZZ_REPORT when set, which scripts/fuzz.mjs sums into its table.
 *
 * Each input must end in one of two ways (`coded()`): a result that passes the
 * property's own check, or an InterlockError whose code is one the target may
 * raise. Any other exception, or one input taking longer than $FUZZ_HANG_MS
 * (default 10 s: a hang, not a speed limit), fails the property, and
 * fast-check prints the seed and the shrunk input.
 */
import { test } from 'node:test';
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { ERRORS, InterlockError, type ErrorCode } from '../../src/errors.ts';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return value;
}

/** Runs per property at scale 1. */
export const FUZZ_RUNS = envNumber('FUZZ_RUNS', 25);
export const HANG_MS = envNumber('FUZZ_HANG_MS', 10_000);
/** Longest one property may run, shrinking included (fast-check's interruptAfterTimeLimit). */
export const TIME_LIMIT_MS = envNumber('FUZZ_TIME_LIMIT_MS', 30 * 60_000);

export function runsFor(scale: number): number {
  return Math.max(1, Math.round(FUZZ_RUNS * scale));
}

/** Raised when a target broke its contract; the message says how. */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

/**
 * Calls `target` once. Passes if it returns a value `check` accepts, or throws
 * an InterlockError with a registered code from `codes`. Anything else (a
 * TypeError, a RangeError, a code the target has no business raising, a hang)
 * is a ContractViolation.
 */
export async function coded<T>(target: () => T | Promise<T>, codes: readonly ErrorCode[], check?: (value: T) => void): Promise<void> {
  const started = performance.now();
  let value: T;
  try {
    value = await target();
  } catch (error) {
    overTime(started);
    if (!(error instanceof InterlockError)) {
      const what = error instanceof Error ? `${error.constructor.name}: ${error.message}` : `non-error ${String(error)}`;
      throw new ContractViolation(`threw an uncoded ${what}`, { cause: error });
    }
    if (!(error.code in ERRORS)) throw new ContractViolation(`threw unregistered code ${error.code}`);
    if (!codes.includes(error.code)) throw new ContractViolation(`threw ${error.code} (${error.message}); expected one of ${codes.join(', ')}`);
    return;
  }
  overTime(started);
  check?.(value);
}

function overTime(started: number): void {
  const ms = performance.now() - started;
  if (ms > HANG_MS) throw new ContractViolation(`one input took ${Math.round(ms)} ms (more than FUZZ_HANG_MS=${HANG_MS}): a hang`);
}

export interface FuzzOptions<Ts extends unknown[]> {
  /** Runs = FUZZ_RUNS × scale (at least 1). Default 1. */
  readonly scale?: number;
  /** Inputs that once broke a target: always run first, as they are (regressions); skipped when replaying a seed. */
  readonly examples?: NoInfer<Ts>[];
  /**
   * A bug the fuzzer found in a module it may not fix: the test is reported
   * as a todo (its failure does not fail the run) until someone fixes it.
   */
  readonly knownBug?: string;
}

type Arbitraries<Ts extends unknown[]> = { [K in keyof Ts]: fc.Arbitrary<Ts[K]> };

/** Declares one node:test test that checks `predicate` over the arbitraries. */
export function fuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  arbitraries: Arbitraries<Ts>,
  predicate: (...args: Ts) => Promise<void>,
  options: FuzzOptions<Ts> = {},
): void {
  const only = process.env.FUZZ_ONLY;
  const skip = only !== undefined && only !== '' && !name.includes(only);
  test(`fuzz: ${name}`, { skip, ...(options.knownBug ? { todo: `known bug: ${options.knownBug}` } : {}) }, async () => {
    const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
    const path = process.env.FUZZ_PATH || undefined;
    const scale = options.scale ?? 1;
    const started = performance.now();
    // Regression examples run as they are, before the property: given to fast-check, a failing one
    // is shrunk through the mutation arbitraries, which cannot undo a map and may loop.
    const examples = seed === undefined ? (options.examples ?? []) : [];
    for (const [index, example] of examples.entries()) {
      try {
        await predicate(...example);
      } catch (error) {
        report({ name, scale, examples: examples.length, inputs: index + 1, ms: Math.round(performance.now() - started), failed: true, seed: 0, knownBug: Boolean(options.knownBug) });
        throw new Error(`${name}: regression example ${index + 1} failed\n${describe(error)}`, { cause: error });
      }
    }
    const property = fc.asyncProperty(...(arbitraries as unknown as [fc.Arbitrary<unknown>]), predicate as (...args: unknown[]) => Promise<void>);
    const details = await fc.check(property, {
      numRuns: runsFor(scale),
      timeout: HANG_MS,
      // A safety net for the whole run, shrinking included: stopping counts as a failure, never as a pass.
      interruptAfterTimeLimit: TIME_LIMIT_MS,
      markInterruptAsFailure: true,
      ...(seed !== undefined ? { seed } : {}),
      ...(path ? { path } : {}),
    });
    const ms = Math.round(performance.now() - started);
    report({ name, scale, examples: examples.length, inputs: examples.length + details.numRuns, ms, failed: details.failed, seed: details.seed, knownBug: Boolean(options.knownBug), ...(details.counterexamplePath ? { path: details.counterexamplePath } : {}) });
    if (details.failed) throw new Error(`${name}: ${fc.defaultReportMessage(details)}\n${describe(details.errorInstance)}\nreplay: FUZZ_SEED=${details.seed} FUZZ_PATH="${details.counterexamplePath}" FUZZ_ONLY="${name}"`);
  });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return `error: ${String(error)}`;
  const cause = error.cause instanceof Error ? `\ncause: ${error.cause.stack ?? error.cause.message}` : '';
  return `error: ${error.message}${cause}`;
}

function report(line: { name: string; scale: number; examples: number; inputs: number; ms: number; failed: boolean; seed: number; knownBug: boolean; path?: string }): void {
  const file = process.env.FUZZ_REPORT;
  if (!file) return;
  appendFileSync(file, JSON.stringify({ file: process.argv[1] ?? '', ...line }) + '\n');
  process.stdout.write(`fuzz ${line.name}: ${line.inputs} inputs, ${line.ms} ms${line.failed ? (line.knownBug ? ', FAILED (known bug)' : ', FAILED') : ''}\n`);
}
