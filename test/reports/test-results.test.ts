import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterlockError } from '../../src/errors.ts';
import { tallyEvents } from '../../src/reports/test-results-reporter.ts';
import { TEST_RESULTS_ENV, mergeResults, outcomeOf, parseTestResults, readTestResults, type TestResults } from '../../src/reports/test-results.ts';
import { tempDir } from '../helpers/pki.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPORTER = join(ROOT, 'src', 'reports', 'test-results-reporter.mjs');

test('events fold into per-file counts: suites are not tests, skips and todos are counted apart, a file that died is a file error', () => {
  const file = (name: string) => `/repo/test/${name}`;
  const tally = tallyEvents(
    [
      { type: 'test:pass', data: { name: 'works', file: file('a.test.ts'), details: {} } },
      { type: 'test:fail', data: { name: 'breaks', file: file('a.test.ts'), details: { error: { message: 'outer', cause: { message: 'expected 1' } } } } },
      { type: 'test:pass', data: { name: 'group', file: file('a.test.ts'), details: { type: 'suite' } } },
      { type: 'test:pass', data: { name: 'later', file: file('a.test.ts'), skip: true, details: {} } },
      { type: 'test:pass', data: { name: 'someday', file: file('a.test.ts'), todo: 'soon', details: {} } },
      { type: 'test:fail', data: { name: file('b.test.ts'), file: file('b.test.ts'), details: { error: { message: 'test failed' } } } },
      { type: 'test:complete', data: { name: file('c.test.ts'), file: file('c.test.ts'), details: {} } },
    ],
    '/repo',
    '2026-01-01T00:00:00.000Z',
  );
  assert.deepEqual(tally['test/a.test.ts'], { passed: 1, failed: 1, skipped: 1, todo: 1, fileError: null, failures: ['breaks: expected 1'], finishedAt: '2026-01-01T00:00:00.000Z' });
  assert.equal(tally['test/b.test.ts']!.fileError, 'test failed');
  assert.equal(outcomeOf(tally['test/b.test.ts']!), 'failed');
  assert.equal(outcomeOf(tally['test/c.test.ts']!), 'failed', 'a file that ran no test proves nothing');
  assert.equal(outcomeOf({ ...tally['test/a.test.ts']!, failed: 0 }), 'passed');
});

test('a later run replaces the files it ran and keeps the others', () => {
  const at = (finishedAt: string, failed: number) => ({ passed: 1, failed, skipped: 0, todo: 0, fileError: null, failures: [], finishedAt });
  const first = mergeResults({ format: 'interlock-test-results/v1', files: {} }, { 'test/a.test.ts': at('t1', 1), 'test/b.test.ts': at('t1', 0) });
  const second = mergeResults(first, { 'test/a.test.ts': at('t2', 0) });
  assert.deepEqual(second.files['test/a.test.ts'], at('t2', 0));
  assert.deepEqual(second.files['test/b.test.ts'], at('t1', 0));
});

test('a malformed summary is a coded error naming the file; an absent one is empty', () => {
  assert.throws(() => parseTestResults('{"format":"other"}', 'r.json'), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_REPORT_INPUT_INVALID' && e.field === 'r.json');
  assert.throws(() => parseTestResults('{"format":"interlock-test-results/v1","files":{"x":{"passed":"1"}}}', 'r.json'), /entry for x is malformed/);
  assert.deepEqual(readTestResults(join(tempDir(), 'none.json')).files, {});
});

test('the reporter, run by node --test beside the console reporter, writes each file outcome and leaves the console output alone', async () => {
  const dir = tempDir('interlock-reporter-');
  const results = join(dir, 'results.json');
  writeFileSync(join(dir, 'mixed.test.mjs'), "import test from 'node:test';\ntest('passes', () => {});\ntest('fails', () => { throw new Error('on purpose'); });\n");
  writeFileSync(join(dir, 'good.test.mjs'), "import test from 'node:test';\ntest('passes', () => {});\n");
  // An earlier run's result for another file survives.
  writeFileSync(results, JSON.stringify({ format: 'interlock-test-results/v1', files: { 'elsewhere.test.ts': { passed: 1, failed: 0, skipped: 0, todo: 0, fileError: null, failures: [], finishedAt: 'earlier' } } }));
  const args = ['--test', '--test-reporter', 'tap', '--test-reporter-destination', 'stdout', '--test-reporter', REPORTER, '--test-reporter-destination', 'stdout', 'mixed.test.mjs', 'good.test.mjs'];
  const stdout = await new Promise<string>((resolve) => {
    // NODE_TEST_CONTEXT would make the inner runner talk to this one instead of printing.
    const { NODE_TEST_CONTEXT: _outer, ...env } = process.env;
    const child = spawn(process.execPath, args, { cwd: dir, env: { ...env, [TEST_RESULTS_ENV]: results } });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('close', () => resolve(out));
  });
  assert.match(stdout, /^# pass 2$/m);
  assert.match(stdout, /^# fail 1$/m);
  const written = JSON.parse(readFileSync(results, 'utf8')) as TestResults;
  assert.deepEqual(Object.keys(written.files), ['elsewhere.test.ts', 'good.test.mjs', 'mixed.test.mjs']);
  assert.equal(outcomeOf(written.files['good.test.mjs']!), 'passed');
  assert.equal(outcomeOf(written.files['mixed.test.mjs']!), 'failed');
  assert.deepEqual(written.files['mixed.test.mjs']!.failures, ['fails: on purpose']);
});
