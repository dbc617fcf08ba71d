/**
 * The registry's changes as functions over a transaction, shared by the
 * imperative routes (routes/registry.ts) and declarative apply
 * (declarative-service.ts), so an entry changed by `interlock apply` is
 * revoked and re-issued exactly as one changed by `PATCH /v1/entries/:id`.
 * Each function checks its input, writes, and appends its audit record; the
 * caller owns the transaction.
 */
import { InterlockError } from '../errors.ts';
import { parseTrustDomain, parseWorkloadSpiffeId } from '../identity/spiffe-id.ts';
import { checkClusterName } from '../pki/authority.ts';
import { SVID_TTL_DEFAULT_MS } from '../pki/certificates.ts';
import type { AdminRole, AdminRow, AuthorityRow, ClusterRow, RegistrationEntryRow, StoreOps } from '../store/types.ts';
import type { CaService } from './ca-service.ts';
import type { CaRotation } from './ca-rotation.ts';
import { newEntryId } from './ca-service.ts';
import { revokeSvids } from './revoke.ts';
import { hashSecret, newSecret } from './secrets.ts';
import { checkStoredSource } from './k8s-keys.ts';

export interface K8sAttestation {
  /** JWKS document, as JSON text. */
  readonly jwks: string;
  readonly issuer: string;
}

/** "root" names the root CA in rotations; and no cluster may join while a root rotation would leave its intermediate behind. */
export async function assertClusterMayBeAdded(rotations: CaRotation, name: string): Promise<void> {
  if (name === 'root') throw new InterlockError('IL_ERR_CLUSTER_NAME_INVALID', '"root" is reserved (it names the root CA in rotations)', { field: 'name' });
  const rootRotation = await rotations.get('root');
  if (rootRotation && (rootRotation.step === 'published' || rootRotation.step === 'switched')) {
    // Its intermediate would hang off a root that is about to go, or miss the new one.
    throw new InterlockError('IL_ERR_ROTATION_IN_PROGRESS', `a root CA rotation is at step ${rootRotation.step}; add the cluster once it is finished`, { field: 'name', hint: 'interlock ca rotate-root --status' });
  }
}

export interface PreparedCluster {
  readonly row: ClusterRow;
  readonly authority: AuthorityRow;
}

/**
 * A new cluster and its intermediate CA, signed but not stored: key
 * generation and signing are slow, so they happen before the transaction
 * (store/types.ts), which then only stores them (storeCluster). The same
 * checks and CA as CaService.addCluster.
 */
export async function prepareCluster(ca: CaService, rotations: CaRotation, input: { name: string; trustDomain?: string; k8s?: K8sAttestation }, actor: string): Promise<PreparedCluster> {
  await assertClusterMayBeAdded(rotations, input.name);
  const org = await ca.org();
  if (!org) throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', 'the control plane has no root CA yet', { field: 'store' });
  const name = checkClusterName(input.name);
  const trustDomain = parseTrustDomain(input.trustDomain ?? `${name}.${org.domain}`, 'trustDomain');
  if (trustDomain === org.domain) throw new InterlockError('IL_ERR_CLUSTER_NAME_INVALID', `trust domain ${trustDomain} is reserved for the control plane`, { field: 'trustDomain' });
  if (input.k8s) checkStoredSource(input.k8s.jwks, input.k8s.issuer);
  const row: ClusterRow = { name, trustDomain, k8sJwks: input.k8s?.jwks ?? null, k8sIssuer: input.k8s?.issuer ?? null, createdAt: ca.clock.now().toISOString(), createdBy: actor };
  const authority = await ca.newClusterAuthority(row, await ca.root());
  return { row, authority: { ...authority, status: 'active' } };
}

export async function storeCluster(tx: StoreOps, prepared: PreparedCluster, actor: string, at: string): Promise<void> {
  const { row, authority } = prepared;
  await tx.insertCluster(row);
  await tx.putAuthority(authority);
  await tx.appendAudit({ type: 'cluster.added', actor, data: { cluster: row.name, trustDomain: row.trustDomain, caSerial: authority.serial, notAfter: authority.notAfter } }, at);
  await tx.appendEvent('bundle.changed', { reason: 'cluster added', cluster: row.name }, at);
}

/** Sets (or, with null, removes) a cluster's Kubernetes attestation; false if there is no such cluster. */
export async function configureClusterK8s(tx: StoreOps, name: string, k8s: K8sAttestation | null, actor: string, at: string): Promise<boolean> {
  if (k8s) checkStoredSource(k8s.jwks, k8s.issuer);
  const ok = await tx.setClusterK8s(name, { jwks: k8s?.jwks ?? null, issuer: k8s?.issuer ?? null });
  if (ok) await tx.appendAudit({ type: 'cluster.k8s-configured', actor, data: { cluster: name, issuer: k8s?.issuer ?? null } }, at);
  return ok;
}

export interface NewEntry {
  readonly cluster: string;
  readonly spiffeId: string;
  readonly namespace?: string | null;
  readonly serviceAccount?: string | null;
  readonly ttlSeconds?: number;
  readonly gateway?: boolean;
}

export async function createEntry(tx: StoreOps, input: NewEntry, actor: string, at: string): Promise<RegistrationEntryRow> {
  const id = parseWorkloadSpiffeId(input.spiffeId, 'spiffeId');
  const namespace = input.namespace ?? null;
  const serviceAccount = input.serviceAccount ?? null;
  if ((namespace === null) !== (serviceAccount === null)) {
    throw new InterlockError('IL_ERR_REQUEST_INVALID', 'namespace and serviceAccount are selectors that go together', { field: namespace ? 'serviceAccount' : 'namespace' });
  }
  const entry: RegistrationEntryRow = {
    id: newEntryId(),
    cluster: input.cluster,
    spiffeId: id.id,
    namespace,
    serviceAccount,
    ttlSeconds: input.ttlSeconds ?? SVID_TTL_DEFAULT_MS / 1000,
    gateway: input.gateway ?? false,
    createdAt: at,
    createdBy: actor,
  };
  const cluster = await tx.getCluster(input.cluster);
  if (!cluster) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${input.cluster}`, { field: 'cluster' });
  if (cluster.trustDomain !== id.trustDomain) {
    throw new InterlockError('IL_ERR_SPIFFE_ID_OUT_OF_DOMAIN', `cluster ${cluster.name} issues only in ${cluster.trustDomain}`, { field: 'spiffeId' });
  }
  await tx.insertEntry(entry);
  await tx.appendAudit({ type: 'entry.created', actor, data: { ...entry } }, at);
  return entry;
}

/**
 * Changing or deleting an entry changes who may hold its identity: SVIDs issued under the old
 * terms are revoked and their holders asked to attest again (an identity.reissue event), so no
 * certificate outlives the registration that justified it. Returns how many were revoked.
 */
export async function reissueEntry(tx: StoreOps, entry: RegistrationEntryRow, why: string, actor: string, at: string): Promise<number> {
  const issued = (await tx.listSvids({ spiffeId: entry.spiffeId, cluster: entry.cluster, validAt: at, revoked: false, limit: 100_000 })).filter((s) => s.entryId === entry.id);
  const revoked = await revokeSvids(tx, issued, why, actor, at);
  await tx.appendEvent('identity.reissue', { spiffeId: entry.spiffeId, cluster: entry.cluster, reason: why }, at);
  return revoked.length;
}

export type EntryChange = { ttlSeconds?: number; namespace?: string | null; serviceAccount?: string | null };

export async function changeEntry(tx: StoreOps, id: string, change: EntryChange, actor: string, at: string): Promise<RegistrationEntryRow & { reissued: number }> {
  const before = await tx.getEntry(id);
  const entry = before && (await tx.updateEntry(before.id, change));
  if (!before || !entry) throw new InterlockError('IL_ERR_ENTRY_UNKNOWN', `no registration entry ${id}`, { field: 'id' });
  const reissued = await reissueEntry(tx, entry, 'registration entry changed', actor, at);
  await tx.appendAudit({ type: 'entry.changed', actor, data: { id: entry.id, spiffeId: entry.spiffeId, change: { ...change }, reissued } }, at);
  return { ...entry, reissued };
}

/** False if there is no such entry. */
export async function deleteEntry(tx: StoreOps, id: string, actor: string, at: string): Promise<boolean> {
  const entry = await tx.getEntry(id);
  if (!entry) return false;
  const revoked = await reissueEntry(tx, entry, 'registration entry deleted', actor, at);
  await tx.deleteEntry(entry.id);
  await tx.appendAudit({ type: 'entry.deleted', actor, data: { id: entry.id, spiffeId: entry.spiffeId, cluster: entry.cluster, revoked } }, at);
  await tx.appendEvent('entry.deleted', { id: entry.id, spiffeId: entry.spiffeId, cluster: entry.cluster }, at);
  return true;
}

/** A new admin and their bearer token, which is returned once and stored only as its hash. */
export async function createAdmin(tx: StoreOps, input: { name: string; roles: readonly AdminRole[]; disabled?: boolean }, actor: string, at: string): Promise<{ row: AdminRow; token: string }> {
  const token = newSecret('iladm');
  const row: AdminRow = { name: input.name, roles: [...input.roles], tokenHash: hashSecret(token), disabled: input.disabled ?? false, createdAt: at, createdBy: actor };
  await tx.insertAdmin(row);
  await tx.appendAudit({ type: 'admin.created', actor, data: { name: row.name, roles: row.roles, ...(row.disabled ? { disabled: true } : {}) } }, at);
  return { row, token };
}

/**
 * Changes an admin's roles or disabled flag. Taking roles away (or disabling) withdraws the
 * authority behind what the admin registered: the identities of entries they created are
 * re-issued (revoked, holders attest again) and the join tokens they created and nobody used
 * are deleted. `self` is the admin asking, who may not change their own roles.
 */
export async function changeAdmin(tx: StoreOps, name: string, change: { roles?: readonly AdminRole[]; disabled?: boolean }, actor: string, at: string, self: string | undefined) {
  if (self === name) throw new InterlockError('IL_ERR_SEPARATION_OF_DUTIES', 'an admin may not change their own roles', { field: 'name' });
  const before = await tx.getAdmin(name);
  const after = before && (await tx.updateAdmin(before.name, change));
  if (!before || !after) throw new InterlockError('IL_ERR_NOT_FOUND', `no admin named ${name}`, { field: 'name' });
  const removed = before.roles.filter((r) => !after.roles.includes(r));
  const withdrawn = removed.length > 0 || (after.disabled && !before.disabled);
  let reissued = 0;
  let joinTokensDeleted = 0;
  if (withdrawn) {
    const by = `admin:${before.name}`;
    for (const entry of (await tx.listEntries()).filter((e) => e.createdBy === by)) reissued += await reissueEntry(tx, entry, `admin ${before.name} lost authority`, actor, at);
    joinTokensDeleted = await tx.deleteUnusedJoinTokensBy(by);
  }
  await tx.appendAudit({ type: 'admin.changed', actor, data: { name: after.name, roles: after.roles, removed, disabled: after.disabled, reissued, joinTokensDeleted } }, at);
  const { tokenHash: _hidden, ...visible } = after;
  return { ...visible, removedRoles: removed, reissued, joinTokensDeleted };
}
