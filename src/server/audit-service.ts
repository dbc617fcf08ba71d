import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { AuditRecord } from '../audit/record.ts';
import { CHECKPOINT_TOKEN_TYPE, type AuditExcerpt, type Checkpoint } from '../audit/checkpoint.ts';
import type { Store } from '../store/types.ts';
import type { Job } from './jobs.ts';
import type { ControlPlaneSigner } from './signer.ts';

/**
 * The audit chains the control plane holds (its own, `control-plane`, and
 * each gateway stream) seen as one: signed checkpoints of their heads at an
 * interval, portable exports that verify offline, and queries.
 *
 * A checkpoint is the control plane's signed statement "stream S has record
 * N with hash H" (audit/checkpoint.ts). Kept apart from the chains, they let
 * `interlock audit verify-server` detect what the hash links alone cannot:
 * records cut off the end of a chain, or a chain rewritten from scratch.
 */
export const CONTROL_PLANE_STREAM = 'control-plane';
const CHECKPOINTS_SETTING = 'audit-checkpoints';
const PAGE = 5_000;
const MAX_EXPORT = 200_000;
const MAX_SCAN = 500_000;

export interface StoredCheckpoint extends Checkpoint {
  readonly stream: string;
  readonly jws: string;
}

export interface AuditQuery {
  readonly stream?: string;
  readonly principal?: string;
  readonly resource?: string;
  readonly decision?: 'allow' | 'deny';
  readonly type?: string;
  readonly traceId?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit?: number;
}

export class AuditService {
  readonly #store: Store;
  readonly #signer: ControlPlaneSigner;
  readonly #clock: Clock;

  constructor(store: Store, auditSigner: ControlPlaneSigner, clock: Clock) {
    this.#store = store;
    this.#signer = auditSigner;
    this.#clock = clock;
  }

  async streams(): Promise<Array<{ stream: string; seq: number; hash: string }>> {
    const [cpHead] = await this.#tail(CONTROL_PLANE_STREAM);
    return [...(cpHead ? [{ stream: CONTROL_PLANE_STREAM, seq: cpHead.seq, hash: cpHead.hash }] : []), ...(await this.#store.gatewayAuditHeads())];
  }

  /** The last record of a stream (an empty array if it has none). */
  async #tail(stream: string): Promise<AuditRecord[]> {
    if (stream !== CONTROL_PLANE_STREAM) {
      const head = (await this.#store.gatewayAuditHeads()).find((h) => h.stream === stream);
      return head ? this.#store.gatewayAuditSince(stream, head.seq - 1, 1) : [];
    }
    // The control plane's own chain has no head query; its length is found by doubling, then bisection.
    let low = 0;
    let high = 1;
    while ((await this.#store.auditSince(high - 1, 1)).length > 0) {
      low = high;
      high *= 2;
    }
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if ((await this.#store.auditSince(mid - 1, 1)).length > 0) low = mid;
      else high = mid;
    }
    return low === 0 ? [] : this.#store.auditSince(low - 1, 1);
  }

  #since(stream: string, after: number, limit: number): Promise<AuditRecord[]> {
    return stream === CONTROL_PLANE_STREAM ? this.#store.auditSince(after, limit) : this.#store.gatewayAuditSince(stream, after, limit);
  }

  async #sign(stream: string, record: AuditRecord): Promise<StoredCheckpoint> {
    const checkpoint: Checkpoint & { stream: string } = { v: 1, stream, seq: record.seq, hash: record.hash, at: this.#clock.now().toISOString() };
    return { ...checkpoint, jws: await this.#signer.sign(checkpoint, CHECKPOINT_TOKEN_TYPE) };
  }

  async latestCheckpoints(): Promise<Record<string, StoredCheckpoint>> {
    return ((await this.#store.getSetting(CHECKPOINTS_SETTING)) as Record<string, StoredCheckpoint> | undefined) ?? {};
  }

  /** Signs a checkpoint of every stream whose head moved since its last one. */
  async checkpointAll(): Promise<StoredCheckpoint[]> {
    const latest = await this.latestCheckpoints();
    const signed: StoredCheckpoint[] = [];
    for (const { stream, seq } of await this.streams()) {
      if (latest[stream]?.seq === seq) continue;
      const [head] = await this.#tail(stream);
      if (head) signed.push(await this.#sign(stream, head));
    }
    if (signed.length) {
      await this.#store.transaction(async (tx) => {
        const current = ((await tx.getSetting(CHECKPOINTS_SETTING)) as Record<string, StoredCheckpoint> | undefined) ?? {};
        await tx.putSetting(CHECKPOINTS_SETTING, { ...current, ...Object.fromEntries(signed.map((c) => [c.stream, c])) });
      });
    }
    return signed;
  }

  /** Records of one stream with time in [from, to], under a fresh checkpoint of the last one: verifies offline with the trust bundle. */
  async export(stream: string, from: string | undefined, to: string | undefined): Promise<AuditExcerpt & { stream: string }> {
    const records: AuditRecord[] = [];
    let before: AuditRecord | undefined;
    let after = 0;
    for (;;) {
      const page = await this.#since(stream, after, PAGE);
      for (const record of page) {
        if (from && record.time < from) {
          before = record;
          continue;
        }
        if (to && record.time > to) break;
        records.push(record);
        if (records.length > MAX_EXPORT) throw new InterlockError('IL_ERR_REQUEST_INVALID', `more than ${MAX_EXPORT} records in that range; narrow it with from/to`, { field: 'query.from' });
      }
      if (page.length < PAGE || (to && page.at(-1)!.time > to)) break;
      after = page.at(-1)!.seq;
    }
    const last = records.at(-1);
    if (!last) throw new InterlockError('IL_ERR_NOT_FOUND', `no records of ${stream} in that range`, { field: 'query.from' });
    const checkpoint = await this.#sign(stream, last);
    return { stream, after: before ? { seq: before.seq, hash: before.hash } : null, records, checkpoint: checkpoint.jws };
  }

  /** Records matching every given filter, oldest first; scans at most MAX_SCAN records per stream. */
  async query(q: AuditQuery): Promise<Array<AuditRecord & { stream: string }>> {
    const limit = q.limit ?? 100;
    const streams = q.stream ? [q.stream] : (await this.streams()).map((s) => s.stream);
    const found: Array<AuditRecord & { stream: string }> = [];
    for (const stream of streams) {
      let after = 0;
      let scanned = 0;
      while (scanned < MAX_SCAN && found.length < limit) {
        const page = await this.#since(stream, after, PAGE);
        for (const record of page) if (matches(record, q)) found.push({ ...record, stream });
        scanned += page.length;
        if (page.length < PAGE) break;
        after = page.at(-1)!.seq;
      }
    }
    return found.sort((a, b) => a.time.localeCompare(b.time)).slice(0, limit);
  }
}

function matches(record: AuditRecord, q: AuditQuery): boolean {
  const data = record.data as Record<string, unknown>;
  if (q.since && record.time < q.since) return false;
  if (q.until && record.time > q.until) return false;
  if (q.type && record.type !== q.type) return false;
  if (q.traceId && data.traceId !== q.traceId) return false;
  if (q.decision && data.decision !== q.decision && data.outcome !== q.decision) return false;
  if (q.principal && data.principal !== q.principal && record.actor !== q.principal) return false;
  if (q.resource && data.resource !== q.resource && data.target !== q.resource) return false;
  return true;
}

/** The job that signs checkpoints at the jobs interval, on one replica at a time. */
export function auditCheckpointJob(audit: AuditService): Job {
  return { name: 'audit-checkpoint', run: async () => void (await audit.checkpointAll()) };
}
