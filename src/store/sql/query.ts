/** Small helpers for building statements and reading their results. */
import { InterlockError } from '../../errors.ts';
import type { SqlSession } from './session.ts';

/**
 * " WHERE a = ? AND b = ?" from the conditions whose value is not undefined.
 * A null value means "include this condition, it takes no parameter".
 */
export function whereClause(conditions: ReadonlyArray<readonly [string, unknown]>): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [sql, value] of conditions) {
    if (value === undefined) continue;
    parts.push(sql);
    if (value !== null) params.push(value);
  }
  return { sql: parts.length === 0 ? '' : ` WHERE ${parts.join(' AND ')}`, params };
}

export function firstOrUndefined<T>(list: readonly T[]): T | undefined {
  return list[0];
}

export function firstOrThrow<T>(list: readonly T[]): T {
  const first = list[0];
  if (first === undefined) throw new InterlockError('IL_ERR_INTERNAL', 'the database returned no row where one was expected');
  return first;
}

export async function exists(session: SqlSession, sql: string, params: readonly unknown[]): Promise<boolean> {
  return (await session.all(sql, params)).length > 0;
}

export interface ViolationMap {
  unique?: (columns: readonly string[]) => InterlockError | Promise<InterlockError>;
  foreignKey?: () => InterlockError;
  check?: () => InterlockError;
}

/**
 * The InterlockError a constraint violation means for this operation;
 * anything else unchanged. Call it outside `attempt` (after its savepoint
 * rolled back), so a handler may still query inside a PostgreSQL transaction.
 */
export async function mapViolation(session: SqlSession, error: unknown, map: ViolationMap): Promise<unknown> {
  const violation = session.violation(error);
  if (violation === undefined) return error;
  if (violation.kind === 'unique' && map.unique) return map.unique(violation.columns);
  if (violation.kind === 'foreign-key' && map.foreignKey) return map.foreignKey();
  if (violation.kind === 'check' && map.check) return map.check();
  return error;
}
