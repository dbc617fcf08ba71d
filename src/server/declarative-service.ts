/**
 * Declarative configuration on the control plane: plan (desired state →
 * changes, nothing written), apply (those changes in ONE store transaction,
 * all or nothing, with a stored revision and a `config.applied` audit
 * record), and rollback (a revision's stored document applied again).
 *
 * Apply refuses to act on a plan the caller did not see: the plan names the
 * revision and a digest of the state it was computed against, and both are
 * checked again inside the transaction (IL_ERR_DECLARATIVE_CONFLICT).
 * Registry changes go through registry-service.ts, so they revoke, re-issue
 * and audit exactly as the imperative API does; checks that need the store
 * (an entry's cluster exists, its SPIFFE ID is in that trust domain) run
 * there, inside the transaction, so a failure undoes every earlier change.
 */
import { InterlockError } from '../errors.ts';
import { digestOf } from '../declarative/digest.ts';
import { planChanges } from '../declarative/diff.ts';
import { checkDesiredState, documentRef, policyText } from '../declarative/normalise.ts';
import { observedState } from '../declarative/observe.ts';
import { countChanges } from '../declarative/render.ts';
import { appliesSomething, type Change, type DesiredState, type ObservedState, type Plan, type PlanBase } from '../declarative/types.ts';
import { parsePolicies } from '../policy/pdp.ts';
import type { AdminRow, ConfigRevisionRow, ConfigRevisionSummary, StoreOps } from '../store/types.ts';
import type { ServerDeps } from './app.ts';
import { changeAdmin, changeEntry, configureClusterK8s, createAdmin, createEntry, deleteEntry, prepareCluster, storeCluster, type PreparedCluster } from './registry-service.ts';

export interface DeclarativeCaller {
  /** As recorded in audit records, e.g. admin:alice. */
  readonly actor: string;
  readonly admin?: AdminRow;
}

export interface ApplyOptions {
  /** What the caller's plan was computed against. */
  readonly base: PlanBase;
  readonly prune: boolean;
}

export interface ApplyResult {
  /** Null when there was nothing to apply (no revision is recorded then). */
  readonly revision: ConfigRevisionSummary | null;
  readonly plan: Plan;
  /** Admins created, with their tokens: shown once, never stored. */
  readonly admins: ReadonlyArray<{ name: string; token: string }>;
}

interface Snapshot {
  readonly observed: ObservedState;
  readonly base: PlanBase;
}

type Deps = Pick<ServerDeps, 'store' | 'ca' | 'rotations' | 'clock'>;

export class DeclarativeService {
  readonly #deps: Deps;

  constructor(deps: Deps) {
    this.#deps = deps;
  }

  async plan(raw: unknown, options: { prune: boolean; caller: DeclarativeCaller }): Promise<Plan> {
    const desired = checkDesiredState(raw);
    return this.#plan(desired, await this.#observe(this.#deps.store, await this.#organizationDomain()), options.prune, options.caller);
  }

  async apply(raw: unknown, options: ApplyOptions, caller: DeclarativeCaller): Promise<ApplyResult> {
    return this.#apply(checkDesiredState(raw), options, caller, null);
  }

  /** Applies revision `revision`'s document again, as a new revision. */
  async rollback(revision: number, options: ApplyOptions, caller: DeclarativeCaller): Promise<ApplyResult> {
    const row = await this.revision(revision);
    return this.#apply(checkDesiredState(row.document), options, caller, row.revision);
  }

  revisions(): Promise<ConfigRevisionSummary[]> {
    return this.#deps.store.listConfigRevisions();
  }

  async revision(revision: number): Promise<ConfigRevisionRow> {
    const row = await this.#deps.store.getConfigRevision(revision);
    if (!row) throw new InterlockError('IL_ERR_NOT_FOUND', `no configuration revision ${revision}`, { field: 'revision', hint: 'interlock config revisions lists them' });
    return row;
  }

  async #organizationDomain(): Promise<string> {
    const org = await this.#deps.ca.org();
    if (!org) throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', 'the control plane has no root CA yet', { field: 'store' });
    return org.domain;
  }

  /** Reads through `ops`, so inside the transaction it sees exactly what the transaction will change. */
  async #observe(ops: StoreOps, organizationDomain: string): Promise<Snapshot> {
    const policies = await ops.listPolicyVersions();
    const observed = observedState({
      organizationDomain,
      clusters: await ops.listClusters(),
      entries: await ops.listEntries(),
      services: await ops.listServices(),
      admins: await ops.listAdmins(),
      latestPolicy: policies.at(-1),
    });
    return { observed, base: { revision: await ops.latestConfigRevision(), stateDigest: digestOf(observed) } };
  }

  #plan(desired: DesiredState, snapshot: Snapshot, prune: boolean, caller: DeclarativeCaller): Plan {
    const { changes, notes } = planChanges(desired, snapshot.observed, { prune, ...(caller.admin ? { self: caller.admin.name } : {}) });
    return { changes, notes, desiredDigest: digestOf(desired), base: snapshot.base };
  }

  async #apply(desired: DesiredState, options: ApplyOptions, caller: DeclarativeCaller, rollbackOf: number | null): Promise<ApplyResult> {
    const { store, clock } = this.#deps;
    const domain = await this.#organizationDomain();
    const snapshot = await this.#observe(store, domain);
    assertSameBase(options.base, snapshot.base);
    const plan = this.#plan(desired, snapshot, options.prune, caller);
    if (plan.changes.some((c) => c.action === 'propose') && !caller.admin?.roles.includes('policy-author')) {
      throw new InterlockError('IL_ERR_ROLE_FORBIDDEN', 'the files change the policy, and proposing a policy version needs the policy-author role as well as operator', { field: 'Policy' });
    }
    if (!appliesSomething(plan)) return { revision: null, plan, admins: [] };

    // Slow work first (store/types.ts): the new clusters' CA keys, and the policy's compilation.
    const prepared = new Map<string, PreparedCluster>();
    for (const change of plan.changes.filter((c) => c.kind === 'Cluster' && c.action === 'create')) {
      const want = desired.clusters.find((c) => c.name === change.key)!;
      const input = { name: want.name, ...(want.trustDomain ? { trustDomain: want.trustDomain } : {}), ...(want.k8s ? { k8s: { jwks: JSON.stringify(want.k8s.jwks), issuer: want.k8s.issuer } } : {}) };
      prepared.set(want.name, await inObject(change, () => prepareCluster(this.#deps.ca, this.#deps.rotations, input, caller.actor)));
    }
    const text = policyText(desired.policies);
    const compiled = text === null ? undefined : parsePolicies(text, 'the Policy documents');

    return store.transaction(async (tx) => {
      const at = clock.now().toISOString();
      // The revision row first: numbering it takes the store's sequence lock (sql/series.ts), held
      // to commit, so a concurrent apply on any replica waits here and then reads what that one
      // committed (PostgreSQL READ COMMITTED takes a fresh snapshot per statement): one of two
      // applies planned against the same base always finds it moved.
      const row = await tx.insertConfigRevision({ digest: plan.desiredDigest, document: desired, action: rollbackOf === null ? 'apply' : 'rollback', sourceRevision: rollbackOf, actor: caller.actor, createdAt: at });
      const again = await this.#observe(tx, domain);
      assertSameBase(snapshot.base, { revision: row.revision - 1, stateDigest: again.base.stateDigest });
      const context: ExecutionContext = { tx, desired, observed: again.observed, prepared, actor: caller.actor, self: caller.admin?.name, at, admins: [], policy: compiled && text !== null ? { text, digest: compiled.digest, ids: compiled.policies.map((p) => p.id) } : undefined, configDigest: plan.desiredDigest };
      for (const change of plan.changes) await inObject(change, () => execute(change, context));
      await tx.appendAudit({
        type: rollbackOf === null ? 'config.applied' : 'config.rolled-back',
        actor: caller.actor,
        data: { revision: row.revision, digest: row.digest, ...(rollbackOf === null ? {} : { sourceRevision: rollbackOf }), baseRevision: snapshot.base.revision, prune: options.prune, changes: countChanges(plan.changes) },
      }, at);
      const { document: _document, ...summary } = row;
      return { revision: summary, plan, admins: context.admins };
    });
  }
}

function assertSameBase(planned: PlanBase, now: PlanBase): void {
  if (planned.revision === now.revision && planned.stateDigest === now.stateDigest) return;
  const what = planned.revision !== now.revision ? `configuration revision ${now.revision} was applied after the plan (made against revision ${planned.revision})` : 'the registry changed after the plan was made';
  throw new InterlockError('IL_ERR_DECLARATIVE_CONFLICT', `${what}; nothing was applied`, { field: 'base', hint: 'run interlock apply again: it plans afresh and shows what would change now' });
}

interface ExecutionContext {
  readonly tx: StoreOps;
  readonly desired: DesiredState;
  readonly observed: ObservedState;
  readonly prepared: ReadonlyMap<string, PreparedCluster>;
  readonly actor: string;
  readonly self: string | undefined;
  readonly at: string;
  readonly admins: Array<{ name: string; token: string }>;
  readonly policy: { text: string; digest: string; ids: string[] } | undefined;
  readonly configDigest: string;
}

/** Runs `fn` for one object; an error is re-raised naming that object (and its document, for the CLI to find the file). */
async function inObject<T>(change: Change, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof InterlockError)) throw error;
    // Entries and services are named within their cluster: "<cluster>/<name>" (an entry's key is "<cluster>/<spiffe id>").
    const named = change.document ?? change.key;
    const slash = change.kind === 'Entry' || change.kind === 'Service' ? named.indexOf('/') : -1;
    const ref = slash < 0 ? documentRef(change.kind, named) : documentRef(change.kind, named.slice(slash + 1), named.slice(0, slash));
    throw new InterlockError(error.code, `${ref}: ${error.message}; nothing was applied`, { field: `${ref} spec.${error.field ?? change.kind.toLowerCase()}`, ...(error.hint ? { hint: error.hint } : {}), cause: error });
  }
}

async function execute(change: Change, c: ExecutionContext): Promise<void> {
  const { tx, actor, at } = c;
  switch (change.kind) {
    case 'Cluster': {
      if (change.action === 'create') return storeCluster(tx, c.prepared.get(change.key)!, actor, at);
      if (change.action !== 'update') return;
      const k8s = c.desired.clusters.find((x) => x.name === change.key)!.k8s;
      await configureClusterK8s(tx, change.key, k8s ? { jwks: JSON.stringify(k8s.jwks), issuer: k8s.issuer } : null, actor, at);
      return;
    }
    case 'Entry': {
      const want = c.desired.entries.find((e) => `${e.cluster}/${e.spiffeId}` === change.key);
      const have = c.observed.entries.find((e) => `${e.cluster}/${e.spiffeId}` === change.key);
      if (change.action === 'delete' || change.action === 'replace') await deleteEntry(tx, have!.id, actor, at);
      if (change.action === 'create' || change.action === 'replace') await createEntry(tx, want!, actor, at);
      if (change.action === 'update') await changeEntry(tx, have!.id, Object.fromEntries(change.fields.map((f) => [f.field, f.after])), actor, at);
      return;
    }
    case 'Service': {
      const [cluster, name] = change.key.split('/', 2) as [string, string];
      if (change.action === 'delete') {
        await tx.deleteService(cluster, name);
        await tx.appendAudit({ type: 'service.deleted', actor, data: { cluster, name } }, at);
        return;
      }
      const want = c.desired.services.find((s) => s.cluster === cluster && s.name === name)!;
      const row = await tx.putService({ ...want, createdAt: at, createdBy: actor, updatedAt: at, updatedBy: actor });
      await tx.appendAudit({ type: 'service.declared', actor, data: { cluster, name, namespace: row.namespace, classification: row.classification, critical: row.critical, change: change.action } }, at);
      return;
    }
    case 'Admin': {
      if (change.action === 'delete') {
        await changeAdmin(tx, change.key, { disabled: true }, actor, at, c.self);
        return;
      }
      const want = c.desired.admins.find((a) => a.name === change.key)!;
      if (change.action === 'create') c.admins.push({ name: want.name, token: (await createAdmin(tx, want, actor, at)).token });
      else if (change.action === 'update') await changeAdmin(tx, want.name, { roles: want.roles, disabled: want.disabled }, actor, at, c.self);
      return;
    }
    case 'Policy': {
      if (change.action !== 'propose' || !c.policy) return;
      // As POST /v1/policies does: a proposal, which another person approves and activates.
      const stored = await tx.insertPolicyVersion({ text: c.policy.text, digest: c.policy.digest, status: 'proposed', proposedBy: actor, proposedAt: at, decidedBy: null, decidedAt: null, comment: `interlock apply, configuration ${c.configDigest.slice(0, 19)}…` });
      await tx.appendAudit({ type: 'policy.proposed', actor, data: { version: stored.version, digest: stored.digest, policies: c.policy.ids, schemaValidated: false } }, at);
      return;
    }
  }
}
