/**
 * StoreOps written once in SQL both SQLite and PostgreSQL run, over the small
 * driver interface of sql/session.ts. One implementation of the rules (what
 * a conflict is called, how times and JSON are stored, how numbered series
 * are assigned) means the two stores cannot drift apart; the contract test
 * (test/store/contract.ts) checks each driver under it.
 */
import type { AuditEvent, AuditRecord } from '../../audit/record.ts';
import { InterlockError } from '../../errors.ts';
import type {
  AdminRole, AdminRow, AuthorityRow, ClusterRow, ConfigRevisionRow, ConfigRevisionSummary, ConsumeJoinTokenResult, EventRow, JoinTokenRow,
  PolicyVersionRow, RegistrationEntryRow, ServiceRow, StoreOps, SvidFilter, SvidRow,
} from '../types.ts';
import * as rows from './rows.ts';
import type { Enter, SqlSession } from './session.ts';
import { checkLimit, isoTime, isoTimeOrNull, jsonText } from './values.ts';
import { exists, firstOrThrow, firstOrUndefined, mapViolation, whereClause } from './query.ts';
import * as series from './series.ts';
import * as catalog from './catalog.ts';

export class SqlOps implements StoreOps {
  constructor(private readonly enter: Enter) {}

  private exec<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.enter(async (s) => {
      try {
        return await fn(s);
      } catch (error) {
        throw s.toStoreError(error);
      }
    });
  }

  async getSetting(key: string): Promise<unknown | undefined> {
    return this.exec(async (s) => {
      const row = firstOrUndefined(await s.all('SELECT value FROM settings WHERE key = ?', [key]));
      return row === undefined ? undefined : rows.json(row, 'value');
    });
  }

  async putSetting(key: string, value: unknown): Promise<void> {
    const encoded = jsonText(value, 'value');
    return this.exec(async (s) => {
      await s.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, encoded]);
    });
  }

  async putAuthority(row: AuthorityRow): Promise<void> {
    const params = [row.serial, row.kind, row.cluster, row.certPem, row.sealedKey, row.status,
      isoTime(row.notAfter, 'notAfter'), isoTime(row.createdAt, 'createdAt')];
    return this.exec(async (s) => {
      try {
        await s.attempt((a) => a.run(
          `INSERT INTO authorities (serial, kind, cluster, cert_pem, sealed_key, status, not_after, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (serial) DO UPDATE SET kind = excluded.kind, cluster = excluded.cluster, cert_pem = excluded.cert_pem,
             sealed_key = excluded.sealed_key, status = excluded.status, not_after = excluded.not_after, created_at = excluded.created_at`,
          params,
        ));
      } catch (error) {
        throw await mapViolation(s, error, {
          foreignKey: () => new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${row.cluster ?? ''} for CA ${row.serial}`, { field: 'cluster' }),
          check: () => new InterlockError('IL_ERR_INTERNAL', `CA ${row.serial}: kind, cluster or status is invalid (a root has no cluster, a cluster CA names one)`, { field: 'kind' }),
        });
      }
    });
  }

  async setAuthorityStatus(serial: string, status: AuthorityRow['status']): Promise<boolean> {
    return this.exec(async (s) => (await s.run('UPDATE authorities SET status = ? WHERE serial = ?', [status, serial])) > 0);
  }

  async listAuthorities(filter: { kind?: AuthorityRow['kind']; cluster?: string; status?: AuthorityRow['status'] } = {}): Promise<AuthorityRow[]> {
    const where = whereClause([['kind = ?', filter.kind], ['cluster = ?', filter.cluster], ['status = ?', filter.status]]);
    return this.exec(async (s) => (await s.all(`SELECT * FROM authorities${where.sql} ORDER BY created_at, serial`, where.params)).map(rows.toAuthority));
  }

  async insertCluster(row: ClusterRow): Promise<void> {
    const params = [row.name, row.trustDomain, row.k8sJwks, row.k8sIssuer, isoTime(row.createdAt, 'createdAt'), row.createdBy];
    return this.exec(async (s) => {
      try {
        await s.attempt((a) => a.run('INSERT INTO clusters (name, trust_domain, k8s_jwks, k8s_issuer, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)', params));
      } catch (error) {
        throw await mapViolation(s, error, {
          // When both are taken, which one the database reports first is up
          // to it; the name is checked first so both stores say the same.
          unique: async () => (await exists(s, 'SELECT 1 FROM clusters WHERE name = ?', [row.name]))
            ? new InterlockError('IL_ERR_CLUSTER_EXISTS', `a cluster named ${row.name} already exists`, { field: 'name' })
            : new InterlockError('IL_ERR_CLUSTER_EXISTS', `trust domain ${row.trustDomain} is already used by another cluster`, { field: 'trustDomain' }),
        });
      }
    });
  }

  async getCluster(name: string): Promise<ClusterRow | undefined> {
    return this.exec(async (s) => firstOrUndefined((await s.all('SELECT * FROM clusters WHERE name = ?', [name])).map(rows.toCluster)));
  }

  async listClusters(): Promise<ClusterRow[]> {
    return this.exec(async (s) => (await s.all('SELECT * FROM clusters ORDER BY name')).map(rows.toCluster));
  }

  async setClusterK8s(name: string, k8s: { jwks: string | null; issuer: string | null }): Promise<boolean> {
    return this.exec(async (s) => (await s.run('UPDATE clusters SET k8s_jwks = ?, k8s_issuer = ? WHERE name = ?', [k8s.jwks, k8s.issuer, name])) > 0);
  }

  async insertEntry(row: RegistrationEntryRow): Promise<void> {
    if (!Number.isSafeInteger(row.ttlSeconds) || row.ttlSeconds < 1) {
      throw new InterlockError('IL_ERR_INTERNAL', `ttlSeconds must be a positive integer, got ${row.ttlSeconds}`, { field: 'ttlSeconds' });
    }
    const params = [row.id, row.cluster, row.spiffeId, row.namespace, row.serviceAccount, row.ttlSeconds, row.gateway === true,
      isoTime(row.createdAt, 'createdAt'), row.createdBy];
    return this.exec(async (s) => {
      try {
        await s.attempt((a) => a.run(
          `INSERT INTO registration_entries (id, cluster, spiffe_id, namespace, service_account, ttl_seconds, gateway, created_at, created_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          params,
        ));
      } catch (error) {
        throw await mapViolation(s, error, {
          unique: async () => (await exists(s, 'SELECT 1 FROM registration_entries WHERE id = ?', [row.id]))
            ? new InterlockError('IL_ERR_ENTRY_EXISTS', `an entry with id ${row.id} already exists`, { field: 'id' })
            : new InterlockError('IL_ERR_ENTRY_EXISTS', `cluster ${row.cluster} already has an entry for ${row.spiffeId}`, { field: 'spiffeId' }),
          foreignKey: () => new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${row.cluster}`, { field: 'cluster' }),
        });
      }
    });
  }

  async getEntry(id: string): Promise<RegistrationEntryRow | undefined> {
    return this.exec(async (s) => firstOrUndefined((await s.all('SELECT * FROM registration_entries WHERE id = ?', [id])).map(rows.toEntry)));
  }

  async listEntries(filter: { cluster?: string; spiffeId?: string } = {}): Promise<RegistrationEntryRow[]> {
    const where = whereClause([['cluster = ?', filter.cluster], ['spiffe_id = ?', filter.spiffeId]]);
    return this.exec(async (s) => (await s.all(`SELECT * FROM registration_entries${where.sql} ORDER BY cluster, spiffe_id`, where.params)).map(rows.toEntry));
  }

  async findEntryBySelectors(cluster: string, namespace: string, serviceAccount: string): Promise<RegistrationEntryRow | undefined> {
    // Several entries may carry the same selectors; the oldest wins, so the
    // answer does not change when a newer entry is added.
    return this.exec(async (s) => firstOrUndefined((await s.all(
      `SELECT * FROM registration_entries WHERE cluster = ? AND namespace = ? AND service_account = ?
       ORDER BY created_at, id LIMIT 1`,
      [cluster, namespace, serviceAccount],
    )).map(rows.toEntry)));
  }

  async updateEntry(id: string, change: { ttlSeconds?: number; namespace?: string | null; serviceAccount?: string | null }): Promise<RegistrationEntryRow | undefined> {
    return this.exec(async (s) => {
      const current = firstOrUndefined((await s.all('SELECT * FROM registration_entries WHERE id = ?', [id])).map(rows.toEntry));
      if (!current) return undefined;
      const next = {
        ...current,
        ...(change.ttlSeconds !== undefined ? { ttlSeconds: change.ttlSeconds } : {}),
        ...(change.namespace !== undefined ? { namespace: change.namespace } : {}),
        ...(change.serviceAccount !== undefined ? { serviceAccount: change.serviceAccount } : {}),
      };
      await s.run('UPDATE registration_entries SET ttl_seconds = ?, namespace = ?, service_account = ? WHERE id = ?', [next.ttlSeconds, next.namespace, next.serviceAccount, id]);
      return next;
    });
  }

  async deleteEntry(id: string): Promise<boolean> {
    // join_tokens.entry_id is ON DELETE CASCADE: the entry's tokens go with it.
    return this.exec(async (s) => (await s.run('DELETE FROM registration_entries WHERE id = ?', [id])) > 0);
  }

  async insertJoinToken(row: JoinTokenRow): Promise<void> {
    const params = [row.tokenHash, row.entryId, isoTime(row.expiresAt, 'expiresAt'), isoTimeOrNull(row.usedAt, 'usedAt'),
      isoTime(row.createdAt, 'createdAt'), row.createdBy];
    return this.exec(async (s) => {
      try {
        await s.attempt((a) => a.run('INSERT INTO join_tokens (token_hash, entry_id, expires_at, used_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)', params));
      } catch (error) {
        throw await mapViolation(s, error, {
          unique: () => new InterlockError('IL_ERR_INTERNAL', 'a join token with this hash already exists', { field: 'tokenHash' }),
          foreignKey: () => new InterlockError('IL_ERR_ENTRY_UNKNOWN', `no registration entry has id ${row.entryId}`, { field: 'entryId' }),
        });
      }
    });
  }

  async consumeJoinToken(tokenHash: string, now: string): Promise<ConsumeJoinTokenResult> {
    const at = isoTime(now, 'now');
    return this.exec(async (s) => {
      // One conditional UPDATE is the atomic test-and-set: of two concurrent
      // callers only one can change used_at from NULL.
      const claimed = await s.all(
        'UPDATE join_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *',
        [at, tokenHash, at],
      );
      const token = firstOrUndefined(claimed);
      if (token !== undefined) return { status: 'ok', token: rows.toJoinToken(token) };
      const found = firstOrUndefined(await s.all('SELECT * FROM join_tokens WHERE token_hash = ?', [tokenHash]));
      if (found === undefined) return { status: 'unknown' };
      const row = rows.toJoinToken(found);
      return row.usedAt !== null ? { status: 'used', token: row } : { status: 'expired', token: row };
    });
  }

  async insertSvid(row: SvidRow): Promise<void> {
    const params = [row.serial, row.spiffeId, row.cluster, row.entryId, row.issuerSerial, isoTime(row.notBefore, 'notBefore'),
      isoTime(row.notAfter, 'notAfter'), isoTime(row.issuedAt, 'issuedAt'), row.method, isoTimeOrNull(row.revokedAt, 'revokedAt'),
      row.revocationReason];
    return this.exec(async (s) => {
      try {
        await s.attempt((a) => a.run(
          `INSERT INTO svids (serial, spiffe_id, cluster, entry_id, issuer_serial, not_before, not_after, issued_at, method, revoked_at, revocation_reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          params,
        ));
      } catch (error) {
        throw await mapViolation(s, error, {
          unique: () => new InterlockError('IL_ERR_INTERNAL', `an SVID with serial ${row.serial} was already recorded`, { field: 'serial' }),
          foreignKey: () => new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${row.cluster}`, { field: 'cluster' }),
        });
      }
    });
  }

  async getSvid(serial: string): Promise<SvidRow | undefined> {
    return this.exec(async (s) => firstOrUndefined((await s.all('SELECT * FROM svids WHERE serial = ?', [serial])).map(rows.toSvid)));
  }

  async listSvids(filter: SvidFilter = {}): Promise<SvidRow[]> {
    const limit = checkLimit(filter.limit);
    const where = whereClause([
      ['cluster = ?', filter.cluster],
      ['spiffe_id = ?', filter.spiffeId],
      ['not_after > ?', filter.validAt === undefined ? undefined : isoTime(filter.validAt, 'validAt')],
      [filter.revoked === true ? 'revoked_at IS NOT NULL' : 'revoked_at IS NULL', filter.revoked === undefined ? undefined : null],
    ]);
    const limitSql = limit === undefined ? '' : ' LIMIT ?';
    const params = limit === undefined ? where.params : [...where.params, limit];
    return this.exec(async (s) => (await s.all(`SELECT * FROM svids${where.sql} ORDER BY issued_at, serial${limitSql}`, params)).map(rows.toSvid));
  }

  async revokeSvid(serial: string, at: string, reason: string): Promise<boolean> {
    const when = isoTime(at, 'at');
    // "AND revoked_at IS NULL": the first revocation (time and reason) is kept.
    return this.exec(async (s) => (await s.run(
      'UPDATE svids SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL',
      [when, reason, serial],
    )) > 0);
  }

  async insertAdmin(row: AdminRow): Promise<void> {
    const params = [row.name, jsonText(row.roles, 'roles'), row.tokenHash, row.disabled === true, isoTime(row.createdAt, 'createdAt'), row.createdBy];
    return this.exec(async (s) => {
      try {
        await s.attempt((a) => a.run('INSERT INTO admins (name, roles, token_hash, disabled, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)', params));
      } catch (error) {
        throw await mapViolation(s, error, {
          unique: async () => (await exists(s, 'SELECT 1 FROM admins WHERE name = ?', [row.name]))
            ? new InterlockError('IL_ERR_ADMIN_EXISTS', `an admin named ${row.name} already exists`, { field: 'name' })
            : new InterlockError('IL_ERR_ADMIN_EXISTS', 'another admin already has this token', { field: 'tokenHash' }),
        });
      }
    });
  }

  async updateAdmin(name: string, change: { roles?: readonly AdminRole[]; disabled?: boolean }): Promise<AdminRow | undefined> {
    return this.exec(async (s) => {
      const current = firstOrUndefined((await s.all('SELECT * FROM admins WHERE name = ?', [name])).map(rows.toAdmin));
      if (!current) return undefined;
      const next: AdminRow = { ...current, ...(change.roles ? { roles: [...change.roles] } : {}), ...(change.disabled !== undefined ? { disabled: change.disabled } : {}) };
      await s.run('UPDATE admins SET roles = ?, disabled = ? WHERE name = ?', [jsonText(next.roles, 'roles'), next.disabled === true, name]);
      return next;
    });
  }

  async deleteUnusedJoinTokensBy(createdBy: string): Promise<number> {
    return this.exec(async (s) => s.run('DELETE FROM join_tokens WHERE created_by = ? AND used_at IS NULL', [createdBy]));
  }

  async getAdmin(name: string): Promise<AdminRow | undefined> {
    return this.exec(async (s) => firstOrUndefined((await s.all('SELECT * FROM admins WHERE name = ?', [name])).map(rows.toAdmin)));
  }

  async getAdminByTokenHash(tokenHash: string): Promise<AdminRow | undefined> {
    return this.exec(async (s) => firstOrUndefined((await s.all('SELECT * FROM admins WHERE token_hash = ?', [tokenHash])).map(rows.toAdmin)));
  }

  async listAdmins(): Promise<AdminRow[]> {
    return this.exec(async (s) => (await s.all('SELECT * FROM admins ORDER BY name')).map(rows.toAdmin));
  }

  async insertPolicyVersion(row: Omit<PolicyVersionRow, 'version'>): Promise<PolicyVersionRow> {
    return this.exec((s) => series.insertPolicyVersion(s, row));
  }

  async getPolicyVersion(version: number): Promise<PolicyVersionRow | undefined> {
    // PostgreSQL would fail (and abort a transaction) on 1.5 where SQLite finds nothing.
    if (!Number.isSafeInteger(version)) return undefined;
    return this.exec(async (s) => firstOrUndefined((await s.all('SELECT * FROM policy_versions WHERE version = ?', [version])).map(rows.toPolicyVersion)));
  }

  async listPolicyVersions(): Promise<PolicyVersionRow[]> {
    return this.exec(async (s) => (await s.all('SELECT * FROM policy_versions ORDER BY version')).map(rows.toPolicyVersion));
  }

  async setPolicyStatus(version: number, from: PolicyVersionRow['status'], to: PolicyVersionRow['status'], by: string, at: string, comment?: string | null): Promise<boolean> {
    if (!Number.isSafeInteger(version)) return false;
    const when = isoTime(at, 'at');
    // An absent comment keeps the stored one; null clears it.
    const sql = comment === undefined
      ? 'UPDATE policy_versions SET status = ?, decided_by = ?, decided_at = ? WHERE version = ? AND status = ?'
      : 'UPDATE policy_versions SET status = ?, decided_by = ?, decided_at = ?, comment = ? WHERE version = ? AND status = ?';
    const params = comment === undefined ? [to, by, when, version, from] : [to, by, when, comment, version, from];
    return this.exec(async (s) => (await s.run(sql, params)) > 0);
  }

  async getActivePolicy(): Promise<PolicyVersionRow | undefined> {
    return this.exec(async (s) => firstOrUndefined((await s.all(
      "SELECT * FROM policy_versions WHERE status = 'active' ORDER BY version DESC LIMIT 1",
    )).map(rows.toPolicyVersion)));
  }

  async putService(row: ServiceRow): Promise<ServiceRow> {
    return this.exec((s) => catalog.putService(s, row));
  }

  async getService(cluster: string, name: string): Promise<ServiceRow | undefined> {
    return this.exec((s) => catalog.getService(s, cluster, name));
  }

  async listServices(filter: { cluster?: string } = {}): Promise<ServiceRow[]> {
    return this.exec((s) => catalog.listServices(s, filter));
  }

  async deleteService(cluster: string, name: string): Promise<boolean> {
    return this.exec((s) => catalog.deleteService(s, cluster, name));
  }

  async insertConfigRevision(row: Omit<ConfigRevisionRow, 'revision'>): Promise<ConfigRevisionRow> {
    return this.exec((s) => series.insertConfigRevision(s, row));
  }

  async getConfigRevision(revision: number): Promise<ConfigRevisionRow | undefined> {
    // As for policy versions: PostgreSQL would fail on 1.5 where SQLite finds nothing.
    if (!Number.isSafeInteger(revision)) return undefined;
    return this.exec(async (s) => firstOrUndefined((await s.all('SELECT * FROM config_revisions WHERE revision = ?', [revision])).map(rows.toConfigRevision)));
  }

  async listConfigRevisions(): Promise<ConfigRevisionSummary[]> {
    return this.exec(async (s) => (await s.all('SELECT revision, digest, action, source_revision, actor, created_at FROM config_revisions ORDER BY revision')).map(rows.toConfigRevisionSummary));
  }

  async latestConfigRevision(): Promise<number> {
    return this.exec(async (s) => rows.int(firstOrThrow(await s.all('SELECT COALESCE(MAX(revision), 0) AS revision FROM config_revisions')), 'revision'));
  }

  async appendEvent(type: string, payload: Record<string, unknown>, at: string): Promise<EventRow> {
    return this.exec((s) => series.appendEvent(s, type, payload, at));
  }

  async eventsSince(afterId: number, limit?: number): Promise<EventRow[]> {
    return this.exec((s) => series.eventsSince(s, afterId, limit));
  }

  async latestEventId(): Promise<number> {
    return this.exec(async (s) => rows.int(firstOrThrow(await s.all('SELECT COALESCE(MAX(id), 0) AS id FROM events')), 'id'));
  }

  async appendAudit(event: AuditEvent, at: string): Promise<AuditRecord> {
    return this.exec((s) => series.appendAudit(s, event, at));
  }

  async auditSince(afterSeq: number, limit?: number): Promise<AuditRecord[]> {
    return this.exec((s) => series.auditSince(s, afterSeq, limit));
  }

  async appendGatewayAudit(stream: string, records: readonly AuditRecord[], receivedAt: string): Promise<{ head: number; inserted: number; conflict: number | null }> {
    return this.exec((s) => series.appendGatewayAudit(s, stream, records, receivedAt));
  }

  async gatewayAuditSince(stream: string, afterSeq: number, limit?: number): Promise<AuditRecord[]> {
    return this.exec((s) => series.gatewayAuditSince(s, stream, afterSeq, limit));
  }

  async gatewayAuditHeads(): Promise<Array<{ stream: string; seq: number; hash: string }>> {
    return this.exec((s) => series.gatewayAuditHeads(s));
  }
}
