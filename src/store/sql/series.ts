/**
 * The numbered series: policy versions, configuration revisions, event ids
 * and the audit chain. Each number is taken under the session's sequence
 * lock (sql/session.ts), in the same transaction as the row that uses it,
 * and the lock is held until that transaction commits. So no two writers on any replica take the same number,
 * a rolled-back writer leaves no trace, and numbers become visible in order.
 */
import { nextRecord, type AuditEvent, type AuditRecord } from '../../audit/record.ts';
import { fixedClock } from '../../clock.ts';
import { InterlockError } from '../../errors.ts';
import type { ConfigRevisionRow, EventRow, PolicyVersionRow } from '../types.ts';
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

/** Like policy versions: max + 1 under the sequence lock, so revisions run 1, 2, 3 without gaps. */
export async function insertConfigRevision(s: SqlSession, row: Omit<ConfigRevisionRow, 'revision'>): Promise<ConfigRevisionRow> {
  const document = jsonText(row.document, 'document');
  const params = [row.digest, document, row.action, row.sourceRevision, row.actor, isoTime(row.createdAt, 'createdAt')];
  return s.sequenced(async (q) => {
    const next = rows.int(firstOrThrow(await q.all('SELECT COALESCE(MAX(revision), 0) + 1 AS next FROM config_revisions')), 'next');
    const inserted = await q.all(
      'INSERT INTO config_revisions (revision, digest, document, action, source_revision, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
      [next, ...params],
    );
    return rows.toConfigRevision(firstOrThrow(inserted));
  });
}

export const EVENTS_CHANNEL = 'interlock_events';

export async function appendEvent(s: SqlSession, type: string, payload: Record<string, unknown>, at: string): Promise<EventRow> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InterlockError('IL_ERR_INTERNAL', 'event payload must be a JSON object', { field: 'payload' });
  }
  const params = [type, jsonText(payload, 'payload'), isoTime(at, 'at')];
  // Ids may have gaps (identity / AUTOINCREMENT), but under the lock they
  // become visible in increasing order: a replica tailing eventsSince() can
  // never see id 7 and later find that 6 committed behind its cursor.
  return s.sequenced(async (q) => {
    const event = rows.toEvent(firstOrThrow(await q.all('INSERT INTO events (type, payload, created_at) VALUES (?, ?, ?) RETURNING *', params)));
    // Other replicas poll the table; a notification (sent at commit) lets them look at once.
    await q.notify?.(EVENTS_CHANNEL);
    return event;
  });
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

/**
 * Appends a gateway's records to its stream. Records at or below the stored
 * head must be the very records stored (a batch resent after a lost answer);
 * the next ones must link to the head (record.ts rules, checked by the
 * caller). Stops at the first record that is neither, and returns the head,
 * so the sender resends from there.
 */
export async function appendGatewayAudit(s: SqlSession, stream: string, records: readonly AuditRecord[], receivedAt: string): Promise<{ head: number; inserted: number; conflict: number | null }> {
  return s.sequenced(async (q) => {
    const tip = firstOrUndefined(await q.all('SELECT seq, hash FROM gateway_audit WHERE stream = ? ORDER BY seq DESC LIMIT 1', [stream]));
    let head = tip ? rows.int(tip, 'seq') : 0;
    let headHash = tip ? String(tip.hash) : '0'.repeat(64);
    let inserted = 0;
    for (const record of records) {
      if (record.seq <= head) {
        const stored = firstOrUndefined(await q.all('SELECT hash FROM gateway_audit WHERE stream = ? AND seq = ?', [stream, record.seq]));
        if (!stored || String(stored.hash) !== record.hash) return { head, inserted, conflict: record.seq };
        continue;
      }
      if (record.seq !== head + 1 || record.prev !== headHash) return { head, inserted, conflict: record.seq === head + 1 ? record.seq : null };
      const traceId = typeof record.data.traceId === 'string' ? record.data.traceId : null;
      await q.run('INSERT INTO gateway_audit (stream, seq, hash, time, type, trace_id, record, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        stream, record.seq, record.hash, isoTime(record.time, 'time'), indexText(record.type), traceId, JSON.stringify(record), isoTime(receivedAt, 'receivedAt'),
      ]);
      head = record.seq;
      headHash = record.hash;
      inserted++;
    }
    return { head, inserted, conflict: null };
  });
}

export async function gatewayAuditSince(s: SqlSession, stream: string, afterSeq: number, limit: number | undefined): Promise<AuditRecord[]> {
  const after = checkCursor(afterSeq, 'afterSeq');
  const max = checkLimit(limit);
  const sql = `SELECT record FROM gateway_audit WHERE stream = ? AND seq > ? ORDER BY seq${max === undefined ? '' : ' LIMIT ?'}`;
  return (await s.all(sql, max === undefined ? [stream, after] : [stream, after, max])).map(rows.toAuditRecord);
}

export async function gatewayAuditHeads(s: SqlSession): Promise<Array<{ stream: string; seq: number; hash: string }>> {
  const found = await s.all('SELECT g.stream, g.seq, g.hash FROM gateway_audit g JOIN (SELECT stream, MAX(seq) AS seq FROM gateway_audit GROUP BY stream) m ON g.stream = m.stream AND g.seq = m.seq ORDER BY g.stream');
  return found.map((r) => ({ stream: String(r.stream), seq: rows.int(r, 'seq'), hash: String(r.hash) }));
}
