import { InterlockError } from '../errors.ts';
import type { x509 } from '../pki/x509.ts';
import { verifySignedDocument } from '../pki/signed-document.ts';
import { chainLinkProblem, recordSchemaProblem, type AuditRecord } from './record.ts';

/**
 * A signed checkpoint of the control plane's audit chain: "record <seq> has
 * hash <hash>", signed by the control plane's audit signer (a certificate
 * issued by the root, in the JWS x5c header). Whoever holds the trust bundle
 * can check that an excerpt of the chain ending at that record is exactly
 * what the control plane recorded: changing, dropping or reordering any
 * record of the excerpt breaks the hash links up to the signed head.
 */
export const AUDIT_SIGNER_PATH = '/interlock/audit-signer';
export const CHECKPOINT_TOKEN_TYPE = 'interlock-audit-checkpoint+jws';

export interface Checkpoint {
  readonly v: 1;
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
}

/** Records (after, head] of the chain with a checkpoint of the head. */
export interface AuditExcerpt {
  /** The record just before the excerpt (its seq and hash), or null if the excerpt starts at record 1. */
  readonly after: { readonly seq: number; readonly hash: string } | null;
  readonly records: readonly AuditRecord[];
  readonly checkpoint: string;
}

const invalid = (message: string) => new InterlockError('IL_ERR_EVIDENCE_INVALID', message, { field: 'audit' });

export async function verifyCheckpoint(jws: string, roots: readonly x509.X509Certificate[], now: Date): Promise<Checkpoint> {
  const value = (await verifySignedDocument(jws, roots, now, { typ: CHECKPOINT_TOKEN_TYPE, signerPath: AUDIT_SIGNER_PATH, what: 'checkpoint', invalid })) as Partial<Checkpoint>;
  if (value?.v !== 1 || !Number.isInteger(value.seq) || typeof value.hash !== 'string' || typeof value.at !== 'string') throw invalid('the checkpoint payload is malformed');
  return value as Checkpoint;
}

/** Checks an excerpt: schema and hash links of every record, continuity from `after`, and a head equal to the signed checkpoint. */
export async function verifyExcerpt(excerpt: AuditExcerpt, roots: readonly x509.X509Certificate[], now: Date): Promise<{ count: number; checkpoint: Checkpoint }> {
  const checkpoint = await verifyCheckpoint(excerpt.checkpoint, roots, now);
  if (excerpt.records.length === 0) throw invalid('the excerpt holds no records');
  // A stand-in for the record before the excerpt: only its seq and hash matter to the link check.
  let previous = (excerpt.after ? { seq: excerpt.after.seq, hash: excerpt.after.hash } : undefined) as AuditRecord | undefined;
  for (const record of excerpt.records) {
    const problem = recordSchemaProblem(record) ?? chainLinkProblem(previous, record);
    if (problem) throw new InterlockError('IL_ERR_AUDIT_CHAIN_BROKEN', `excerpt record ${String((record as AuditRecord)?.seq)}: ${problem}`, { field: 'audit.records' });
    previous = record;
  }
  const head = excerpt.records[excerpt.records.length - 1]!;
  if (head.seq !== checkpoint.seq || head.hash !== checkpoint.hash) {
    throw new InterlockError('IL_ERR_AUDIT_CHAIN_BROKEN', `the excerpt ends at record ${head.seq} (${head.hash.slice(0, 12)}…) but the checkpoint signs record ${checkpoint.seq} (${checkpoint.hash.slice(0, 12)}…)`, { field: 'audit.checkpoint' });
  }
  return { count: excerpt.records.length, checkpoint };
}

/**
 * What hash links alone cannot show: a chain shorter than a checkpoint once
 * signed for it (records cut off the end), or holding another record at the
 * checkpointed position (rewritten). `count` is the chain's length and
 * `atSeq` its record at the checkpoint's seq, if any. Returns the problem,
 * or undefined.
 */
export function checkpointProblem(count: number, atSeq: { seq: number; hash: string } | undefined, checkpoint: Pick<Checkpoint, 'seq' | 'hash' | 'at'>): string | undefined {
  if (count < checkpoint.seq || !atSeq) return `the chain has ${count} records, but a checkpoint signed at ${checkpoint.at} says it had ${checkpoint.seq} (records removed from the end)`;
  if (atSeq.seq !== checkpoint.seq || atSeq.hash !== checkpoint.hash) return `record ${checkpoint.seq} differs from the one checkpointed at ${checkpoint.at} (chain rewritten)`;
  return undefined;
}
