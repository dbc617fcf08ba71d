/**
 * The declared service catalogue (interlock apply's Service documents),
 * written once for both stores like the rest of sql/ops.ts.
 */
import { InterlockError } from '../../errors.ts';
import type { ServiceRow } from '../types.ts';
import { firstOrThrow, firstOrUndefined, mapViolation, whereClause } from './query.ts';
import * as rows from './rows.ts';
import type { SqlSession } from './session.ts';
import { isoTime, jsonText } from './values.ts';

export async function putService(s: SqlSession, row: ServiceRow): Promise<ServiceRow> {
  const params = [row.cluster, row.name, row.namespace, row.classification, jsonText(row.critical, 'critical'),
    isoTime(row.createdAt, 'createdAt'), row.createdBy, isoTime(row.updatedAt, 'updatedAt'), row.updatedBy];
  try {
    // A replaced service keeps who declared it first; updated_* say who changed it last.
    const stored = await s.attempt((a) => a.all(
      `INSERT INTO services (cluster, name, namespace, classification, critical, created_at, created_by, updated_at, updated_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (cluster, name) DO UPDATE SET namespace = excluded.namespace, classification = excluded.classification,
         critical = excluded.critical, updated_at = excluded.updated_at, updated_by = excluded.updated_by
       RETURNING *`,
      params,
    ));
    return rows.toService(firstOrThrow(stored));
  } catch (error) {
    throw await mapViolation(s, error, {
      foreignKey: () => new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${row.cluster} for service ${row.name}`, { field: 'cluster' }),
      check: () => new InterlockError('IL_ERR_INTERNAL', `service ${row.cluster}/${row.name}: classification ${JSON.stringify(row.classification)} is not public, internal, confidential or restricted`, { field: 'classification' }),
    });
  }
}

export async function getService(s: SqlSession, cluster: string, name: string): Promise<ServiceRow | undefined> {
  return firstOrUndefined((await s.all('SELECT * FROM services WHERE cluster = ? AND name = ?', [cluster, name])).map(rows.toService));
}

export async function listServices(s: SqlSession, filter: { cluster?: string }): Promise<ServiceRow[]> {
  const where = whereClause([['cluster = ?', filter.cluster]]);
  return (await s.all(`SELECT * FROM services${where.sql} ORDER BY cluster, name`, where.params)).map(rows.toService);
}

export async function deleteService(s: SqlSession, cluster: string, name: string): Promise<boolean> {
  return (await s.run('DELETE FROM services WHERE cluster = ? AND name = ?', [cluster, name])) > 0;
}
