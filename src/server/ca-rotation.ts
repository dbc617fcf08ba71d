import { randomUUID } from 'node:crypto';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { AuthorityRow, Store, StoreOps } from '../store/types.ts';
import type { CaService } from './ca-service.ts';
import { gatewayTrustReports } from './trust.ts';
import { normalizeSerial } from '../pki/serial.ts';

/**
 * Staged CA rotation, for one cluster's intermediate or for the root:
 *
 *   publish   the new CA is stored 'published': trusted everywhere, signs nothing
 *   switch    once every live gateway reports it holds the new CA, the new
 *             CA signs and the old one is kept 'published' (trusted, not signing)
 *   withdraw  once no valid SVID from the old CA is left, the old CA is retired
 *             and gateways refuse anything it signed
 *
 * Each step is checked before it runs; the state lives in the store, so any
 * replica (and any later `interlock ca rotate`) resumes where it stopped.
 * Until the withdraw, `revert` walks back one step: after a switch the old CA
 * signs again; before it, the new CA is dropped (once nothing it signed is
 * still valid). A root rotation renews every cluster's intermediate under
 * the new root in the same steps.
 */
export type RotationStep = 'published' | 'switched' | 'withdrawn' | 'aborted';

export interface RotationPair {
  /** null for the root itself. */
  readonly cluster: string | null;
  readonly previous: string;
  readonly next: string;
}

export interface RotationRecord {
  readonly id: string;
  /** 'root', or the cluster name. */
  readonly target: string;
  readonly scope: 'root' | 'cluster';
  readonly step: RotationStep;
  readonly pairs: readonly RotationPair[];
  readonly history: ReadonlyArray<{ readonly step: RotationStep | 'reverted'; readonly at: string; readonly actor: string }>;
}

export interface RotationReadiness {
  readonly record: RotationRecord | null;
  /** The step `advance` would take next, or null when the rotation is over. */
  readonly nextStep: 'switch' | 'withdraw' | null;
  readonly ready: boolean;
  readonly waitingFor: string | null;
  readonly gateways: ReadonlyArray<{ gateway: string; cluster: string; confirmed: boolean; reportedAt: string | null }>;
  /** Valid, unrevoked SVIDs still signed by the CAs the next step would withdraw or drop. */
  readonly remaining: { readonly count: number; readonly latestNotAfter: string | null };
}

const SETTING = 'ca-rotations';
const ROOT = 'root';
const IN_PROGRESS: readonly RotationStep[] = ['published', 'switched'];

type Records = Record<string, RotationRecord>;

export interface RotationHooks {
  /** The root that signs changed: re-sign what hangs off the root (the policy signer). */
  onRootSigning?(): Promise<void>;
  /** Trust changed: this replica refreshes its TLS verifier at once instead of at the next event poll. */
  onTrustChanged?(): Promise<void>;
}

export class CaRotation {
  readonly #store: Store;
  readonly #ca: CaService;
  readonly #clock: Clock;
  readonly #hooks: RotationHooks;

  constructor(store: Store, ca: CaService, clock: Clock, hooks: RotationHooks = {}) {
    this.#store = store;
    this.#ca = ca;
    this.#clock = clock;
    this.#hooks = hooks;
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  async #records(ops: StoreOps = this.#store): Promise<Records> {
    return ((await ops.getSetting(SETTING)) as Records | undefined) ?? {};
  }

  async get(target: string): Promise<RotationRecord | null> {
    return (await this.#records())[target] ?? null;
  }

  /** One rotation step at a time across replicas; a second caller is told to retry. */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const outcome = await this.#store.runExclusive('ca-rotation', fn);
    if (!outcome.ran) throw new InterlockError('IL_ERR_ROTATION_IN_PROGRESS', 'another rotation step is running right now; retry in a moment', { field: 'target' });
    return outcome.result;
  }

  async #save(tx: StoreOps, record: RotationRecord): Promise<void> {
    await tx.putSetting(SETTING, { ...(await this.#records(tx)), [record.target]: record });
  }

  /** Step 1: create and publish the new CA(s). */
  begin(target: string, actor: string): Promise<RotationRecord> {
    return this.#exclusive(async () => {
      const records = await this.#records();
      const running = Object.values(records).filter((r) => IN_PROGRESS.includes(r.step));
      const clash = running.find((r) => r.target === target || r.scope === 'root' || target === ROOT);
      if (clash) {
        throw new InterlockError('IL_ERR_ROTATION_IN_PROGRESS', `the ${describe(clash)} rotation is at step ${clash.step}; finish or revert it first`, {
          field: 'target',
          hint: clash.target === target ? 'run the same command again to resume it' : `interlock ca ${clash.scope === 'root' ? 'rotate-root' : `rotate --cluster ${clash.target}`}`,
        });
      }
      const { pairs, rows } = target === ROOT ? await this.#newRoot() : await this.#newIntermediate(target);
      const at = this.#now();
      const record: RotationRecord = { id: randomUUID(), target, scope: target === ROOT ? 'root' : 'cluster', step: 'published', pairs, history: [{ step: 'published', at, actor }] };
      await this.#store.transaction(async (tx) => {
        for (const row of rows) await tx.putAuthority(row);
        await this.#save(tx, record);
        await tx.appendAudit({ type: 'ca.rotation.published', actor, data: { rotation: record.id, target, pairs: [...pairs] } }, at);
        await tx.appendEvent('trust.changed', { reason: 'ca published', target, rotation: record.id }, at);
      });
      await this.#hooks.onTrustChanged?.();
      return record;
    });
  }

  async #newIntermediate(cluster: string): Promise<{ pairs: RotationPair[]; rows: AuthorityRow[] }> {
    const current = await this.#ca.clusterCa(cluster);
    const info = (await this.#store.getCluster(cluster))!;
    const row = await this.#ca.newClusterAuthority(info, await this.#ca.root());
    return { pairs: [{ cluster, previous: current.cert.serialNumber, next: row.serial }], rows: [row] };
  }

  async #newRoot(): Promise<{ pairs: RotationPair[]; rows: AuthorityRow[] }> {
    const oldRoot = await this.#ca.root();
    const rootRow = await this.#ca.newRootAuthority();
    const newRoot = await this.#ca.materialOf(rootRow);
    const pairs: RotationPair[] = [{ cluster: null, previous: oldRoot.cert.serialNumber, next: rootRow.serial }];
    const rows: AuthorityRow[] = [rootRow];
    for (const cluster of await this.#store.listClusters()) {
      const current = await this.#ca.clusterCa(cluster.name);
      const row = await this.#ca.newClusterAuthority(cluster, newRoot);
      pairs.push({ cluster: cluster.name, previous: current.cert.serialNumber, next: row.serial });
      rows.push(row);
    }
    return { pairs, rows };
  }

  /** Where a rotation stands and whether its next step may run now. */
  async readiness(target: string): Promise<RotationReadiness> {
    const record = await this.get(target);
    const none = { record, nextStep: null, ready: false, waitingFor: null, gateways: [], remaining: { count: 0, latestNotAfter: null } } as const;
    if (!record || !IN_PROGRESS.includes(record.step)) return none;
    const now = this.#clock.now();
    const reports = await gatewayTrustReports(this.#store, now);
    const nextSerials = record.pairs.map((p) => normalizeSerial(p.next));
    const gateways = reports.map(({ gateway, cluster, report }) => {
      const held = new Set((report?.serials ?? []).map(normalizeSerial));
      return { gateway, cluster, confirmed: nextSerials.every((s) => held.has(s)), reportedAt: report?.reportedAt ?? null };
    });
    if (record.step === 'published') {
      const missing = gateways.filter((g) => !g.confirmed);
      // A new root must also reach every workload before anything is signed under it (a workload
      // verifies its gateway with its own bundle). Workloads receive the bundle with each SVID, so
      // the check is that every identity holding a valid SVID has renewed since the publish.
      const stale = record.scope === 'root' ? await this.#identitiesNotRenewedSince(record.history[0]!.at, now) : [];
      const waiting = [
        ...(missing.length ? [`${missing.length} of ${gateways.length} gateways have not confirmed the new CA: ${missing.map((g) => g.gateway).join(', ')}`] : []),
        ...(stale.length ? [`${stale.length} identities have not renewed since the new root was published (so do not hold it yet): ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''}`] : []),
      ];
      return { record, nextStep: 'switch', ready: waiting.length === 0, waitingFor: waiting.join('; ') || null, gateways, remaining: { count: stale.length, latestNotAfter: null } };
    }
    const remaining = await this.#validSvidsSignedBy(record.pairs.filter((p) => p.cluster !== null).map((p) => p.previous), now);
    return {
      record,
      nextStep: 'withdraw',
      ready: remaining.count === 0,
      waitingFor: remaining.count ? `${remaining.count} SVIDs from the old CA are still valid (the last expires at ${remaining.latestNotAfter})` : null,
      gateways,
      remaining,
    };
  }

  async #identitiesNotRenewedSince(since: string, now: Date): Promise<string[]> {
    const latest = new Map<string, string>();
    for (const svid of await this.#store.listSvids({ validAt: now.toISOString(), revoked: false, limit: 1_000_000 })) {
      const seen = latest.get(svid.spiffeId);
      if (!seen || svid.issuedAt > seen) latest.set(svid.spiffeId, svid.issuedAt);
    }
    return [...latest].filter(([, issuedAt]) => issuedAt < since).map(([id]) => id);
  }

  async #validSvidsSignedBy(issuers: readonly string[], now: Date, ops: StoreOps = this.#store): Promise<{ count: number; latestNotAfter: string | null }> {
    const wanted = new Set(issuers);
    let count = 0;
    let latest: string | null = null;
    for (const svid of await ops.listSvids({ validAt: now.toISOString(), revoked: false, limit: 1_000_000 })) {
      if (!wanted.has(svid.issuerSerial)) continue;
      count++;
      if (!latest || svid.notAfter > latest) latest = svid.notAfter;
    }
    return { count, latestNotAfter: latest };
  }

  /** Runs the next step if its check passes; `expect` guards against two operators driving one rotation. */
  advance(target: string, expect: RotationStep, actor: string): Promise<RotationRecord> {
    return this.#exclusive(async () => {
      const state = await this.readiness(target);
      const record = this.#expectStep(target, state.record, expect);
      if (!state.ready) throw new InterlockError('IL_ERR_ROTATION_NOT_READY', `cannot ${state.nextStep} yet: ${state.waitingFor}`, { field: 'target', hint: 'run the command again later; it resumes here' });
      const at = this.#now();
      const next: RotationRecord = { ...record, step: record.step === 'published' ? 'switched' : 'withdrawn', history: [...record.history, { step: record.step === 'published' ? 'switched' : 'withdrawn', at, actor }] };
      await this.#store.transaction(async (tx) => {
        if (record.step === 'published') await this.#switchSigning(tx, record.pairs, 'forward', at);
        else for (const pair of record.pairs) await tx.setAuthorityStatus(pair.previous, 'retired');
        await this.#save(tx, next);
        await tx.appendAudit({ type: `ca.rotation.${next.step}`, actor, data: { rotation: record.id, target, pairs: [...record.pairs] } }, at);
        await tx.appendEvent('trust.changed', { reason: `ca ${next.step}`, target, rotation: record.id }, at);
      });
      if (record.step === 'published' && record.scope === 'root') await this.#hooks.onRootSigning?.();
      await this.#hooks.onTrustChanged?.();
      return next;
    });
  }

  /** One step back: switched → published (the old CA signs again), published → aborted (the new CA is dropped). */
  revert(target: string, expect: RotationStep, actor: string): Promise<RotationRecord> {
    return this.#exclusive(async () => {
      const record = this.#expectStep(target, await this.get(target), expect);
      const at = this.#now();
      if (record.step === 'published') {
        const left = await this.#validSvidsSignedBy(record.pairs.filter((p) => p.cluster !== null).map((p) => p.next), this.#clock.now());
        if (left.count > 0) {
          throw new InterlockError('IL_ERR_ROTATION_NOT_READY', `cannot drop the new CA yet: ${left.count} SVIDs it signed are still valid (the last expires at ${left.latestNotAfter})`, { field: 'target' });
        }
      }
      const step: RotationStep = record.step === 'switched' ? 'published' : 'aborted';
      const next: RotationRecord = { ...record, step, history: [...record.history, { step: 'reverted', at, actor }] };
      await this.#store.transaction(async (tx) => {
        if (record.step === 'switched') await this.#switchSigning(tx, record.pairs, 'back', at);
        else for (const pair of record.pairs) await tx.setAuthorityStatus(pair.next, 'retired');
        await this.#save(tx, next);
        await tx.appendAudit({ type: 'ca.rotation.reverted', actor, data: { rotation: record.id, target, from: record.step, to: step } }, at);
        await tx.appendEvent('trust.changed', { reason: `ca rotation reverted to ${step}`, target, rotation: record.id }, at);
      });
      if (record.step === 'switched' && record.scope === 'root') await this.#hooks.onRootSigning?.();
      await this.#hooks.onTrustChanged?.();
      return next;
    });
  }

  /**
   * After a compromise there is no staging: a new intermediate signs at once
   * and every other CA of the cluster is withdrawn in the same transaction,
   * so gateways refuse whatever the old key signed (or could still sign).
   * A staged rotation of that cluster in progress is aborted.
   */
  emergency(cluster: string, actor: string, incident: string): Promise<{ cluster: string; withdrawn: string[]; current: string }> {
    return this.#exclusive(async () => {
      const info = await this.#store.getCluster(cluster);
      if (!info) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${cluster}`, { field: 'cluster' });
      const row = { ...(await this.#ca.newClusterAuthority(info, await this.#ca.root())), status: 'active' as const };
      const at = this.#now();
      const withdrawn = await this.#store.transaction(async (tx) => {
        const old = (await tx.listAuthorities({ kind: 'cluster', cluster })).filter((r) => r.status !== 'retired');
        for (const authority of old) await tx.setAuthorityStatus(authority.serial, 'retired');
        await tx.putAuthority(row);
        const running = (await this.#records(tx))[cluster];
        if (running && IN_PROGRESS.includes(running.step)) await this.#save(tx, { ...running, step: 'aborted', history: [...running.history, { step: 'aborted', at, actor }] });
        await tx.appendAudit({ type: 'ca.emergency-rotated', actor, data: { cluster, incident, withdrawn: old.map((r) => r.serial), current: row.serial } }, at);
        await tx.appendEvent('ca.rotated', { cluster, previous: old.find((r) => r.status === 'active')?.serial ?? null, current: row.serial, emergency: true }, at);
        await tx.appendEvent('trust.changed', { reason: 'ca withdrawn after compromise', target: cluster }, at);
        return old.map((r) => r.serial);
      });
      await this.#hooks.onTrustChanged?.();
      return { cluster, withdrawn, current: row.serial };
    });
  }

  #expectStep(target: string, record: RotationRecord | null, expect: RotationStep): RotationRecord {
    if (!record || !IN_PROGRESS.includes(record.step)) {
      throw new InterlockError('IL_ERR_ROTATION_STATE', `no rotation of ${target === ROOT ? 'the root' : target} is in progress${record ? ` (the last one ended ${record.step})` : ''}`, { field: 'target' });
    }
    if (record.step !== expect) {
      throw new InterlockError('IL_ERR_ROTATION_STATE', `the rotation is at step ${record.step}, not ${expect}: someone else moved it`, { field: 'expect', hint: 'check with --status and run again' });
    }
    return record;
  }

  /** Which CA of each pair signs: the new one (forward) or the old one again (back). Gateways of each cluster renew on `ca.rotated`. */
  async #switchSigning(tx: StoreOps, pairs: readonly RotationPair[], direction: 'forward' | 'back', at: string): Promise<void> {
    for (const pair of pairs) {
      const [signing, resting] = direction === 'forward' ? [pair.next, pair.previous] : [pair.previous, pair.next];
      await tx.setAuthorityStatus(resting, 'published');
      await tx.setAuthorityStatus(signing, 'active');
      if (pair.cluster) await tx.appendEvent('ca.rotated', { cluster: pair.cluster, previous: resting, current: signing }, at);
    }
  }
}

function describe(record: RotationRecord): string {
  return record.scope === 'root' ? 'root CA' : `${record.target} intermediate CA`;
}
