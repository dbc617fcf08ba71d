import { X509Certificate } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { InterlockError } from '../errors.ts';
import { verifySvidChain } from '../pki/verify.ts';
import { x509 } from '../pki/x509.ts';
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
  let header;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw invalid('the checkpoint is not a compact JWS');
  }
  if (header.alg !== 'ES256' || header.typ !== CHECKPOINT_TOKEN_TYPE || !Array.isArray(header.x5c) || header.x5c.length === 0) {
    throw invalid(`the checkpoint header must be ES256, typ ${CHECKPOINT_TOKEN_TYPE}, with x5c`);
  }
  let signer: x509.X509Certificate;
  try {
    signer = new x509.X509Certificate(Buffer.from(header.x5c[0]!, 'base64'));
  } catch {
    throw invalid('x5c[0] of the checkpoint is not a certificate');
  }
  let verified;
  try {
    verified = await verifySvidChain([signer], roots, now);
  } catch (error) {
    throw invalid(`the checkpoint signer is not trusted: ${(error as Error).message}`);
  }
  if (verified.path.length !== 2 || verified.spiffeId.path !== AUDIT_SIGNER_PATH) throw invalid(`the checkpoint was signed by ${verified.spiffeId.id}, not the audit signer`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, new X509Certificate(Buffer.from(signer.rawData)).publicKey, { algorithms: ['ES256'] }));
  } catch {
    throw invalid('the checkpoint signature does not verify');
  }
  const value = JSON.parse(Buffer.from(payload).toString('utf8')) as Partial<Checkpoint>;
  if (value.v !== 1 || !Number.isInteger(value.seq) || typeof value.hash !== 'string' || typeof value.at !== 'string') throw invalid('the checkpoint payload is malformed');
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
