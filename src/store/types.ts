import type { AuditEvent, AuditRecord } from '../audit/record.ts';

/**
 * The control plane's state. Two implementations (SQLite, the embedded
 * default; PostgreSQL, for several replicas) pass one contract test suite
 * (test/store/contract.ts). Rows are plain data; times are ISO 8601 strings
 * in UTC so both backends store and compare them the same way.
 *
 * Writes that belong together go through `transaction()`: everything inside
 * commits or nothing does. Slow work (signing certificates) happens before
 * the transaction, so a transaction holds only database statements.
 */

/** A CA certificate and its sealed private key (see pki/key-protection.ts). */
export interface AuthorityRow {
  /** Hex serial of the CA certificate: unique. */
  readonly serial: string;
  readonly kind: 'root' | 'cluster';
  /** Cluster name for kind 'cluster'; null for the root. */
  readonly cluster: string | null;
  readonly certPem: string;
  /** The sealed-key JSON envelope; never a clear key. */
  readonly sealedKey: string;
  /** 'active' signs new certificates; 'published' is in the bundle but does not sign yet (staged rotation); 'retired' neither. */
  readonly status: 'active' | 'published' | 'retired';
  readonly notAfter: string;
  readonly createdAt: string;
}

export interface ClusterRow {
  /** DNS label, primary key. */
  readonly name: string;
  /** Unique across clusters. */
  readonly trustDomain: string;
  /**
   * How this cluster's Kubernetes service-account tokens are verified:
   * a JWKS document (JSON text) and the issuer (`iss`) the tokens carry.
   * Null when the cluster does not use Kubernetes attestation.
   */
  readonly k8sJwks: string | null;
  readonly k8sIssuer: string | null;
  readonly createdAt: string;
  readonly createdBy: string;
}

/** Which SPIFFE ID a workload gets, in which cluster, when it proves which selectors. */
export interface RegistrationEntryRow {
  /** UUID. */
  readonly id: string;
  readonly cluster: string;
  readonly spiffeId: string;
  /** Kubernetes selectors; null means "not attestable by service-account token". */
  readonly namespace: string | null;
  readonly serviceAccount: string | null;
  /** X.509-SVID lifetime for this entry, seconds. */
  readonly ttlSeconds: number;
  /** True for a gateway's entry: its SVID may vouch for the cluster's workloads. */
  readonly gateway: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
}

/** A single-use, expiring attestation secret. Only its SHA-256 is stored. */
export interface JoinTokenRow {
  readonly tokenHash: string;
  readonly entryId: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
  readonly createdAt: string;
  readonly createdBy: string;
}

export type ConsumeJoinTokenResult =
  | { readonly status: 'ok'; readonly token: JoinTokenRow }
  | { readonly status: 'unknown' }
  | { readonly status: 'used'; readonly token: JoinTokenRow }
  | { readonly status: 'expired'; readonly token: JoinTokenRow };

/** Every X.509-SVID the CA issued: the certificate inventory and the revocation list. */
export interface SvidRow {
  readonly serial: string;
  readonly spiffeId: string;
  readonly cluster: string;
  /** Registration entry it was issued for. */
  readonly entryId: string;
  /** Serial of the cluster CA that signed it. */
  readonly issuerSerial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  /** 'join-token' | 'k8s-sat' | 'renewal' | 'admin' */
  readonly method: string;
  readonly revokedAt: string | null;
  readonly revocationReason: string | null;
}

export type AdminRole = 'policy-author' | 'policy-approver' | 'key-custodian' | 'auditor' | 'operator';

export interface AdminRow {
  /** Unique name; the actor in audit records. */
  readonly name: string;
  readonly roles: readonly AdminRole[];
  /** SHA-256 (hex) of the admin's bearer token; null if the admin uses a client certificate only. */
  readonly tokenHash: string | null;
  readonly disabled: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
}

export interface PolicyVersionRow {
  /** 1, 2, 3… assigned by the store. */
  readonly version: number;
  readonly text: string;
  /** sha256:<hex> of the text. */
  readonly digest: string;
  readonly status: 'proposed' | 'approved' | 'active' | 'superseded' | 'rejected';
  readonly proposedBy: string;
  readonly proposedAt: string;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly comment: string | null;
}

export type DataClassification = 'public' | 'internal' | 'confidential' | 'restricted';

/** A service a cluster exports, as the operator declared it (interlock apply): the catalogue reports and the dashboard read. */
export interface ServiceRow {
  readonly cluster: string;
  /** DNS label; the service is addressed as `<name>.<cluster>.interlock`. Unique within its cluster. */
  readonly name: string;
  /** Kubernetes namespace the service runs in. */
  readonly namespace: string;
  readonly classification: DataClassification;
  /** Routes that need a signed request (RFC 9421): true for every route, false for none, or "METHOD /path-prefix" entries. */
  readonly critical: boolean | readonly string[];
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

/** One applied revision of the declarative configuration (interlock apply). */
export interface ConfigRevisionRow {
  /** 1, 2, 3… assigned by the store. */
  readonly revision: number;
  /** sha256:<hex> of the canonical JSON of `document`. */
  readonly digest: string;
  /** The normalised desired state that was applied (declarative/types.ts DesiredState). */
  readonly document: unknown;
  readonly action: 'apply' | 'rollback';
  /** For a rollback, the revision whose document was applied again; else null. */
  readonly sourceRevision: number | null;
  readonly actor: string;
  readonly createdAt: string;
}

export type ConfigRevisionSummary = Omit<ConfigRevisionRow, 'document'>;

/** Changes gateways must hear about, in order; replicas tail this table to feed their watch streams. */
export interface EventRow {
  /** Increasing; assigned by the store. */
  readonly id: number;
  /** 'bundle.changed' | 'svid.revoked' | 'policy.activated' | … */
  readonly type: string;
  readonly payload: Record<string, unknown>;
  readonly createdAt: string;
}

export interface SvidFilter {
  readonly cluster?: string;
  readonly spiffeId?: string;
  /** Only SVIDs not yet expired at this time. */
  readonly validAt?: string;
  readonly revoked?: boolean;
  readonly limit?: number;
}

/** Every read and write, usable inside and outside a transaction. */
export interface StoreOps {
  // Settings: small named JSON values (organisation, domain…).
  getSetting(key: string): Promise<unknown | undefined>;
  putSetting(key: string, value: unknown): Promise<void>;

  putAuthority(row: AuthorityRow): Promise<void>;
  /** Changes status only; returns false if no such serial. */
  setAuthorityStatus(serial: string, status: AuthorityRow['status']): Promise<boolean>;
  listAuthorities(filter?: { kind?: AuthorityRow['kind']; cluster?: string; status?: AuthorityRow['status'] }): Promise<AuthorityRow[]>;

  /** Throws IL_ERR_CLUSTER_EXISTS if the name or trust domain is taken. */
  insertCluster(row: ClusterRow): Promise<void>;
  getCluster(name: string): Promise<ClusterRow | undefined>;
  listClusters(): Promise<ClusterRow[]>;
  setClusterK8s(name: string, k8s: { jwks: string | null; issuer: string | null }): Promise<boolean>;

  /** Throws IL_ERR_ENTRY_EXISTS if (cluster, spiffeId) exists. */
  insertEntry(row: RegistrationEntryRow): Promise<void>;
  getEntry(id: string): Promise<RegistrationEntryRow | undefined>;
  listEntries(filter?: { cluster?: string; spiffeId?: string }): Promise<RegistrationEntryRow[]>;
  /** The entry whose selectors match a service account in a cluster, if any. */
  findEntryBySelectors(cluster: string, namespace: string, serviceAccount: string): Promise<RegistrationEntryRow | undefined>;
  /** Changes an entry's lifetime or selectors; returns the updated row, or undefined if unknown. */
  updateEntry(id: string, change: { ttlSeconds?: number; namespace?: string | null; serviceAccount?: string | null }): Promise<RegistrationEntryRow | undefined>;
  deleteEntry(id: string): Promise<boolean>;

  insertJoinToken(row: JoinTokenRow): Promise<void>;
  /**
   * Atomically marks the token used if it exists, is unused and has not
   * expired at `now`; two concurrent calls never both get 'ok'.
   */
  consumeJoinToken(tokenHash: string, now: string): Promise<ConsumeJoinTokenResult>;
  /** Deletes the not-yet-used join tokens an actor created (their authority was withdrawn); returns how many. */
  deleteUnusedJoinTokensBy(createdBy: string): Promise<number>;

  insertSvid(row: SvidRow): Promise<void>;
  getSvid(serial: string): Promise<SvidRow | undefined>;
  listSvids(filter?: SvidFilter): Promise<SvidRow[]>;
  /** Returns false if unknown or already revoked (the first revocation is kept). */
  revokeSvid(serial: string, at: string, reason: string): Promise<boolean>;

  /** Throws IL_ERR_ADMIN_EXISTS if the name is taken. */
  insertAdmin(row: AdminRow): Promise<void>;
  /** Changes an admin's roles or disabled flag; returns the updated row, or undefined if unknown. */
  updateAdmin(name: string, change: { roles?: readonly AdminRole[]; disabled?: boolean }): Promise<AdminRow | undefined>;
  getAdmin(name: string): Promise<AdminRow | undefined>;
  getAdminByTokenHash(tokenHash: string): Promise<AdminRow | undefined>;
  listAdmins(): Promise<AdminRow[]>;

  /** Assigns the next version number and returns the stored row. */
  insertPolicyVersion(row: Omit<PolicyVersionRow, 'version'>): Promise<PolicyVersionRow>;
  getPolicyVersion(version: number): Promise<PolicyVersionRow | undefined>;
  listPolicyVersions(): Promise<PolicyVersionRow[]>;
  /**
   * Compare-and-set: changes the status only if it is still `from`.
   * Returns false if the version is unknown or its status moved on.
   */
  setPolicyStatus(version: number, from: PolicyVersionRow['status'], to: PolicyVersionRow['status'], by: string, at: string, comment?: string | null): Promise<boolean>;
  getActivePolicy(): Promise<PolicyVersionRow | undefined>;

  /** Creates or replaces the service (cluster, name), keeping createdAt/createdBy of a replaced one. Throws IL_ERR_CLUSTER_UNKNOWN. */
  putService(row: ServiceRow): Promise<ServiceRow>;
  getService(cluster: string, name: string): Promise<ServiceRow | undefined>;
  /** In (cluster, name) order. */
  listServices(filter?: { cluster?: string }): Promise<ServiceRow[]>;
  deleteService(cluster: string, name: string): Promise<boolean>;

  /** Assigns the next revision number (1, 2, 3… without gaps) and returns the stored row. */
  insertConfigRevision(row: Omit<ConfigRevisionRow, 'revision'>): Promise<ConfigRevisionRow>;
  getConfigRevision(revision: number): Promise<ConfigRevisionRow | undefined>;
  /** Oldest first, without their documents. */
  listConfigRevisions(): Promise<ConfigRevisionSummary[]>;
  /** The newest revision number, 0 when none was applied. */
  latestConfigRevision(): Promise<number>;

  appendEvent(type: string, payload: Record<string, unknown>, at: string): Promise<EventRow>;
  /** Events with id > afterId, oldest first. */
  eventsSince(afterId: number, limit?: number): Promise<EventRow[]>;
  latestEventId(): Promise<number>;

  /**
   * Appends one record to the control plane's hash chain (audit/record.ts
   * rules: seq consecutive from 1, prev = previous hash). Serialised across
   * replicas: two concurrent appends never fork the chain.
   */
  appendAudit(event: AuditEvent, at: string): Promise<AuditRecord>;
  /** Records with seq > afterSeq, oldest first. */
  auditSince(afterSeq: number, limit?: number): Promise<AuditRecord[]>;

  /**
   * Appends a gateway's audit records (already checked against record.ts
   * rules) to its stream: records already stored are skipped if identical,
   * new ones must continue the chain. Stops at the first that does neither;
   * `conflict` names it when it contradicts what is stored.
   */
  appendGatewayAudit(stream: string, records: readonly AuditRecord[], receivedAt: string): Promise<{ head: number; inserted: number; conflict: number | null }>;
  gatewayAuditSince(stream: string, afterSeq: number, limit?: number): Promise<AuditRecord[]>;
  /** The last record (seq and hash) of every stream. */
  gatewayAuditHeads(): Promise<Array<{ stream: string; seq: number; hash: string }>>;
}

export interface Store extends StoreOps {
  readonly kind: 'sqlite' | 'postgres';
  /** Runs versioned migrations; returns the schema version now in force. */
  migrate(): Promise<number>;
  /** Runs `fn` in one transaction: commit if it resolves, roll back if it throws (and rethrow). */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` only if no other replica is running the job of the same name
   * (PostgreSQL: an advisory lock; SQLite: one process owns the file).
   * Returns { ran: false } at once when another replica holds it.
   */
  runExclusive<T>(job: string, fn: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }>;
  /**
   * Calls `onAppended` soon after any replica appends an event (PostgreSQL
   * LISTEN/NOTIFY), so event tails need not wait for their next poll.
   * Absent for SQLite, where one process owns the store. Resolves with the
   * function that stops listening.
   */
  watchEvents?(onAppended: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
