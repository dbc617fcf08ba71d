/**
 * The numbered series: policy versions, event ids and the audit chain. Each
 * number is taken under the session's sequence lock (sql/session.ts), in the
 * same transaction as the row that uses it, and the lock is held until that
 * transaction commits. So no two writers on any replica take the same number,
 * a rolled-back writer leaves no trace, and numbers become visible in order.
 */
import { nextRecord, type AuditEvent, type AuditRecord } from '../../audit/record.ts';
import { fixedClock } from '../../clock.ts';
import { InterlockError } from '../../errors.ts';
import type { EventRow, PolicyVersionRow } from '../types.ts';
import { firstOrThrow, firstOrUndefined } from './query.ts';
import * as rows from './rows.ts';
import type { SqlSession } from './session.ts';
import { checkCursor, checkLimit, isoTime, isoTimeOrNull, jsonText } from './values.ts';

export async function insertPolicyVersion(s: SqlSession, row: Omit<PolicyVersionRow, 'version'>): Promise<PolicyVersionRow> {
  const params = [row.text, row.digest, row.status, row.proposedBy, isoTime(row.proposedAt, 'proposedAt'), row.decidedBy,
    isoTimeOrNull(row.decidedAt, 'decidedAt'), row.comment];
  // max + 1 rather than a SERIAL: a sequence would leave a gap for every
  // rolled-back insert, and versions must run 1, 2, 3 without gaps.
  return s.sequenced(async (q) => {
    const next = rows.int(firstOrThrow(await q.all('SELECT COALESCE(MAX(version), 0) + 1 AS next FROM policy_versions')), 'next');
    const inserted = await q.all(
      `INSERT INTO policy_versions (version, text, digest, status, proposed_by, proposed_at, decided_by, decided_at, comment)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [next, ...params],
    );
    return rows.toPolicyVersion(firstOrThrow(inserted));
  });
}

export async function appendEvent(s: SqlSession, type: string, payload: Record<string, unknown>, at: string): Promise<EventRow> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InterlockError('IL_ERR_INTERNAL', 'event payload must be a JSON object', { field: 'payload' });
  }
  const params = [type, jsonText(payload, 'payload'), isoTime(at, 'at')];
  // Ids may have gaps (identity / AUTOINCREMENT), but under the lock they
  // become visible in increasing order: a replica tailing eventsSince() can
  // never see id 7 and later find that 6 committed behind its cursor.
  return s.sequenced(async (q) =>
    rows.toEvent(firstOrThrow(await q.all('INSERT INTO events (type, payload, created_at) VALUES (?, ?, ?) RETURNING *', params))));
}

export async function eventsSince(s: SqlSession, afterId: number, limit: number | undefined): Promise<EventRow[]> {
  const { sql, params } = sinceQuery('*', 'events', 'id', checkCursor(afterId, 'afterId'), checkLimit(limit));
  return (await s.all(sql, params)).map(rows.toEvent);
}

export async function appendAudit(s: SqlSession, event: AuditEvent, at: string): Promise<AuditRecord> {
  const clock = fixedClock(isoTime(at, 'at'));
  return s.sequenced(async (q) => {
    const tip = firstOrUndefined(await q.all('SELECT record FROM audit_records ORDER BY seq DESC LIMIT 1'));
    const record = nextRecord(tip === undefined ? undefined : rows.toAuditRecord(tip), event, clock);
    await q.run(
      'INSERT INTO audit_records (seq, hash, prev, time, type, actor, record) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [record.seq, record.hash, record.prev, record.time, indexText(record.type), record.actor === undefined ? null : indexText(record.actor), JSON.stringify(record)],
    );
    return record;
  });
}

export async function auditSince(s: SqlSession, afterSeq: number, limit: number | undefined): Promise<AuditRecord[]> {
  const { sql, params } = sinceQuery('record', 'audit_records', 'seq', checkCursor(afterSeq, 'afterSeq'), checkLimit(limit));
  return (await s.all(sql, params)).map(rows.toAuditRecord);
}

function sinceQuery(columns: string, table: string, key: string, after: number, limit: number | undefined): { sql: string; params: unknown[] } {
  const sql = `SELECT ${columns} FROM ${table} WHERE ${key} > ? ORDER BY ${key}${limit === undefined ? '' : ' LIMIT ?'}`;
  return { sql, params: limit === undefined ? [after] : [after, limit] };
}

// The type and actor columns only index the record, which is kept whole in
// `record`; PostgreSQL text cannot hold U+0000, so it is replaced there.
function indexText(value: string): string {
  return value.replace(/\u0000/g, '\uFFFD');
}
