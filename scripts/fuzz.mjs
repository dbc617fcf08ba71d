#!/usr/bin/env node
// The long fuzz run (docs/reliability.md, "Fuzzing"): the property tests of
// test/fuzz, with FUZZ_RUNS raised until the inputs of all properties add up
// to --inputs (default 1,000,000). `npm test` runs the same files with a
// small FUZZ_RUNS.
//
//   npm run fuzz                         1,000,000 inputs
//   npm run fuzz -- --inputs 100000      a shorter run
//   npm run fuzz -- --runs 2000          FUZZ_RUNS as given, no calibration
//   npm run fuzz -- test/fuzz/audit.test.ts   only these files
//
// Each property appends a line (name, scale, inputs, ms, failed, seed) to the
// file in $FUZZ_REPORT. A first pass with FUZZ_RUNS=1 reads every
// property's scale, so FUZZ_RUNS = (inputs wanted − regression examples) /
// (sum of scales), over the properties not marked as a known bug. The table at the end is per test file (area), then the
// total; a failure prints its seed and how to replay it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';

function parseArgs(argv) {
  const options = { inputs: 1_000_000, runs: undefined, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--inputs') options.inputs = Number(argv[++i]);
    else if (arg === '--runs') options.runs = Number(argv[++i]);
    else if (arg === '--help') {
      console.log('usage: node scripts/fuzz.mjs [--inputs N | --runs N] [test files or folders]');
      process.exit(0);
    } else options.files.push(arg);
  }
  if (!(options.inputs > 0) || (options.runs !== undefined && !(options.runs > 0))) throw new Error('--inputs and --runs take a positive number');
  return options;
}

function findTests(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((name) => findTests(join(path, name)));
}

/** Runs the files once with FUZZ_RUNS=`runs`; returns the report lines and whether node --test passed. */
function runOnce(files, runs, { quiet }) {
  const dir = mkdtempSync(join(tmpdir(), 'interlock-fuzz-'));
  const report = join(dir, 'report.jsonl');
  try {
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
      stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_REPORT: report },
      maxBuffer: 256 * 1024 * 1024,
    });
    let lines = [];
    try {
      lines = readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
    } catch {
      lines = [];
    }
    if (quiet && result.status !== 0) process.stderr.write(String(result.stdout ?? '') + String(result.stderr ?? ''));
    return { lines, passed: result.status === 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const number = (n) => n.toLocaleString('en-US');
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function printTable(lines, runs) {
  const byFile = new Map();
  for (const line of lines) {
    const target = basename(line.file).replace(/\.test\.ts$/, '');
    const row = byFile.get(target) ?? { properties: 0, inputs: 0, ms: 0, failures: 0, known: 0 };
    row.properties++;
    row.inputs += line.inputs;
    row.ms += line.ms;
    if (line.failed && line.knownBug) row.known++;
    else if (line.failed) row.failures++;
    byFile.set(target, row);
  }
  const rows = [...byFile.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = rows.reduce((sum, [, r]) => ({ properties: sum.properties + r.properties, inputs: sum.inputs + r.inputs, ms: sum.ms + r.ms, failures: sum.failures + r.failures, known: sum.known + r.known }), { properties: 0, inputs: 0, ms: 0, failures: 0, known: 0 });
  const fmt = (name, r) => `| ${name} | ${r.properties} | ${number(r.inputs)} | ${seconds(r.ms)} | ${r.failures}${r.known ? ` (+${r.known} known)` : ''} |`;
  console.log(`\nfuzz run: FUZZ_RUNS=${runs}, node ${process.version}, ${new Date().toISOString()}\n`);
  console.log('| target | properties | inputs | time | failures |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, r] of rows) console.log(fmt(name, r));
  console.log(fmt('**total**', total));
  for (const line of lines.filter((l) => l.failed)) {
    console.log(`\n${line.knownBug ? 'known bug' : 'FAILED'}: ${line.name}\n  replay: FUZZ_SEED=${line.seed}${line.path ? ` FUZZ_PATH="${line.path}"` : ''} FUZZ_ONLY="${line.name}" node scripts/test.mjs ${relative(process.cwd(), line.file)}`);
  }
  return total;
}

const options = parseArgs(process.argv.slice(2));
const files = (options.files.length ? options.files : ['test/fuzz']).flatMap(findTests).map((file) => relative(process.cwd(), file));
if (files.length === 0) {
  console.error('no fuzz test files found');
  process.exit(1);
}

let runs = options.runs;
if (runs === undefined) {
  // Calibration: one input per property (plus its regression examples) tells each property's scale.
  const { lines, passed } = runOnce(files, 1, { quiet: true });
  if (!passed || lines.length === 0) {
    console.error('the calibration pass (FUZZ_RUNS=1) failed; fix that first: node scripts/test.mjs test/fuzz');
    process.exit(1);
  }
  // Properties marked as a known bug fail at once and count nearly nothing: the others carry the total.
  const counted = lines.filter((line) => !line.knownBug);
  const scales = counted.reduce((sum, line) => sum + line.scale, 0);
  const examples = counted.reduce((sum, line) => sum + line.examples, 0);
  runs = Math.ceil((options.inputs - examples) / scales);
  console.log(`calibration: ${lines.length} properties, sum of scales ${scales}, ${examples} regression examples → FUZZ_RUNS=${runs} for ${number(options.inputs)} inputs`);
}

const started = Date.now();
const { lines, passed } = runOnce(files, runs, { quiet: false });
const total = printTable(lines, runs);
console.log(`\n${number(total.inputs)} inputs in ${seconds(Date.now() - started)} wall time (${seconds(total.ms)} inside properties)`);
// A failing property stops at its first counterexample, so only a clean run reaches the count asked for.
if (options.runs === undefined && total.inputs < options.inputs) console.log(`(${number(options.inputs - total.inputs)} inputs short of ${number(options.inputs)}: the failing properties above stopped at their first counterexample)`);
process.exit(passed && total.failures === 0 ? 0 : 1);
