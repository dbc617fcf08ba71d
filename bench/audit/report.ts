/** The audit benchmark's tables (plain text, the format of bench/lifecycle). */
import { count, percentile, table } from '../lifecycle/table.ts';
import type { AppendResult } from './file-append.ts';
import type { PassResult } from './peers.ts';
import type { IngestResult, PerRecordResult } from './store-ingest.ts';
import type { ChildResult } from './verify-child.ts';

const MB = 1024 * 1024;
const secs = (ms: number) => (ms / 1000).toFixed(2);
const rate = (records: number, ms: number) => count(records / (ms / 1000));
const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

export function printAppend(rows: readonly AppendResult[], sampleEvery: number): string[] {
  return [
    `File append (one JSON line per record; µs per append from every ${sampleEvery}th append):`,
    '',
    table(
      ['variant', 'what is written', 'records', 'wall s', 'records/s', 'p50 µs', 'p99 µs', 'file MB'],
      rows.map((r) => [r.variant, r.what, count(r.records), secs(r.elapsedMs), rate(r.records, r.elapsedMs),
        fixed(percentile(r.samplesUs, 0.5), 1), fixed(percentile(r.samplesUs, 0.99), 1), r.bytes === 0 ? '-' : (r.bytes / MB).toFixed(1)]),
      2,
    ),
  ];
}

export function printVerify(fileMb: number, verify: ChildResult, passes: readonly PassResult[]): string[] {
  const row = (variant: string, what: string, records: number | null, ms: number, rss: string, note: string) => [
    variant, what, records === null ? '-' : count(records), secs(ms), records === null ? '-' : rate(records, ms), count(fileMb / (ms / 1000)), rss, note,
  ];
  return [
    `File verify over the chain file above (${fileMb.toFixed(1)} MB, read from the page cache):`,
    '',
    table(
      ['pass', 'what', 'records', 'wall s', 'records/s', 'MB/s', 'RSS MB start → peak', 'result'],
      [
        row('interlock verifyAuditLog', 'full check, fresh process', verify.records, verify.elapsedMs,
          `${verify.rssStartMb.toFixed(0)} → ${verify.peakRssMb.toFixed(0)}`, verify.ok ? `ok, ${verify.detail}` : `FAILED: ${verify.detail}`),
        ...passes.map((p) => row(p.variant, p.what, p.records, p.elapsedMs, '-', p.note)),
      ],
      2,
    ),
  ];
}

export function printIngest(r: IngestResult, batch: number, dbMb: number, peerMb: number): string[] {
  const p = (samples: readonly number[], q: number) => fixed(percentile(samples, q), 2);
  return [
    `Store ingest of one gateway stream, SQLite file (${count(r.records)} records in ${count(r.batches)} batches of ${batch}; ` +
      `store file ${dbMb.toFixed(0)} MB with -wal, peer file ${peerMb.toFixed(0)} MB):`,
    '',
    table(
      ['step', 'records', 'wall s', 'records/s', 'p50 ms/batch', 'p99 ms/batch'],
      [
        ['build records with nextRecord (not stored; timed apart)', count(r.records), secs(r.buildMs), rate(r.records, r.buildMs), '-', '-'],
        ["the route's batch check (schema + hash + link)", count(r.records), secs(r.checkMs), rate(r.records, r.checkMs), '-', '-'],
        ['store.appendGatewayAudit', count(r.records), secs(r.storeMs), rate(r.records, r.storeMs), p(r.storeBatchMs, 0.5), p(r.storeBatchMs, 0.99)],
        ['check + appendGatewayAudit (the route minus HTTP)', count(r.records), secs(r.checkMs + r.storeMs), rate(r.records, r.checkMs + r.storeMs), '-', '-'],
        [`peer: better-sqlite3, ${batch} INSERTs per transaction, plain table`, count(r.records), secs(r.peerMs), rate(r.records, r.peerMs), p(r.peerBatchMs, 0.5), p(r.peerBatchMs, 0.99)],
      ],
    ),
  ];
}

export function printOwnChain(own: PerRecordResult, peer: PerRecordResult): string[] {
  const row = (name: string, r: PerRecordResult) => [name, count(r.records), secs(r.elapsedMs), rate(r.records, r.elapsedMs),
    fixed(percentile(r.samplesUs, 0.5), 1), fixed(percentile(r.samplesUs, 0.99), 1)];
  return [
    `The control plane's own chain, one transaction per record (${count(own.records)} records; µs from every 100th call):`,
    '',
    table(['call', 'records', 'wall s', 'records/s', 'p50 µs', 'p99 µs'], [
      row('store.appendAudit (tip read + nextRecord + INSERT + COMMIT)', own),
      row('peer: better-sqlite3 INSERT, autocommit, plain JSON line', peer),
    ]),
  ];
}

export function printReadVerify(rows: ReadonlyArray<{ name: string; result: ChildResult }>, page: number): string[] {
  return [
    `Store read + verify, each in a fresh process (${count(page)} records per page):`,
    '',
    table(
      ['pass', 'records', 'read s', 'verify s', 'total s', 'records/s', 'RSS MB start → peak', 'result'],
      rows.map(({ name, result: r }) => {
        const read = r.readMs ?? 0;
        return [name, count(r.records), secs(read), secs(r.elapsedMs - read), secs(r.elapsedMs), rate(r.records, r.elapsedMs),
          `${r.rssStartMb.toFixed(0)} → ${r.peakRssMb.toFixed(0)}`, r.ok ? 'ok' : `FAILED: ${r.detail}`];
      }),
    ),
  ];
}
