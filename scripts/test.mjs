#!/usr/bin/env node
// Node 20's test runner does not expand globs, so the test files are found
// here and handed to `node --test` (with tsx for TypeScript). Extra
// arguments narrow the run: `npm test -- test/pki` runs only those files.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function findTests(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => findTests(join(path, name)));
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ['test']).flatMap(findTests).map((file) => relative(process.cwd(), file));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// The console shows Node's default reporter (spec on a terminal, tap otherwise); a second
// reporter merges each file's outcome into test-results/results.json for `interlock report risk-register`.
const reporters = ['--test-reporter', process.stdout.isTTY ? 'spec' : 'tap', '--test-reporter-destination', 'stdout', '--test-reporter', './src/reports/test-results-reporter.mjs', '--test-reporter-destination', 'stdout'];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...reporters, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
