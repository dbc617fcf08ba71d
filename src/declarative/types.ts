/**
 * Declarative configuration (interlock apply / diff): what the files ask for
 * (DesiredState), what the control plane holds (ObservedState), and the
 * changes between them (Plan). Plain data, shared by the CLI and the server;
 * every function over it is pure (parse, normalise, diff, render).
 */
import type { AdminRole, DataClassification } from '../store/types.ts';

export const API_VERSION = 'interlock.dev/v1';
export const KINDS = ['Cluster', 'Entry', 'Service', 'Policy', 'Admin'] as const;
export type Kind = (typeof KINDS)[number];

export interface DesiredCluster {
  readonly name: string;
  /** Null: the default `<name>.<organisation domain>`. */
  readonly trustDomain: string | null;
  /** Kubernetes service-account token attestation; null: none. */
  readonly k8s: { readonly issuer: string; readonly jwks: Record<string, unknown> } | null;
}

export interface DesiredEntry {
  /** The document's metadata.name, unique within its cluster; not stored on the server (entries are keyed by cluster and SPIFFE ID). */
  readonly name: string;
  readonly cluster: string;
  readonly spiffeId: string;
  readonly namespace: string | null;
  readonly serviceAccount: string | null;
  readonly ttlSeconds: number;
  readonly gateway: boolean;
}

export interface DesiredService {
  /** The service's name within its cluster (`<name>.<cluster>.interlock`). */
  readonly name: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly classification: DataClassification;
  readonly critical: boolean | readonly string[];
}

export interface DesiredPolicy {
  readonly name: string;
  /** The Cedar text (read from `file` on the client). */
  readonly text: string;
}

export interface DesiredAdmin {
  readonly name: string;
  /** Sorted. */
  readonly roles: readonly AdminRole[];
  readonly disabled: boolean;
}

/**
 * The normalised desired state: defaults filled in, every list sorted by its
 * key, so the same files always give the same document and digest. This is
 * what the API takes and what a revision stores.
 */
export interface DesiredState {
  readonly clusters: readonly DesiredCluster[];
  readonly entries: readonly DesiredEntry[];
  readonly services: readonly DesiredService[];
  /** Empty: the files do not manage the policy. Several are proposed as one text, in name order. */
  readonly policies: readonly DesiredPolicy[];
  readonly admins: readonly DesiredAdmin[];
}

/** The control plane's state, in the same terms. */
export interface ObservedState {
  readonly organizationDomain: string;
  readonly clusters: ReadonlyArray<{ readonly name: string; readonly trustDomain: string; readonly k8s: DesiredCluster['k8s'] }>;
  readonly entries: ReadonlyArray<Omit<DesiredEntry, 'name'> & { readonly id: string }>;
  readonly services: readonly DesiredService[];
  readonly admins: readonly DesiredAdmin[];
  /** The newest policy version, whatever its status. */
  readonly policy: { readonly version: number; readonly status: string; readonly text: string } | null;
}

export interface FieldChange {
  readonly field: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

/**
 * create/update/delete: what apply does. replace: delete and create again
 * (a field that cannot change in place). propose: a new policy version.
 * drift: on the server, not in the files, and left alone (no --prune, or a
 * kind apply never deletes).
 */
export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'propose' | 'drift';

export interface Change {
  readonly action: ChangeAction;
  readonly kind: Kind;
  /** The object's key: cluster name, `<cluster>/<spiffe id>`, `<cluster>/<service>`, admin name, or "policy". */
  readonly key: string;
  /** The document's metadata.name, when the object is in the files. */
  readonly document?: string;
  readonly fields: readonly FieldChange[];
  /** Why, for drift; what happens next, for a proposal. */
  readonly note?: string;
}

export interface Plan {
  /** In the order apply makes them. */
  readonly changes: readonly Change[];
  /** Things worth knowing that change nothing (e.g. a policy version awaiting approval). */
  readonly notes: readonly string[];
  /** sha256 of the normalised desired state. */
  readonly desiredDigest: string;
  /** What the plan was computed against: apply refuses if either moved (IL_ERR_DECLARATIVE_CONFLICT). */
  readonly base: PlanBase;
}

export interface PlanBase {
  /** The newest configuration revision, 0 for none. */
  readonly revision: number;
  /** sha256 of the observed state. */
  readonly stateDigest: string;
}

/** Whether apply would change something (drift alone changes nothing). */
export function appliesSomething(plan: Pick<Plan, 'changes'>): boolean {
  return plan.changes.some((c) => c.action !== 'drift');
}
