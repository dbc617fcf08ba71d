import { InterlockError } from '../errors.ts';
import type { x509 } from '../pki/x509.ts';
import { verifyExcerpt, type AuditExcerpt, type Checkpoint } from './checkpoint.ts';

/**
 * Offline check of an evidence bundle written by `interlock incident`: the
 * audit excerpt verifies against its signed checkpoint (checkpoint.ts), and
 * the incident it describes is recorded in that excerpt, so the timeline is
 * backed by the chain rather than by the bundle's own say-so.
 */
export interface EvidenceVerification {
  readonly incident: string;
  readonly steps: readonly string[];
  readonly records: number;
  readonly checkpoint: Checkpoint;
  /** The audit records of type incident.* that name this incident. */
  readonly incidentRecordsFound: number;
}

const invalid = (message: string, field = 'evidence') => new InterlockError('IL_ERR_EVIDENCE_INVALID', message, { field });

export async function verifyEvidence(value: unknown, roots: readonly x509.X509Certificate[], now: Date): Promise<EvidenceVerification> {
  const bundle = value as { v?: unknown; kind?: unknown; incident?: { id?: unknown; timeline?: Array<{ step?: unknown }> }; audit?: AuditExcerpt };
  if (typeof bundle !== 'object' || bundle === null || bundle.v !== 1 || bundle.kind !== 'interlock.evidence') throw invalid('not an Interlock evidence bundle (v 1)');
  const id = bundle.incident?.id;
  if (typeof id !== 'string' || !Array.isArray(bundle.incident?.timeline)) throw invalid('the bundle names no incident', 'incident');
  // Checked, not String()-ed later: a null entry, or a step like {"toString":1}, threw a TypeError there.
  if (!bundle.incident.timeline.every((t) => typeof t?.step === 'string')) throw invalid('every incident timeline entry needs a step name', 'incident.timeline');
  if (!bundle.audit || !Array.isArray(bundle.audit.records) || typeof bundle.audit.checkpoint !== 'string') throw invalid('the bundle has no audit excerpt', 'audit');
  const { count, checkpoint } = await verifyExcerpt(bundle.audit, roots, now);
  const found = bundle.audit.records.filter((r) => r.type.startsWith('incident.') && r.data.incident === id).length;
  if (found === 0) throw invalid(`the audit excerpt holds no record of incident ${id}`, 'audit.records');
  return { incident: id, steps: bundle.incident.timeline.map((t) => t.step as string), records: count, checkpoint, incidentRecordsFound: found };
}
