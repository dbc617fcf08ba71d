/**
 * A node:test reporter (https://nodejs.org/api/test.html#custom-reporters)
 * that scripts/test.mjs runs beside the console reporter: it prints nothing,
 * and when the run ends merges each file's outcome into the summary that
 * `interlock report risk-register` reads (test-results.ts). Node's junit and
 * tap reporters do not say which file a test came from, which the risk
 * register needs, hence this one.
 */
import { relative, sep } from 'node:path';
import { writeFileAtomic } from '../util/files.ts';
import { DEFAULT_TEST_RESULTS_FILE, TEST_RESULTS_ENV, emptyResults, mergeResults, readTestResults, type TestFileResult } from './test-results.ts';

interface TestEventData {
  readonly name?: string;
  readonly file?: string;
  readonly skip?: unknown;
  readonly todo?: unknown;
  readonly details?: { readonly type?: string; readonly error?: { readonly message?: string; readonly cause?: { readonly message?: string } } };
}

interface TestEvent {
  readonly type: string;
  readonly data?: TestEventData;
}

const MAX_FAILURES_KEPT = 5;

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  todo: number;
  fileError: string | null;
  failures: string[];
}

function messageOf(data: TestEventData): string {
  const error = data.details?.error;
  return error?.cause?.message ?? error?.message ?? 'failed';
}

/** Folds the runner's events into per-file tallies; exported for its test. */
export function tallyEvents(events: Iterable<TestEvent>, cwd: string, finishedAt: string): Record<string, TestFileResult> {
  const tallies = new Map<string, Tally>();
  for (const event of events) {
    const data = event.data;
    if (!data?.file || (event.type !== 'test:pass' && event.type !== 'test:fail' && event.type !== 'test:complete')) continue;
    const key = relative(cwd, data.file).split(sep).join('/');
    const tally = tallies.get(key) ?? { passed: 0, failed: 0, skipped: 0, todo: 0, fileError: null, failures: [] };
    tallies.set(key, tally);
    // With process isolation each file is itself a test named by its path: it fails alone when the file did not load or its process died.
    const fileLevel = data.name === data.file;
    if (event.type === 'test:complete' || data.details?.type === 'suite') continue;
    if (fileLevel) {
      if (event.type === 'test:fail') tally.fileError = messageOf(data);
      continue;
    }
    if (event.type === 'test:pass') {
      if (data.skip !== undefined && data.skip !== false) tally.skipped++;
      else if (data.todo !== undefined && data.todo !== false) tally.todo++;
      else tally.passed++;
    } else {
      tally.failed++;
      if (tally.failures.length < MAX_FAILURES_KEPT) tally.failures.push(`${data.name ?? '?'}: ${messageOf(data)}`);
    }
  }
  return Object.fromEntries([...tallies].map(([file, t]) => [file, { ...t, finishedAt }]));
}

export default async function* testResultsReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const events: TestEvent[] = [];
  for await (const event of source) if (event.data?.file) events.push(event);
  const file = process.env[TEST_RESULTS_ENV] ?? DEFAULT_TEST_RESULTS_FILE;
  const run = tallyEvents(events, process.cwd(), new Date().toISOString());
  let previous;
  try {
    previous = readTestResults(file);
  } catch {
    // An unreadable summary is replaced rather than failing the test run.
    previous = emptyResults();
  }
  try {
    writeFileAtomic(file, JSON.stringify(mergeResults(previous, run), null, 2) + '\n', 0o644);
  } catch (error) {
    // The summary is a by-product: a read-only checkout must still run its tests.
    process.stderr.write(`test results not written to ${file}: ${(error as Error).message}\n`);
  }
  yield '';
}
