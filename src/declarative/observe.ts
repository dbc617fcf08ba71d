/** The control plane's rows → ObservedState, the terms the diff compares in. Pure. */
import type { AdminRow, ClusterRow, PolicyVersionRow, RegistrationEntryRow, ServiceRow } from '../store/types.ts';
import type { ObservedState } from './types.ts';

export interface ObservedRows {
  readonly organizationDomain: string;
  readonly clusters: readonly ClusterRow[];
  readonly entries: readonly RegistrationEntryRow[];
  readonly services: readonly ServiceRow[];
  readonly admins: readonly AdminRow[];
  /** Only the newest is compared. */
  readonly latestPolicy: PolicyVersionRow | undefined;
}

export function observedState(rows: ObservedRows): ObservedState {
  return {
    organizationDomain: rows.organizationDomain,
    clusters: rows.clusters.map((c) => ({
      name: c.name,
      trustDomain: c.trustDomain,
      k8s: c.k8sIssuer !== null && c.k8sJwks !== null ? { issuer: c.k8sIssuer, jwks: JSON.parse(c.k8sJwks) as Record<string, unknown> } : null,
    })),
    entries: rows.entries.map((e) => ({ id: e.id, cluster: e.cluster, spiffeId: e.spiffeId, namespace: e.namespace, serviceAccount: e.serviceAccount, ttlSeconds: e.ttlSeconds, gateway: e.gateway })),
    services: rows.services.map((s) => ({ name: s.name, cluster: s.cluster, namespace: s.namespace, classification: s.classification, critical: s.critical })),
    admins: rows.admins.map((a) => ({ name: a.name, roles: [...a.roles].sort(), disabled: a.disabled })),
    policy: rows.latestPolicy ? { version: rows.latestPolicy.version, status: rows.latestPolicy.status, text: rows.latestPolicy.text } : null,
  };
}
