/**
 * SqlSession over PostgreSQL: either the pool (each statement on any free
 * connection, autocommit) or one client inside an open transaction.
 */
import type pg from 'pg';
import type { InterlockError } from '../../errors.ts';
import type { DbRow } from '../sql/rows.ts';
import type { ConstraintViolation, SqlSession } from '../sql/session.ts';
import { LOCK_CLASS, SEQUENCE_LOCK, type PgConnection } from './connection.ts';

const translated = new Map<string, string>();

/** `?` placeholders to PostgreSQL's `$1, $2…` (our SQL has no `?` in literals). */
export function toPostgresSql(sql: string): string {
  let out = translated.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${(n += 1)}`);
    translated.set(sql, out);
  }
  return out;
}

export class PgSession implements SqlSession {
  constructor(
    private readonly connection: PgConnection,
    /** A client in an open transaction, or undefined for the pool. */
    private readonly client: pg.PoolClient | undefined,
  ) {}

  async all(sql: string, params: readonly unknown[] = []): Promise<DbRow[]> {
    return (await this.query(sql, params)).rows as DbRow[];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  async sequenced<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    if (this.client === undefined) {
      return this.connection.inTransaction((client) => new PgSession(this.connection, client).sequenced(fn));
    }
    // A transaction-level lock: released by COMMIT or ROLLBACK, never
    // earlier, so the next writer reads this one's committed row. Every
    // statement in READ COMMITTED takes a fresh snapshot, so the reads after
    // the lock see what the previous holder committed.
    await this.query('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_CLASS, SEQUENCE_LOCK]);
    return fn(this);
  }

  async notify(channel: string): Promise<void> {
    await this.query('SELECT pg_notify(?, ?)', [channel, '']);
  }

  async attempt<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    if (this.client === undefined) return fn(this);
    // Without the savepoint one failed INSERT would abort the caller's whole
    // transaction, where SQLite only undoes the statement.
    await this.query('SAVEPOINT interlock_attempt');
    try {
      const result = await fn(this);
      await this.query('RELEASE SAVEPOINT interlock_attempt');
      return result;
    } catch (error) {
      await this.query('ROLLBACK TO SAVEPOINT interlock_attempt');
      await this.query('RELEASE SAVEPOINT interlock_attempt');
      throw error;
    }
  }

  violation(error: unknown): ConstraintViolation | undefined {
    const { code, detail, constraint } = error as { code?: unknown; detail?: unknown; constraint?: unknown };
    if (code === '23505') {
      // detail: 'Key (cluster, spiffe_id)=(east, spiffe://…) already exists.'
      const match = typeof detail === 'string' ? /^Key \(([^)]*)\)=/.exec(detail) : null;
      const columns = match?.[1]?.split(', ') ?? (typeof constraint === 'string' ? [constraint] : []);
      return { kind: 'unique', columns };
    }
    if (code === '23503') return { kind: 'foreign-key' };
    if (code === '23514') return { kind: 'check' };
    return undefined;
  }

  toStoreError(error: unknown): InterlockError {
    return this.connection.error(error);
  }

  private async query(sql: string, params: readonly unknown[] = []): Promise<pg.QueryResult> {
    this.connection.assertOpen();
    try {
      return await (this.client ?? this.connection.pool).query(toPostgresSql(sql), params as unknown[]);
    } catch (error) {
      // Constraint errors stay raw here so the operation can name them (sql/ops.ts).
      if (this.violation(error) !== undefined) throw error;
      throw this.connection.error(error);
    }
  }
}
