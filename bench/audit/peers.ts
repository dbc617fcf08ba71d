/**
 * What verifying a chain file costs next to its floors: hashing the whole
 * file once with sha256sum, openssl and node:crypto (no per-record work),
 * and two decomposition rows that read the same lines and do only part of
 * what verifyAuditLog does. Also runs verify-child.ts in a fresh process.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { computeRecordHash, type AuditRecord } from '../../src/audit/record.ts';
import type { ChildResult } from './verify-child.ts';

export interface PassResult {
  readonly variant: string;
  readonly what: string;
  /** Records the pass went through (lines), or null for whole-file hashing. */
  readonly records: number | null;
  readonly elapsedMs: number;
  readonly note: string;
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./verify-child.ts', import.meta.url));

/** Runs verify-child.ts with `args` in a fresh Node process (tsx loader) and returns what it printed. */
export function runVerifyChild(args: readonly string[]): ChildResult {
  const child = spawnSync(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`verify-child ${args.join(' ')} failed (${child.status ?? child.signal}): ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() as string) as ChildResult;
}

/** `command args… path` once, wall time including the process start. Undefined when the tool is missing. */
export function hashTool(variant: string, command: string, args: readonly string[], path: string): PassResult | undefined {
  const start = performance.now();
  const run = spawnSync(command, [...args, path], { encoding: 'utf8' });
  const elapsedMs = performance.now() - start;
  if (run.error !== undefined || run.status !== 0) return undefined;
  return { variant, what: 'one SHA-256 over the whole file, 1 process', records: null, elapsedMs, note: run.stdout.trim().split(/\s+/).find((w) => /^[0-9a-f]{64}$/.test(w))?.slice(0, 12) ?? '' };
}

export function toolVersion(command: string, args: readonly string[]): string {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.split('\n')[0]?.trim() ?? command : `${command} not found`;
}

const CHUNK = 64 * 1024;

/** node:crypto SHA-256 over the whole file in 64 KiB reads, in this process. */
export function nodeHashFile(path: string): PassResult {
  const start = performance.now();
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    for (let n = readSync(fd, buf, 0, CHUNK, null); n > 0; n = readSync(fd, buf, 0, CHUNK, null)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  const hex = hash.digest('hex');
  return { variant: 'node:crypto sha256, 64 KiB reads', what: 'one SHA-256 over the whole file, in process', records: null, elapsedMs: performance.now() - start, note: hex.slice(0, 12) };
}

/** Calls `fn` with each line's text (newline excluded), reading in 64 KiB chunks as verify.ts does. */
function eachLine(path: string, fn: (text: string) => void): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let carry = Buffer.alloc(0);
  let lines = 0;
  try {
    for (let n = readSync(fd, buf, 0, CHUNK, null); n > 0; n = readSync(fd, buf, 0, CHUNK, null)) {
      const view = carry.length === 0 ? buf.subarray(0, n) : Buffer.concat([carry, buf.subarray(0, n)]);
      let start = 0;
      for (let nl = view.indexOf(0x0a); nl !== -1; nl = view.indexOf(0x0a, start)) {
        fn(view.toString('utf8', start, nl));
        lines += 1;
        start = nl + 1;
      }
      carry = Buffer.from(view.subarray(start));
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}

/** Decomposition: read + JSON.parse every line, nothing else. */
export function parseOnly(path: string): PassResult {
  const start = performance.now();
  const records = eachLine(path, (text) => JSON.parse(text));
  return { variant: 'read + JSON.parse per line', what: 'decomposition: no hashing, no checks', records, elapsedMs: performance.now() - start, note: '' };
}

/** Decomposition: read + JSON.parse + computeRecordHash (canonical JSON + SHA-256) per line. */
export function parseAndHash(path: string): PassResult {
  const start = performance.now();
  let mismatches = 0;
  const records = eachLine(path, (text) => {
    const record = JSON.parse(text) as AuditRecord;
    if (computeRecordHash(record) !== record.hash) mismatches += 1;
  });
  return { variant: 'read + JSON.parse + computeRecordHash', what: 'decomposition: no schema, link or byte check', records, elapsedMs: performance.now() - start, note: `${mismatches} mismatches` };
}
