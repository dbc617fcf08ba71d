/**
 * Reading a gateway stream back from the store and checking it with the
 * record.ts rules, one page at a time. verifyRecordChain
 * (src/audit/verify-records.ts) always starts at the genesis record, so it
 * cannot check page 2 on its own; this loop carries the previous record
 * across pages and applies the same two checks in the same order.
 */
import { performance } from 'node:perf_hooks';
import { chainLinkProblem, recordSchemaProblem, type AuditRecord } from '../../src/audit/record.ts';
import type { Store } from '../../src/store/types.ts';

export interface PagedVerification {
  readonly count: number;
  readonly readMs: number;
  readonly problem: string | undefined;
}

export async function verifyPaged(store: Store, stream: string, page: number): Promise<PagedVerification> {
  let prev: AuditRecord | undefined;
  let count = 0;
  let readMs = 0;
  for (;;) {
    const t0 = performance.now();
    const records = await store.gatewayAuditSince(stream, count, page);
    readMs += performance.now() - t0;
    for (const value of records) {
      const problem = recordSchemaProblem(value) ?? chainLinkProblem(prev, value);
      if (problem !== undefined) return { count, readMs, problem: `record ${count + 1}: ${problem}` };
      prev = value;
      count += 1;
    }
    if (records.length < page) return { count, readMs, problem: undefined };
  }
}
