import { apiRequest, type ApiConnection } from './api.ts';
import { verifyRecordChain, type RecordChainVerification } from '../audit/verify-records.ts';
import type { AuditRecord } from '../audit/record.ts';
import { checkpointProblem } from '../audit/checkpoint.ts';

const PAGE = 10_000;

/** The gateways' audit streams the control plane holds, with their heads (role auditor). */
export async function listGatewayStreams(connection: ApiConnection): Promise<Array<{ stream: string; seq: number; hash: string }>> {
  return (await apiRequest<Array<{ stream: string; seq: number; hash: string }>>(connection, 'GET', '/v1/audit/streams')).body;
}

/**
 * Verifies a chain the control plane holds page by page (memory stays flat
 * whatever its length), and, given a checkpoint, that the chain still holds
 * the record it signed: a chain cut short or rewritten fails.
 */
export async function verifyRemoteChain(
  connection: ApiConnection,
  stream: string,
  checkpoint?: { seq: number; hash: string; at: string },
): Promise<RecordChainVerification> {
  const path = (after: number) => (stream === 'control-plane' ? `/v1/audit?after=${after}&limit=${PAGE}` : `/v1/audit/streams/${encodeURIComponent(stream)}?after=${after}&limit=${PAGE}`);
  let previous: AuditRecord | undefined;
  let atCheckpoint: AuditRecord | undefined;
  let count = 0;
  for (;;) {
    const { body: page } = await apiRequest<AuditRecord[]>(connection, 'GET', path(previous?.seq ?? 0));
    const result = verifyRecordChain(page, previous);
    if (!result.ok) return { ...result, count: count + result.count };
    atCheckpoint ??= checkpoint ? page.find((r) => r.seq === checkpoint.seq) : undefined;
    count += page.length;
    previous = page.at(-1) ?? previous;
    if (page.length < PAGE) break;
  }
  const problem = checkpoint ? checkpointProblem(count, atCheckpoint, checkpoint) : undefined;
  if (problem) return { ok: false, count, badSeq: Math.min(count + 1, checkpoint!.seq), reason: problem };
  return { ok: true, count, head: previous?.hash ?? '0'.repeat(64) };
}
