/**
 * Database rows (snake_case columns) to the plain row types of store/types.ts.
 * Written once for both stores: each reader accepts what either driver
 * returns (SQLite: INTEGER 0/1 and TEXT; PostgreSQL: boolean, timestamptz as
 * Date, JSONB already parsed, bigint as a decimal string).
 */
import type { AuditRecord } from '../../audit/record.ts';
import { InterlockError } from '../../errors.ts';
import type {
  AdminRole,
  AdminRow,
  AuthorityRow,
  ClusterRow,
  ConfigRevisionRow,
  ConfigRevisionSummary,
  DataClassification,
  EventRow,
  JoinTokenRow,
  PolicyVersionRow,
  RegistrationEntryRow,
  ServiceRow,
  SvidRow,
} from '../types.ts';

export type DbRow = Record<string, unknown>;

export function text(row: DbRow, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw corrupt(column, value);
  return value;
}

export function textOrNull(row: DbRow, column: string): string | null {
  return row[column] === null || row[column] === undefined ? null : text(row, column);
}

export function int(row: DbRow, column: string): number {
  const value = row[column];
  const n = typeof value === 'string' || typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw corrupt(column, value);
  return n;
}

export function bool(row: DbRow, column: string): boolean {
  const value = row[column];
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  throw corrupt(column, value);
}

/** Times read back in exactly the form values.ts#isoTime stored. */
export function time(row: DbRow, column: string): string {
  const value = row[column];
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  if (typeof value === 'string') return value;
  throw corrupt(column, value);
}

export function timeOrNull(row: DbRow, column: string): string | null {
  return row[column] === null || row[column] === undefined ? null : time(row, column);
}

export function json(row: DbRow, column: string): unknown {
  const value = row[column];
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch (cause) {
    throw new InterlockError('IL_ERR_INTERNAL', `stored column ${column} is not JSON`, { field: column, cause });
  }
}

export function toAuthority(row: DbRow): AuthorityRow {
  return {
    serial: text(row, 'serial'),
    kind: text(row, 'kind') as AuthorityRow['kind'],
    cluster: textOrNull(row, 'cluster'),
    certPem: text(row, 'cert_pem'),
    sealedKey: text(row, 'sealed_key'),
    status: text(row, 'status') as AuthorityRow['status'],
    notAfter: time(row, 'not_after'),
    createdAt: time(row, 'created_at'),
  };
}

export function toCluster(row: DbRow): ClusterRow {
  return {
    name: text(row, 'name'),
    trustDomain: text(row, 'trust_domain'),
    k8sJwks: textOrNull(row, 'k8s_jwks'),
    k8sIssuer: textOrNull(row, 'k8s_issuer'),
    createdAt: time(row, 'created_at'),
    createdBy: text(row, 'created_by'),
  };
}

export function toEntry(row: DbRow): RegistrationEntryRow {
  return {
    id: text(row, 'id'),
    cluster: text(row, 'cluster'),
    spiffeId: text(row, 'spiffe_id'),
    namespace: textOrNull(row, 'namespace'),
    serviceAccount: textOrNull(row, 'service_account'),
    ttlSeconds: int(row, 'ttl_seconds'),
    gateway: bool(row, 'gateway'),
    createdAt: time(row, 'created_at'),
    createdBy: text(row, 'created_by'),
  };
}

export function toJoinToken(row: DbRow): JoinTokenRow {
  return {
    tokenHash: text(row, 'token_hash'),
    entryId: text(row, 'entry_id'),
    expiresAt: time(row, 'expires_at'),
    usedAt: timeOrNull(row, 'used_at'),
    createdAt: time(row, 'created_at'),
    createdBy: text(row, 'created_by'),
  };
}

export function toSvid(row: DbRow): SvidRow {
  return {
    serial: text(row, 'serial'),
    spiffeId: text(row, 'spiffe_id'),
    cluster: text(row, 'cluster'),
    entryId: text(row, 'entry_id'),
    issuerSerial: text(row, 'issuer_serial'),
    notBefore: time(row, 'not_before'),
    notAfter: time(row, 'not_after'),
    issuedAt: time(row, 'issued_at'),
    method: text(row, 'method'),
    revokedAt: timeOrNull(row, 'revoked_at'),
    revocationReason: textOrNull(row, 'revocation_reason'),
  };
}

export function toAdmin(row: DbRow): AdminRow {
  const roles = json(row, 'roles');
  if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string')) throw corrupt('roles', roles);
  return {
    name: text(row, 'name'),
    roles: roles as AdminRole[],
    tokenHash: textOrNull(row, 'token_hash'),
    disabled: bool(row, 'disabled'),
    createdAt: time(row, 'created_at'),
    createdBy: text(row, 'created_by'),
  };
}

export function toPolicyVersion(row: DbRow): PolicyVersionRow {
  return {
    version: int(row, 'version'),
    text: text(row, 'text'),
    digest: text(row, 'digest'),
    status: text(row, 'status') as PolicyVersionRow['status'],
    proposedBy: text(row, 'proposed_by'),
    proposedAt: time(row, 'proposed_at'),
    decidedBy: textOrNull(row, 'decided_by'),
    decidedAt: timeOrNull(row, 'decided_at'),
    comment: textOrNull(row, 'comment'),
  };
}

export function toService(row: DbRow): ServiceRow {
  const critical = json(row, 'critical');
  const valid = typeof critical === 'boolean' || (Array.isArray(critical) && critical.every((c) => typeof c === 'string'));
  if (!valid) throw corrupt('critical', critical);
  return {
    cluster: text(row, 'cluster'),
    name: text(row, 'name'),
    namespace: text(row, 'namespace'),
    classification: text(row, 'classification') as DataClassification,
    critical: critical as ServiceRow['critical'],
    createdAt: time(row, 'created_at'),
    createdBy: text(row, 'created_by'),
    updatedAt: time(row, 'updated_at'),
    updatedBy: text(row, 'updated_by'),
  };
}

export function toConfigRevisionSummary(row: DbRow): ConfigRevisionSummary {
  const source = row['source_revision'];
  return {
    revision: int(row, 'revision'),
    digest: text(row, 'digest'),
    action: text(row, 'action') as ConfigRevisionRow['action'],
    sourceRevision: source === null || source === undefined ? null : int(row, 'source_revision'),
    actor: text(row, 'actor'),
    createdAt: time(row, 'created_at'),
  };
}

/** The document is kept as the exact JSON text that was digested (column `document`, text in both stores). */
export function toConfigRevision(row: DbRow): ConfigRevisionRow {
  return { ...toConfigRevisionSummary(row), document: json(row, 'document') };
}

export function toEvent(row: DbRow): EventRow {
  const payload = json(row, 'payload');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw corrupt('payload', payload);
  return {
    id: int(row, 'id'),
    type: text(row, 'type'),
    payload: payload as Record<string, unknown>,
    createdAt: time(row, 'created_at'),
  };
}

/**
 * The audit record is stored as the exact JSON text that was hashed (column
 * `record`), so the record read back is byte-for-byte the one whose hash is
 * in the chain; the other columns are copies for indexing and queries.
 */
export function toAuditRecord(row: DbRow): AuditRecord {
  const record = json(row, 'record');
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw corrupt('record', record);
  return record as AuditRecord;
}

function corrupt(column: string, value: unknown): InterlockError {
  const shown = value instanceof Date ? value.toISOString() : typeof value;
  return new InterlockError('IL_ERR_INTERNAL', `stored column ${column} has an unexpected value (${shown})`, { field: column });
}
