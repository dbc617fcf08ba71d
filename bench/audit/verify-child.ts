/**
 * One verification in a fresh process, so its peak RSS is its own:
 *
 *   verify-child.ts file <path>                       verifyAuditLog(path)
 *   verify-child.ts store-paged <db> <stream> <page>  gatewayAuditSince page by page, each page checked
 *                                                     and dropped (flat memory)
 *   verify-child.ts store-whole <db> <stream> <page>  gatewayAuditSince page by page into one array,
 *                                                     then verifyRecordChain (what `interlock audit
 *                                                     verify-server` does after fetching, minus HTTP)
 *   verify-child.ts store-cp <db> <page>              auditSince page by page into one array, then
 *                                                     verifyRecordChain (the control plane's chain)
 *
 * Prints one JSON line (ChildResult) on stdout. Not run on its own.
 */
import { performance } from 'node:perf_hooks';
import { verifyAuditLog } from '../../src/audit/verify.ts';
import { verifyRecordChain } from '../../src/audit/verify-records.ts';
import { openStore } from '../../src/store/open.ts';
import { verifyPaged } from './store-read.ts';

export interface ChildResult {
  readonly ok: boolean;
  readonly records: number;
  readonly elapsedMs: number;
  /** Time spent in store reads (gatewayAuditSince / auditSince), when it applies. */
  readonly readMs: number | null;
  readonly rssStartMb: number;
  readonly peakRssMb: number;
  readonly detail: string;
}

const mb = (bytes: number) => bytes / 1024 / 1024;

async function main(): Promise<ChildResult> {
  const [mode, target, ...rest] = process.argv.slice(2);
  if (mode === undefined || target === undefined) throw new Error('usage: verify-child.ts <mode> <path> ...');
  if (mode === 'file') {
    const rssStartMb = mb(process.memoryUsage().rss);
    const start = performance.now();
    const result = verifyAuditLog(target);
    const elapsedMs = performance.now() - start;
    return { ok: result.ok, records: result.count, elapsedMs, readMs: null, rssStartMb, peakRssMb: peakRss(), detail: result.ok ? `head ${result.head.slice(0, 12)}` : result.reason };
  }
  const store = await openStore(`sqlite:${target}`);
  try {
    const rssStartMb = mb(process.memoryUsage().rss);
    if (mode === 'store-paged') {
      const [stream = 'bench', page = '10000'] = rest;
      const start = performance.now();
      const r = await verifyPaged(store, stream, Number(page));
      return { ok: r.problem === undefined, records: r.count, elapsedMs: performance.now() - start, readMs: r.readMs, rssStartMb, peakRssMb: peakRss(), detail: r.problem ?? 'ok' };
    }
    if (mode === 'store-whole' || mode === 'store-cp') {
      const stream = mode === 'store-whole' ? (rest[0] ?? 'bench') : undefined;
      const page = Number(mode === 'store-whole' ? (rest[1] ?? '10000') : (rest[0] ?? '10000'));
      const start = performance.now();
      const records: unknown[] = [];
      for (;;) {
        const got = stream === undefined ? await store.auditSince(records.length, page) : await store.gatewayAuditSince(stream, records.length, page);
        for (const record of got) records.push(record);
        if (got.length < page) break;
      }
      const readMs = performance.now() - start;
      const result = verifyRecordChain(records);
      return { ok: result.ok, records: result.count, elapsedMs: performance.now() - start, readMs, rssStartMb, peakRssMb: peakRss(), detail: result.ok ? 'ok' : result.reason };
    }
    throw new Error(`unknown mode ${mode}`);
  } finally {
    await store.close();
  }
}

function peakRss(): number {
  // maxRSS is in kilobytes (getrusage ru_maxrss on Linux).
  return process.resourceUsage().maxRSS / 1024;
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  },
);
