/**
 * Versioned schema migrations, shared by both stores. Each migration has the
 * same meaning in both dialects; it runs in one transaction together with the
 * schema_migrations row that records it, so a crash leaves either the old or
 * the new schema. Never edit a released migration: add the next one.
 *
 * Dialect choices: SQLite tables are STRICT (column types enforced, like
 * PostgreSQL); booleans are INTEGER 0/1 there. Times are TEXT in SQLite, always
 * in the fixed-width UTC form of sql/values.ts#isoTime so they sort as text,
 * and timestamptz in PostgreSQL. JSON is TEXT in SQLite and JSONB in
 * PostgreSQL, except audit records, kept as the exact JSON text that was
 * hashed (JSONB would reorder keys and refuses "\u0000", so a record with
 * such a string could not be appended at all).
 */
import { InterlockError } from '../errors.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
  readonly postgres: string;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
}

export const SCHEMA_MIGRATIONS_TABLE = {
  sqlite: 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT',
  postgres: 'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)',
} as const;

const INITIAL_SQLITE = `
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

CREATE TABLE clusters (
  name TEXT PRIMARY KEY,
  trust_domain TEXT NOT NULL CONSTRAINT clusters_trust_domain_key UNIQUE,
  k8s_jwks TEXT,
  k8s_issuer TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
) STRICT;

CREATE TABLE authorities (
  serial TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('root', 'cluster')),
  cluster TEXT REFERENCES clusters (name),
  cert_pem TEXT NOT NULL,
  sealed_key TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'published', 'retired')),
  not_after TEXT NOT NULL,
  created_at TEXT NOT NULL,
  CHECK ((kind = 'root') = (cluster IS NULL))
) STRICT;
CREATE INDEX authorities_cluster_idx ON authorities (cluster);

CREATE TABLE registration_entries (
  id TEXT PRIMARY KEY,
  cluster TEXT NOT NULL REFERENCES clusters (name),
  spiffe_id TEXT NOT NULL,
  namespace TEXT,
  service_account TEXT,
  ttl_seconds INTEGER NOT NULL CHECK (ttl_seconds > 0),
  gateway INTEGER NOT NULL CHECK (gateway IN (0, 1)),
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  CONSTRAINT registration_entries_cluster_spiffe_id_key UNIQUE (cluster, spiffe_id)
) STRICT;
CREATE INDEX registration_entries_selectors_idx ON registration_entries (cluster, namespace, service_account);

CREATE TABLE join_tokens (
  token_hash TEXT PRIMARY KEY,
  entry_id TEXT NOT NULL REFERENCES registration_entries (id) ON DELETE CASCADE,
  expires_at TEXT NOT NULL,
  used_at TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
) STRICT;
CREATE INDEX join_tokens_entry_id_idx ON join_tokens (entry_id);

CREATE TABLE svids (
  serial TEXT PRIMARY KEY,
  spiffe_id TEXT NOT NULL,
  cluster TEXT NOT NULL REFERENCES clusters (name),
  entry_id TEXT NOT NULL,
  issuer_serial TEXT NOT NULL,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  method TEXT NOT NULL,
  revoked_at TEXT,
  revocation_reason TEXT
) STRICT;
CREATE INDEX svids_cluster_idx ON svids (cluster);
CREATE INDEX svids_spiffe_id_idx ON svids (spiffe_id);
CREATE INDEX svids_not_after_idx ON svids (not_after);

CREATE TABLE admins (
  name TEXT PRIMARY KEY,
  roles TEXT NOT NULL,
  token_hash TEXT CONSTRAINT admins_token_hash_key UNIQUE,
  disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
) STRICT;

CREATE TABLE policy_versions (
  version INTEGER PRIMARY KEY CHECK (version > 0),
  text TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'active', 'superseded', 'rejected')),
  proposed_by TEXT NOT NULL,
  proposed_at TEXT NOT NULL,
  decided_by TEXT,
  decided_at TEXT,
  comment TEXT
) STRICT;
CREATE INDEX policy_versions_status_idx ON policy_versions (status);

-- AUTOINCREMENT: an id is never reused, even after the newest rows are deleted.
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE audit_records (
  seq INTEGER PRIMARY KEY CHECK (seq > 0),
  hash TEXT NOT NULL UNIQUE,
  prev TEXT NOT NULL,
  time TEXT NOT NULL,
  type TEXT NOT NULL,
  actor TEXT,
  record TEXT NOT NULL
) STRICT;
-- Append-only, so a bug cannot rewrite history; the hash chain is what
-- detects a deliberate edit by someone with write access to the file.
CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
  BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
  BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
`;

// The same schema in PostgreSQL's types; constraint and index names match SQLite's.
const INITIAL_POSTGRES = `
CREATE TABLE settings (key text PRIMARY KEY, value jsonb NOT NULL);

CREATE TABLE clusters (
  name text PRIMARY KEY,
  trust_domain text NOT NULL CONSTRAINT clusters_trust_domain_key UNIQUE,
  k8s_jwks text,
  k8s_issuer text,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);

CREATE TABLE authorities (
  serial text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('root', 'cluster')),
  cluster text REFERENCES clusters (name),
  cert_pem text NOT NULL,
  sealed_key text NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'published', 'retired')),
  not_after timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  CHECK ((kind = 'root') = (cluster IS NULL))
);
CREATE INDEX authorities_cluster_idx ON authorities (cluster);

CREATE TABLE registration_entries (
  id text PRIMARY KEY,
  cluster text NOT NULL REFERENCES clusters (name),
  spiffe_id text NOT NULL,
  namespace text,
  service_account text,
  ttl_seconds integer NOT NULL CHECK (ttl_seconds > 0),
  gateway boolean NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  CONSTRAINT registration_entries_cluster_spiffe_id_key UNIQUE (cluster, spiffe_id)
);
CREATE INDEX registration_entries_selectors_idx ON registration_entries (cluster, namespace, service_account);

CREATE TABLE join_tokens (
  token_hash text PRIMARY KEY,
  entry_id text NOT NULL REFERENCES registration_entries (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);
CREATE INDEX join_tokens_entry_id_idx ON join_tokens (entry_id);

CREATE TABLE svids (
  serial text PRIMARY KEY,
  spiffe_id text NOT NULL,
  cluster text NOT NULL REFERENCES clusters (name),
  entry_id text NOT NULL,
  issuer_serial text NOT NULL,
  not_before timestamptz NOT NULL,
  not_after timestamptz NOT NULL,
  issued_at timestamptz NOT NULL,
  method text NOT NULL,
  revoked_at timestamptz,
  revocation_reason text
);
CREATE INDEX svids_cluster_idx ON svids (cluster);
CREATE INDEX svids_spiffe_id_idx ON svids (spiffe_id);
CREATE INDEX svids_not_after_idx ON svids (not_after);

CREATE TABLE admins (
  name text PRIMARY KEY,
  roles jsonb NOT NULL,
  token_hash text CONSTRAINT admins_token_hash_key UNIQUE,
  disabled boolean NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);

CREATE TABLE policy_versions (
  version integer PRIMARY KEY CHECK (version > 0),
  text text NOT NULL,
  digest text NOT NULL,
  status text NOT NULL CHECK (status IN ('proposed', 'approved', 'active', 'superseded', 'rejected')),
  proposed_by text NOT NULL,
  proposed_at timestamptz NOT NULL,
  decided_by text,
  decided_at timestamptz,
  comment text
);
CREATE INDEX policy_versions_status_idx ON policy_versions (status);

-- Identity ids are never reused; appendEvent takes them under the sequence lock
-- (see sql/ops.ts), so they also become visible in increasing order.
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE audit_records (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  hash text NOT NULL UNIQUE,
  prev text NOT NULL,
  time timestamptz NOT NULL,
  type text NOT NULL,
  actor text,
  record text NOT NULL
);
-- Append-only, so a bug cannot rewrite history; the hash chain is what
-- detects a deliberate edit by someone with write access to the database.
CREATE FUNCTION interlock_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_records is append-only';
END
$$;
CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
  FOR EACH ROW EXECUTE FUNCTION interlock_audit_append_only();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
  FOR EACH STATEMENT EXECUTE FUNCTION interlock_audit_append_only();
`;

/**
 * Gateways' audit chains, shipped to the control plane (one chain per
 * stream, usually a cluster's gateway). (stream, seq) is the key, so a batch
 * sent twice is stored once; records are kept as the exact JSON that was
 * hashed, append-only like the control plane's own chain. trace_id is kept
 * for queries but not indexed: an index on random ids cut ingest by half
 * (bench/audit), and queries scan.
 */
const GATEWAY_AUDIT_SQLITE = `
CREATE TABLE gateway_audit (
  stream TEXT NOT NULL,
  seq INTEGER NOT NULL CHECK (seq > 0),
  hash TEXT NOT NULL,
  time TEXT NOT NULL,
  type TEXT NOT NULL,
  trace_id TEXT,
  record TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (stream, seq)
) STRICT;
CREATE TRIGGER gateway_audit_no_update BEFORE UPDATE ON gateway_audit
  BEGIN SELECT RAISE(ABORT, 'gateway_audit is append-only'); END;
CREATE TRIGGER gateway_audit_no_delete BEFORE DELETE ON gateway_audit
  BEGIN SELECT RAISE(ABORT, 'gateway_audit is append-only'); END;
`;

const GATEWAY_AUDIT_POSTGRES = `
CREATE TABLE gateway_audit (
  stream text NOT NULL,
  seq bigint NOT NULL CHECK (seq > 0),
  hash text NOT NULL,
  time timestamptz NOT NULL,
  type text NOT NULL,
  trace_id text,
  record text NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (stream, seq)
);
CREATE TRIGGER gateway_audit_no_change BEFORE UPDATE OR DELETE ON gateway_audit
  FOR EACH ROW EXECUTE FUNCTION interlock_audit_append_only();
CREATE TRIGGER gateway_audit_no_truncate BEFORE TRUNCATE ON gateway_audit
  FOR EACH STATEMENT EXECUTE FUNCTION interlock_audit_append_only();
`;

/**
 * The declared catalogue of exported services (interlock apply, Service
 * documents) and the revisions of declarative configuration. A service is
 * named within its cluster; `critical` is JSON (true, false, or a list of
 * "METHOD /path-prefix"). A revision keeps the exact JSON text of the
 * normalised desired state it applied, so its digest can be checked against
 * the stored bytes and a rollback applies exactly that document again.
 */
const DECLARATIVE_SQLITE = `
CREATE TABLE services (
  cluster TEXT NOT NULL REFERENCES clusters (name),
  name TEXT NOT NULL,
  namespace TEXT NOT NULL,
  classification TEXT NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
  critical TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  PRIMARY KEY (cluster, name)
) STRICT;

CREATE TABLE config_revisions (
  revision INTEGER PRIMARY KEY CHECK (revision > 0),
  digest TEXT NOT NULL,
  document TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('apply', 'rollback')),
  source_revision INTEGER,
  actor TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
`;

const DECLARATIVE_POSTGRES = `
CREATE TABLE services (
  cluster text NOT NULL REFERENCES clusters (name),
  name text NOT NULL,
  namespace text NOT NULL,
  classification text NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
  critical jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  PRIMARY KEY (cluster, name)
);

CREATE TABLE config_revisions (
  revision integer PRIMARY KEY CHECK (revision > 0),
  digest text NOT NULL,
  document text NOT NULL,
  action text NOT NULL CHECK (action IN ('apply', 'rollback')),
  source_revision integer,
  actor text NOT NULL,
  created_at timestamptz NOT NULL
);
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sqlite: INITIAL_SQLITE, postgres: INITIAL_POSTGRES },
  { version: 2, name: 'gateway audit streams', sqlite: GATEWAY_AUDIT_SQLITE, postgres: GATEWAY_AUDIT_POSTGRES },
  { version: 3, name: 'declared services and configuration revisions', sqlite: DECLARATIVE_SQLITE, postgres: DECLARATIVE_POSTGRES },
];

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * The next migration to apply to a database that has `applied`, or undefined
 * when it is up to date. Refuses a database that is newer than this program
 * (it would misread tables it does not know) or whose history differs from
 * this program's (a different build migrated it).
 */
export function nextMigration(applied: readonly AppliedMigration[], migrations: readonly Migration[] = MIGRATIONS): Migration | undefined {
  const latest = migrations.length;
  applied.forEach((row, index) => {
    if (row.version > latest) {
      throw new InterlockError('IL_ERR_STORE_MIGRATION_FAILED', `the database schema is at version ${Math.max(...applied.map((a) => a.version))}, newer than this program knows (${latest})`, {
        field: 'store',
        hint: 'run a newer Interlock against this database, or restore a backup made by this version',
      });
    }
    const known = migrations[row.version - 1];
    if (row.version !== index + 1 || known === undefined || known.name !== row.name) {
      throw new InterlockError('IL_ERR_STORE_MIGRATION_FAILED', `schema_migrations does not match this program at version ${row.version} (${JSON.stringify(row.name)})`, {
        field: 'store',
        hint: 'the database was migrated by a different build; restore a backup or use the build that created it',
      });
    }
  });
  return migrations[applied.length];
}

/** The error for a migration that failed to apply; its transaction was rolled back. */
export function migrationFailed(migration: Migration, cause: unknown): InterlockError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new InterlockError('IL_ERR_STORE_MIGRATION_FAILED', `migration ${migration.version} (${migration.name}) failed and was rolled back: ${reason}`, {
    field: 'store',
    cause,
  });
}
