import { randomUUID } from 'node:crypto';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { parseWorkloadSpiffeId } from '../identity/spiffe-id.ts';
import { CHECKPOINT_TOKEN_TYPE, type AuditExcerpt, type Checkpoint } from '../audit/checkpoint.ts';
import type { Store } from '../store/types.ts';
import { revokeSvids } from './revoke.ts';
import type { CaRotation } from './ca-rotation.ts';
import type { ControlPlaneSigner } from './signer.ts';
import { ISOLATED_SETTING } from './trust.ts';

/**
 * Compromise remediation: one call (`interlock incident compromise`, or a
 * detector) revokes the credentials in scope, rotates the keys behind them
 * (a compromised cluster's intermediate CA is replaced and withdrawn at
 * once), optionally cuts the cluster's links, asks healthy holders to
 * re-attest for fresh identities, and records every step, so the evidence
 * bundle (timeline, decisions, and the audit excerpt under a signed
 * checkpoint) proves what was done and when.
 */
export interface IncidentScope {
  readonly spiffeId?: string;
  readonly cluster?: string;
}

export interface IncidentStep {
  readonly at: string;
  readonly step: 'opened' | 'revoked' | 'ca-rotated' | 'isolated' | 'reissue-requested' | 'remediated' | 'resolved';
  readonly detail: Record<string, unknown>;
}

export interface IncidentRecord {
  readonly id: string;
  readonly scope: IncidentScope;
  readonly reason: string;
  /** 'manual' or 'detector:<name>'. */
  readonly trigger: string;
  readonly isolate: boolean;
  readonly openedBy: string;
  readonly status: 'open' | 'resolved';
  readonly timeline: readonly IncidentStep[];
  /** First audit record of the evidence excerpt (a little before the incident opened, for context). */
  readonly auditFrom: number;
}

export interface EvidenceBundle {
  readonly v: 1;
  readonly kind: 'interlock.evidence';
  readonly generatedAt: string;
  readonly incident: IncidentRecord;
  readonly audit: AuditExcerpt;
}

const SETTING = 'incidents';
/** Records before the incident included in its evidence, so what led to it (detector signals, the first denials) is there too. */
const CONTEXT_RECORDS = 50;
const MAX_EXCERPT = 20_000;

export class IncidentService {
  readonly #store: Store;
  readonly #rotations: CaRotation;
  readonly #signer: ControlPlaneSigner;
  readonly #clock: Clock;

  constructor(store: Store, rotations: CaRotation, auditSigner: ControlPlaneSigner, clock: Clock) {
    this.#store = store;
    this.#rotations = rotations;
    this.#signer = auditSigner;
    this.#clock = clock;
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  async list(): Promise<IncidentRecord[]> {
    return Object.values(((await this.#store.getSetting(SETTING)) as Record<string, IncidentRecord> | undefined) ?? {}).sort((a, b) => a.timeline[0]!.at.localeCompare(b.timeline[0]!.at));
  }

  async get(id: string): Promise<IncidentRecord> {
    const record = ((await this.#store.getSetting(SETTING)) as Record<string, IncidentRecord> | undefined)?.[id];
    if (!record) throw new InterlockError('IL_ERR_INCIDENT_UNKNOWN', `no incident ${id}`, { field: 'id' });
    return record;
  }

  /** An open incident for exactly this scope, if any: detectors do not open a second one for the same thing. */
  async openFor(scope: IncidentScope): Promise<IncidentRecord | undefined> {
    return (await this.list()).find((i) => i.status === 'open' && i.scope.cluster === scope.cluster && i.scope.spiffeId === scope.spiffeId);
  }

  async isolatedClusters(): Promise<string[]> {
    return ((await this.#store.getSetting(ISOLATED_SETTING)) as string[] | undefined) ?? [];
  }

  async #save(record: IncidentRecord): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const all = ((await tx.getSetting(SETTING)) as Record<string, IncidentRecord> | undefined) ?? {};
      await tx.putSetting(SETTING, { ...all, [record.id]: record });
    });
  }

  async #checkScope(scope: IncidentScope): Promise<void> {
    if (Boolean(scope.spiffeId) === Boolean(scope.cluster)) throw new InterlockError('IL_ERR_REQUEST_INVALID', 'give exactly one of spiffeId or cluster', { field: 'body.spiffeId' });
    if (scope.cluster && !(await this.#store.getCluster(scope.cluster))) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${scope.cluster}`, { field: 'cluster' });
    if (scope.spiffeId) parseWorkloadSpiffeId(scope.spiffeId, 'spiffeId');
  }

  async compromise(input: { scope: IncidentScope; reason: string; isolate?: boolean; trigger?: string }, actor: string): Promise<IncidentRecord> {
    await this.#checkScope(input.scope);
    if (input.isolate && !input.scope.cluster) throw new InterlockError('IL_ERR_REQUEST_INVALID', 'isolate applies to a cluster', { field: 'body.isolate' });
    const id = randomUUID();
    const step = (name: IncidentStep['step'], detail: Record<string, unknown>): IncidentStep => ({ at: this.#now(), step: name, detail });
    const opened = await this.#store.appendAudit(
      { type: 'incident.opened', actor, data: { incident: id, scope: { ...input.scope }, reason: input.reason, trigger: input.trigger ?? 'manual', isolate: input.isolate === true } },
      this.#now(),
    );
    const timeline: IncidentStep[] = [step('opened', { scope: { ...input.scope }, reason: input.reason, trigger: input.trigger ?? 'manual' })];
    let record: IncidentRecord = {
      id,
      scope: input.scope,
      reason: input.reason,
      trigger: input.trigger ?? 'manual',
      isolate: input.isolate === true,
      openedBy: actor,
      status: 'open',
      timeline,
      auditFrom: Math.max(1, opened.seq - CONTEXT_RECORDS),
    };
    await this.#save(record);

    // 1. A compromised cluster's CA key is compromised too: replace it and withdraw the old one now, no staging.
    //    First, so holders that re-attest as soon as they hear of their revocation get SVIDs from the new CA.
    if (input.scope.cluster) {
      const rotated = await this.#rotations.emergency(input.scope.cluster, actor, id);
      timeline.push(step('ca-rotated', rotated));
    }

    // 2. Revoke every credential in scope: pushed to every gateway at once.
    const at = this.#now();
    const revoked = await this.#store.transaction(async (tx) => {
      const matching = await tx.listSvids({ ...(input.scope.spiffeId ? { spiffeId: input.scope.spiffeId } : { cluster: input.scope.cluster! }), validAt: at, revoked: false, limit: 1_000_000 });
      return revokeSvids(tx, matching, `compromise (incident ${id}): ${input.reason}`, actor, at);
    });
    timeline.push(step('revoked', { count: revoked.length, serials: revoked }));

    // 3. Cut the cluster's links until the incident is resolved.
    if (input.isolate) {
      await this.#setIsolation(input.scope.cluster!, true, actor, id);
      timeline.push(step('isolated', { cluster: input.scope.cluster }));
    }

    // 4. Healthy holders re-attest (their platform credential, e.g. the service-account token, is not what leaked) and get fresh keys and SVIDs.
    await this.#store.transaction(async (tx) => {
      await tx.appendEvent('identity.reissue', { incident: id, ...input.scope }, this.#now());
      await tx.appendAudit({ type: 'incident.reissue-requested', actor, data: { incident: id, ...input.scope } }, this.#now());
    });
    timeline.push(step('reissue-requested', { ...input.scope }));

    timeline.push(step('remediated', { revoked: revoked.length }));
    await this.#store.appendAudit({ type: 'incident.remediated', actor, data: { incident: id, revoked: revoked.length, steps: timeline.map((t) => t.step) } }, this.#now());
    record = { ...record, timeline };
    await this.#save(record);
    return record;
  }

  async resolve(id: string, actor: string, note: string): Promise<IncidentRecord> {
    const record = await this.get(id);
    if (record.status === 'resolved') return record;
    if (record.isolate && record.scope.cluster) await this.#setIsolation(record.scope.cluster, false, actor, id);
    await this.#store.appendAudit({ type: 'incident.resolved', actor, data: { incident: id, note } }, this.#now());
    const resolved: IncidentRecord = { ...record, status: 'resolved', timeline: [...record.timeline, { at: this.#now(), step: 'resolved', detail: { by: actor, note } }] };
    await this.#save(resolved);
    return resolved;
  }

  async #setIsolation(cluster: string, isolated: boolean, actor: string, incident: string): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const current = ((await tx.getSetting(ISOLATED_SETTING)) as string[] | undefined) ?? [];
      const next = isolated ? [...new Set([...current, cluster])] : current.filter((c) => c !== cluster);
      await tx.putSetting(ISOLATED_SETTING, next);
      await tx.appendAudit({ type: isolated ? 'cluster.isolated' : 'cluster.reconnected', actor, data: { cluster, incident } }, this.#now());
      await tx.appendEvent('trust.changed', { reason: isolated ? 'cluster isolated' : 'cluster reconnected', cluster }, this.#now());
    });
  }

  /** The evidence bundle: the incident, and the audit chain from just before it to now under a fresh signed checkpoint. */
  async evidence(id: string): Promise<EvidenceBundle> {
    const incident = await this.get(id);
    const [before] = incident.auditFrom > 1 ? await this.#store.auditSince(incident.auditFrom - 2, 1) : [];
    const records = await this.#store.auditSince(incident.auditFrom - 1, MAX_EXCERPT);
    const head = records[records.length - 1]!;
    const checkpoint: Checkpoint = { v: 1, seq: head.seq, hash: head.hash, at: this.#now() };
    return {
      v: 1,
      kind: 'interlock.evidence',
      generatedAt: this.#now(),
      incident,
      audit: { after: before ? { seq: before.seq, hash: before.hash } : null, records, checkpoint: await this.#signer.sign(checkpoint, CHECKPOINT_TOKEN_TYPE) },
    };
  }
}
