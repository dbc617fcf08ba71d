import { chainLinkProblem, recordSchemaProblem, type AuditRecord } from './record.ts';

/**
 * Verifies a chain held as records rather than a file (the control plane's
 * chain in its store, read through the API): the same rules as verify.ts.
 */
export type RecordChainVerification =
  | { readonly ok: true; readonly count: number; readonly head: string }
  | { readonly ok: false; readonly count: number; readonly badSeq: number; readonly reason: string };

/** `after`: the record just before these (when verifying page by page), or undefined from record 1. */
export function verifyRecordChain(records: readonly unknown[], after?: AuditRecord): RecordChainVerification {
  // The records come from an API answer: anything but a list is a failed verification, not a TypeError.
  if (!Array.isArray(records)) return { ok: false, count: 0, badSeq: (after?.seq ?? 0) + 1, reason: 'the records are not a list' };
  let previous: AuditRecord | undefined = after;
  for (const [index, value] of records.entries()) {
    const schemaProblem = recordSchemaProblem(value);
    const record = value as AuditRecord;
    const problem = schemaProblem ?? chainLinkProblem(previous, record);
    if (problem) return { ok: false, count: index, badSeq: typeof record?.seq === 'number' ? record.seq : index + 1, reason: problem };
    previous = record;
  }
  return { ok: true, count: records.length, head: previous?.hash ?? '0'.repeat(64) };
}
