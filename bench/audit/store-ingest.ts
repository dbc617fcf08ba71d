/**
 * Writing audit records into the SQLite store:
 *   - gateway ingest: batches built with nextRecord (timed apart), checked
 *     as POST /v1/audit/streams/:stream/records checks them (timed apart),
 *     then store.appendGatewayAudit (timed), each batch also inserted into
 *     a plain better-sqlite3 table in another file (the peer floor);
 *   - the control plane's own chain: store.appendAudit, one transaction per
 *     record, next to plain one-row autocommit inserts.
 */
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { chainLinkProblem, computeRecordHash, recordSchemaProblem, type AuditRecord } from '../../src/audit/record.ts';
import type { Store } from '../../src/store/types.ts';
import { buildRecords, decisionEvent, steppingClock } from './events.ts';

export interface IngestResult {
  readonly records: number;
  readonly batches: number;
  readonly buildMs: number;
  readonly checkMs: number;
  readonly storeMs: number;
  /** ms per appendGatewayAudit call. */
  readonly storeBatchMs: number[];
  readonly peerMs: number;
  readonly peerBatchMs: number[];
}

export interface PerRecordResult {
  readonly records: number;
  readonly elapsedMs: number;
  /** µs per call, every 100th call. */
  readonly samplesUs: number[];
}

/** A plain table in its own file with the store's pragmas (WAL, synchronous NORMAL): the SQLite floor. */
export function openPeerDb(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE records (seq INTEGER PRIMARY KEY, record TEXT NOT NULL) STRICT');
  return db;
}

// What the route does before the store sees a batch (src/server/routes/audit-streams.ts).
function routeCheck(records: readonly AuditRecord[]): void {
  let previous: AuditRecord | undefined;
  for (const record of records) {
    const problem = recordSchemaProblem(record) ?? (previous ? chainLinkProblem(previous, record) : computeRecordHash(record) !== record.hash ? 'hash' : undefined);
    if (problem) throw new Error(`batch check refused seq ${record.seq}: ${problem}`);
    previous = record;
  }
}

export async function ingestGatewayBatches(store: Store, peer: Database.Database, n: number, batch: number, stream: string, progress: (done: number) => void): Promise<IngestResult> {
  const clock = steppingClock();
  const insertPeer = peer.prepare('INSERT INTO records (seq, record) VALUES (?, ?)');
  const peerBatch = peer.transaction((records: readonly AuditRecord[]) => {
    for (const r of records) insertPeer.run(r.seq, JSON.stringify(r));
  });
  let prev: AuditRecord | undefined;
  let buildMs = 0;
  let checkMs = 0;
  let storeMs = 0;
  let peerMs = 0;
  const storeBatchMs: number[] = [];
  const peerBatchMs: number[] = [];
  let batches = 0;
  for (let from = 0; from < n; from += batch) {
    const t0 = performance.now();
    const records = buildRecords(prev, from, Math.min(batch, n - from), clock);
    const t1 = performance.now();
    routeCheck(records);
    const t2 = performance.now();
    const result = await store.appendGatewayAudit(stream, records, clock.now().toISOString());
    const t3 = performance.now();
    peerBatch(records);
    const t4 = performance.now();
    if (result.conflict !== null || result.inserted !== records.length) {
      throw new Error(`appendGatewayAudit stored ${result.inserted} of ${records.length} (conflict ${result.conflict})`);
    }
    buildMs += t1 - t0;
    checkMs += t2 - t1;
    storeMs += t3 - t2;
    peerMs += t4 - t3;
    storeBatchMs.push(t3 - t2);
    peerBatchMs.push(t4 - t3);
    batches += 1;
    prev = records[records.length - 1];
    if (Math.floor((from + batch) / 100_000) > Math.floor(from / 100_000)) progress(from + records.length);
  }
  return { records: n, batches, buildMs, checkMs, storeMs, storeBatchMs, peerMs, peerBatchMs };
}

/** store.appendAudit per record: read the tip, nextRecord, insert, commit. */
export async function appendOwnChain(store: Store, n: number): Promise<PerRecordResult> {
  const clock = steppingClock();
  const samplesUs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const at = clock.now().toISOString();
    if (i % 100 === 0) {
      const t0 = performance.now();
      await store.appendAudit(decisionEvent(i), at);
      samplesUs.push((performance.now() - t0) * 1000);
    } else {
      await store.appendAudit(decisionEvent(i), at);
    }
  }
  return { records: n, elapsedMs: performance.now() - start, samplesUs };
}

/** Peer: one INSERT per autocommit transaction of a plain JSON line (no tip read, no hash). */
export function appendPeerPerRow(db: Database.Database, n: number): PerRecordResult {
  db.exec('CREATE TABLE own (seq INTEGER PRIMARY KEY, record TEXT NOT NULL) STRICT');
  const insert = db.prepare('INSERT INTO own (seq, record) VALUES (?, ?)');
  const clock = steppingClock();
  const one = (i: number): void => {
    const e = decisionEvent(i);
    insert.run(i + 1, JSON.stringify({ v: 1, seq: i + 1, time: clock.now().toISOString(), type: e.type, actor: e.actor, data: e.data }));
  };
  const samplesUs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (i % 100 === 0) {
      const t0 = performance.now();
      one(i);
      samplesUs.push((performance.now() - t0) * 1000);
    } else {
      one(i);
    }
  }
  return { records: n, elapsedMs: performance.now() - start, samplesUs };
}
