/**
 * Desired state against observed state → the changes apply would make, per
 * object and field. Pure, and the one place that decides what "in sync"
 * means: the CLI's diff and the server's apply both use it.
 *
 * Never deleted: clusters (their CA, SVIDs and audit history hang off them)
 * and policy versions (they are the governance record). Deleted only with
 * prune: entries and services; admins are disabled, not deleted, because
 * audit records keep naming them.
 */
import { InterlockError } from '../errors.ts';
import { digestOf, sameJson } from './digest.ts';
import { documentRef, policyText } from './normalise.ts';
import type { Change, DesiredCluster, DesiredState, FieldChange, ObservedState } from './types.ts';

export interface PlanOptions {
  /** Delete (entries, services) or disable (admins) what the files do not declare. */
  readonly prune: boolean;
  /** The admin asking: they may not change their own roles, and are never pruned. */
  readonly self?: string;
}

/** Fields whose values differ; `before`/`after` as given. */
function fieldChanges(before: Record<string, unknown>, after: Record<string, unknown>, fields: readonly string[]): FieldChange[] {
  return fields.filter((f) => !sameJson(before[f] ?? null, after[f] ?? null)).map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null }));
}

function created(after: Record<string, unknown>, fields: readonly string[]): FieldChange[] {
  return fields.map((field) => ({ field, after: after[field] ?? null }));
}

/** A JWKS is long; the plan shows how many keys and a digest. */
function k8sShown(k8s: DesiredCluster['k8s']): unknown {
  if (!k8s) return null;
  const { jwks } = k8s;
  if (typeof jwks['jwksUri'] === 'string' || jwks['oidcDiscovery'] === true) {
    return { issuer: k8s.issuer, keys: `${typeof jwks['jwksUri'] === 'string' ? jwks['jwksUri'] : 'OIDC discovery'}${jwks['caPem'] ? ' (private CA)' : ''}` };
  }
  const keys = Array.isArray(jwks['keys']) ? (jwks['keys'] as unknown[]).length : 0;
  return { issuer: k8s.issuer, jwks: `${keys} key${keys === 1 ? '' : 's'}, ${digestOf(jwks).slice(0, 19)}…` };
}

export function planChanges(desired: DesiredState, observed: ObservedState, options: PlanOptions): { changes: Change[]; notes: string[] } {
  const changes: Change[] = [];
  const notes: string[] = [];
  const drift = (kind: Change['kind'], key: string, note: string) => changes.push({ action: 'drift', kind, key, fields: [], note });

  // Clusters: created or re-configured; a trust domain is fixed for life (the cluster CA is name-constrained to it, RFC 5280 §4.2.1.10).
  const clusters = new Map(observed.clusters.map((c) => [c.name, c]));
  for (const want of desired.clusters) {
    const trustDomain = want.trustDomain ?? `${want.name}.${observed.organizationDomain}`;
    const have = clusters.get(want.name);
    const after = { trustDomain, k8s: k8sShown(want.k8s) };
    if (!have) {
      changes.push({ action: 'create', kind: 'Cluster', key: want.name, document: want.name, fields: created(after, ['trustDomain', 'k8s']) });
      continue;
    }
    clusters.delete(want.name);
    if (have.trustDomain !== trustDomain) {
      throw new InterlockError('IL_ERR_DECLARATIVE_INVALID', `${documentRef('Cluster', want.name)}: trust domain ${have.trustDomain} cannot change to ${trustDomain}; the cluster's CA is name-constrained to it`, {
        field: `${documentRef('Cluster', want.name)} spec.trustDomain`,
        hint: want.trustDomain ? `set spec.trustDomain: ${have.trustDomain}` : `the default is ${trustDomain}; set spec.trustDomain: ${have.trustDomain}`,
      });
    }
    if (!sameJson(have.k8s, want.k8s)) changes.push({ action: 'update', kind: 'Cluster', key: want.name, document: want.name, fields: fieldChanges({ k8s: k8sShown(have.k8s) }, { k8s: k8sShown(want.k8s) }, ['k8s']) });
  }
  for (const name of clusters.keys()) drift('Cluster', name, 'not in the files; clusters are never deleted by apply');

  // Entries, keyed by (cluster, SPIFFE ID). Selectors and lifetime change in place (the entry's SVIDs are re-issued);
  // the gateway flag decides what the identity may vouch for, so it changes by replacing the entry.
  const entryFields = ['namespace', 'serviceAccount', 'ttlSeconds', 'gateway'] as const;
  const entries = new Map(observed.entries.map((e) => [`${e.cluster}/${e.spiffeId}`, e]));
  for (const want of desired.entries) {
    const key = `${want.cluster}/${want.spiffeId}`;
    const have = entries.get(key);
    const document = `${want.cluster}/${want.name}`;
    if (!have) {
      changes.push({ action: 'create', kind: 'Entry', key, document, fields: created(want as unknown as Record<string, unknown>, entryFields) });
      continue;
    }
    entries.delete(key);
    const fields = fieldChanges(have as unknown as Record<string, unknown>, want as unknown as Record<string, unknown>, entryFields);
    if (fields.length === 0) continue;
    const replace = fields.some((f) => f.field === 'gateway');
    changes.push({ action: replace ? 'replace' : 'update', kind: 'Entry', key, document, fields, note: replace ? 'the gateway flag cannot change in place: the entry is deleted and created again, its SVIDs revoked' : "its SVIDs are revoked and the holders attest again" });
  }
  for (const key of entries.keys()) {
    if (options.prune) changes.push({ action: 'delete', kind: 'Entry', key, fields: [], note: 'not in the files; its SVIDs are revoked' });
    else drift('Entry', key, 'not in the files; deleted only with --prune');
  }

  const serviceFields = ['namespace', 'classification', 'critical'] as const;
  const services = new Map(observed.services.map((s) => [`${s.cluster}/${s.name}`, s]));
  for (const want of desired.services) {
    const key = `${want.cluster}/${want.name}`;
    const have = services.get(key);
    if (!have) {
      changes.push({ action: 'create', kind: 'Service', key, document: key, fields: created(want as unknown as Record<string, unknown>, serviceFields) });
      continue;
    }
    services.delete(key);
    const fields = fieldChanges(have as unknown as Record<string, unknown>, want as unknown as Record<string, unknown>, serviceFields);
    if (fields.length) changes.push({ action: 'update', kind: 'Service', key, document: key, fields });
  }
  for (const key of services.keys()) {
    if (options.prune) changes.push({ action: 'delete', kind: 'Service', key, fields: [], note: 'not in the files' });
    else drift('Service', key, 'not in the files; deleted only with --prune');
  }

  const admins = new Map(observed.admins.map((a) => [a.name, a]));
  for (const want of desired.admins) {
    const have = admins.get(want.name);
    if (!have) {
      changes.push({ action: 'create', kind: 'Admin', key: want.name, document: want.name, fields: created({ ...want }, ['roles', 'disabled']), note: 'its token is shown once' });
      continue;
    }
    admins.delete(want.name);
    const fields = fieldChanges({ ...have, roles: [...have.roles].sort() }, { ...want }, ['roles', 'disabled']);
    if (fields.length === 0) continue;
    if (want.name === options.self) {
      throw new InterlockError('IL_ERR_SEPARATION_OF_DUTIES', `${documentRef('Admin', want.name)}: an admin may not change their own roles`, { field: `${documentRef('Admin', want.name)} spec.roles` });
    }
    const withdrawn = have.roles.some((r) => !want.roles.includes(r)) || (want.disabled && !have.disabled);
    changes.push({ action: 'update', kind: 'Admin', key: want.name, document: want.name, fields, ...(withdrawn ? { note: 'authority withdrawn: the identities they registered are re-issued, their unused join tokens deleted' } : {}) });
  }
  for (const have of admins.values()) {
    if (have.disabled) continue; // already as a prune would leave it
    if (!options.prune) drift('Admin', have.name, 'not in the files; disabled only with --prune');
    else if (have.name === options.self) drift('Admin', have.name, 'not in the files, but it is you: an admin may not disable themselves');
    else changes.push({ action: 'delete', kind: 'Admin', key: have.name, fields: [{ field: 'disabled', before: false, after: true }], note: 'disabled, not deleted (audit records name it); the identities they registered are re-issued' });
  }

  planPolicy(desired, observed, changes, notes);
  return { changes, notes };
}

/** Apply proposes; approving and activating stay the two-person flow of docs/policy.md. */
function planPolicy(desired: DesiredState, observed: ObservedState, changes: Change[], notes: string[]): void {
  const text = policyText(desired.policies);
  const latest = observed.policy;
  if (text === null) {
    if (latest) changes.push({ action: 'drift', kind: 'Policy', key: 'policy', fields: [], note: `version ${latest.version} (${latest.status}) is on the server; no Policy document in the files` });
    return;
  }
  const document = desired.policies.map((p) => p.name).join(', ');
  if (!latest || latest.text !== text) {
    const next = (latest?.version ?? 0) + 1;
    const lines = lineCounts(latest?.text ?? '', text);
    changes.push({
      action: 'propose',
      kind: 'Policy',
      key: 'policy',
      document,
      fields: [{ field: 'version', before: latest ? `${latest.version} (${latest.status})` : null, after: `${next} (proposed)` }, { field: 'lines', after: `+${lines.added} -${lines.removed}` }],
      note: `apply proposes version ${next}; it takes effect only when another admin with policy-approver approves and activates it (interlock policy approve ${next}, then activate ${next})`,
    });
    return;
  }
  if (latest.status === 'proposed' || latest.status === 'approved') {
    notes.push(`the Policy matches version ${latest.version}, which is ${latest.status}: it takes effect once ${latest.status === 'proposed' ? 'approved and activated' : 'activated'} by a policy-approver`);
  } else if (latest.status === 'rejected') {
    notes.push(`the Policy matches version ${latest.version}, which was rejected; apply does not propose it again until the text changes`);
  } else if (latest.status === 'superseded') {
    notes.push(`the Policy matches version ${latest.version}, which was superseded by an older version's activation`);
  }
}

/** Lines only in `after` (added) and only in `before` (removed), counted as multisets: a summary, not a patch. */
function lineCounts(before: string, after: string): { added: number; removed: number } {
  const count = new Map<string, number>();
  for (const line of before === '' ? [] : before.split('\n')) count.set(line, (count.get(line) ?? 0) + 1);
  let added = 0;
  for (const line of after.split('\n')) {
    const n = count.get(line) ?? 0;
    if (n > 0) count.set(line, n - 1);
    else added++;
  }
  const removed = [...count.values()].reduce((a, b) => a + b, 0);
  return { added, removed };
}
