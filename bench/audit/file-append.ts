/**
 * Appending N records to a JSON-lines file: Interlock's AuditLog (lock file,
 * tail read, hash chain, one write per record) next to plain JSON lines
 * without chain or lock, and two decomposition rows (the chain without the
 * lock and reopen; the lock alone).
 */
import { appendFileSync, closeSync, createWriteStream, openSync, statSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../../src/audit/chain-file.ts';
import { acquireLock, releaseLock } from '../../src/audit/lock-file.ts';
import { nextRecord, type AuditRecord } from '../../src/audit/record.ts';
import { decisionEvent, steppingClock } from './events.ts';

export interface AppendResult {
  readonly variant: string;
  readonly what: string;
  readonly records: number;
  readonly elapsedMs: number;
  /** µs per append of every SAMPLE_EVERY-th record; empty when per-call time means nothing (buffered). */
  readonly samplesUs: number[];
  readonly bytes: number;
}

/** Every 100th append is timed on its own. */
export const SAMPLE_EVERY = 100;

type Progress = (done: number) => void;

function timedLoop(n: number, progress: Progress, body: (i: number) => void): { elapsedMs: number; samplesUs: number[] } {
  const samplesUs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (i % SAMPLE_EVERY === 0) {
      const t0 = performance.now();
      body(i);
      samplesUs.push((performance.now() - t0) * 1000);
      if (i % 100_000 === 0 && i > 0) progress(i);
    } else {
      body(i);
    }
  }
  return { elapsedMs: performance.now() - start, samplesUs };
}

/** What gateways do on the request path: AuditLog.append, one call per record. */
export function appendChain(path: string, n: number, progress: Progress): AppendResult {
  const log = new AuditLog(path, steppingClock());
  const { elapsedMs, samplesUs } = timedLoop(n, progress, (i) => {
    log.append(decisionEvent(i));
  });
  return { variant: 'interlock AuditLog.append', what: 'lock file + tail read + SHA-256 chain + 1 write', records: n, elapsedMs, samplesUs, bytes: statSync(path).size };
}

/** The chain without the lock file and the reopen/tail read: nextRecord + writeSync on a held fd. */
export function appendChainHeldFd(path: string, n: number, progress: Progress): AppendResult {
  const clock = steppingClock();
  const fd = openSync(path, 'a', 0o600);
  let prev: AuditRecord | undefined;
  try {
    const { elapsedMs, samplesUs } = timedLoop(n, progress, (i) => {
      prev = nextRecord(prev, decisionEvent(i), clock);
      writeSync(fd, `${JSON.stringify(prev)}\n`);
    });
    return { variant: 'nextRecord + writeSync, fd held, no lock', what: 'decomposition: chain without lock/reopen', records: n, elapsedMs, samplesUs, bytes: statSync(path).size };
  } finally {
    closeSync(fd);
  }
}

/** Decomposition: only the lock file AuditLog.append takes and releases around each record. */
export function lockOnly(path: string, n: number, progress: Progress): AppendResult {
  const { elapsedMs, samplesUs } = timedLoop(n, progress, () => releaseLock(acquireLock(path)));
  return { variant: 'acquireLock + releaseLock only', what: 'decomposition: the lock file, nothing written', records: n, elapsedMs, samplesUs, bytes: 0 };
}

// The same fields as a record, minus prev and hash: what a logger without a chain writes.
function plainLine(i: number, clock: { now(): Date }): string {
  const e = decisionEvent(i);
  return `${JSON.stringify({ v: 1, seq: i + 1, time: clock.now().toISOString(), type: e.type, actor: e.actor, data: e.data })}\n`;
}

/** Peer: plain JSON lines, fs.appendFileSync per record (opens and closes the file each time), no chain, no lock. */
export function appendPlainSync(path: string, n: number, progress: Progress): AppendResult {
  const clock = steppingClock();
  const { elapsedMs, samplesUs } = timedLoop(n, progress, (i) => appendFileSync(path, plainLine(i, clock)));
  return { variant: 'peer: fs.appendFileSync per record', what: 'plain JSON line, no chain, no lock', records: n, elapsedMs, samplesUs, bytes: statSync(path).size };
}

/** Peer: plain JSON lines through a buffered fs.WriteStream (what pino-style loggers do). */
export async function appendPlainStream(path: string, n: number, progress: Progress): Promise<AppendResult> {
  const clock = steppingClock();
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (!stream.write(plainLine(i, clock))) await once(stream, 'drain');
    if (i % 100_000 === 0 && i > 0) progress(i);
  }
  stream.end();
  await once(stream, 'finish');
  const elapsedMs = performance.now() - start;
  return { variant: 'peer: fs.WriteStream, buffered', what: 'plain JSON line, no chain, no lock, no per-record write', records: n, elapsedMs, samplesUs: [], bytes: statSync(path).size };
}
