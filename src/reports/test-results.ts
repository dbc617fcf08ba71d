/**
 * The machine-readable summary of test runs that `interlock report
 * risk-register` links evidence to: for each test file, the outcome of the
 * last run that included it. scripts/test.mjs adds the reporter in
 * test-results-reporter.ts beside Node's console reporter; each run merges
 * its files into the summary, so a narrowed run (`npm test -- test/pki`)
 * updates those files and keeps the others' last results.
 */
import { readFileSync } from 'node:fs';
import { InterlockError } from '../errors.ts';

export const TEST_RESULTS_FORMAT = 'interlock-test-results/v1';
export const DEFAULT_TEST_RESULTS_FILE = 'test-results/results.json';
/** Set by scripts/test.mjs to move the summary (tests of the reporter use it). */
export const TEST_RESULTS_ENV = 'INTERLOCK_TEST_RESULTS';

export interface TestFileResult {
  /** Tests (not suites) that passed, failed, were skipped or marked todo. */
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly todo: number;
  /** The run's own failure when the file failed as a whole (did not load, crashed, timed out). */
  readonly fileError: string | null;
  /** Names of the first failed tests, with their messages, for the report. */
  readonly failures: readonly string[];
  readonly finishedAt: string;
}

export interface TestResults {
  readonly format: typeof TEST_RESULTS_FORMAT;
  /** Keyed by the file's path relative to the repository root, with forward slashes. */
  readonly files: Readonly<Record<string, TestFileResult>>;
}

export type TestOutcome = 'passed' | 'failed';

/** A file passed when it ran at least one test, none failed, and it did not fail as a whole. */
export function outcomeOf(result: TestFileResult): TestOutcome {
  return result.failed === 0 && result.fileError === null && result.passed + result.skipped + result.todo > 0 ? 'passed' : 'failed';
}

export function emptyResults(): TestResults {
  return { format: TEST_RESULTS_FORMAT, files: {} };
}

/** Later results replace earlier ones file by file. */
export function mergeResults(previous: TestResults, run: Readonly<Record<string, TestFileResult>>): TestResults {
  const files = { ...previous.files, ...run };
  return { format: TEST_RESULTS_FORMAT, files: Object.fromEntries(Object.keys(files).sort().map((k) => [k, files[k]!])) };
}

function invalid(file: string, message: string): InterlockError {
  return new InterlockError('IL_ERR_REPORT_INPUT_INVALID', `${file}: ${message}`, { field: file, hint: 'run the tests again with node scripts/test.mjs to rewrite it' });
}

/** Checks a parsed summary's shape; `file` names it in errors. */
export function parseTestResults(text: string, file: string): TestResults {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(file, `not JSON: ${(error as Error).message}`);
  }
  const doc = value as { format?: unknown; files?: unknown };
  if (doc?.format !== TEST_RESULTS_FORMAT) throw invalid(file, `format must be ${TEST_RESULTS_FORMAT}`);
  if (typeof doc.files !== 'object' || doc.files === null || Array.isArray(doc.files)) throw invalid(file, 'files must be an object');
  for (const [name, result] of Object.entries(doc.files as Record<string, unknown>)) {
    const r = result as Partial<Record<keyof TestFileResult, unknown>>;
    const counts = ['passed', 'failed', 'skipped', 'todo'] as const;
    if (counts.some((k) => typeof r?.[k] !== 'number') || typeof r.finishedAt !== 'string' || !(r.fileError === null || typeof r.fileError === 'string') || !Array.isArray(r.failures)) {
      throw invalid(file, `the entry for ${name} is malformed`);
    }
  }
  return doc as TestResults;
}

/** The summary at `file`, or an empty one when no run has written it yet. */
export function readTestResults(file: string): TestResults {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyResults();
    throw invalid(file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseTestResults(text, file);
}
