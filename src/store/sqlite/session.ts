/**
 * SqlSession over one better-sqlite3 connection. better-sqlite3 is
 * synchronous; the promises here only fit the shared interface. Callers must
 * hold the store mutex (sqlite/store.ts), which is what makes a multi-
 * statement section atomic with respect to the rest of the process.
 */
import type Database from 'better-sqlite3';
import { InterlockError } from '../../errors.ts';
import type { DbRow } from '../sql/rows.ts';
import type { ConstraintViolation, SqlSession } from '../sql/session.ts';

// Result codes that mean the file cannot be used now, rather than a bug
// (https://www.sqlite.org/rescode.html).
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|NOTADB|CORRUPT|PERM|AUTH|NOLFS|PROTOCOL)/;

export class SqliteSession implements SqlSession {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  async all(sql: string, params: readonly unknown[] = []): Promise<DbRow[]> {
    const statement = this.prepare(sql);
    if (!statement.reader) {
      statement.run(...bind(params));
      return [];
    }
    return statement.all(...bind(params)) as DbRow[];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.prepare(sql).run(...bind(params)).changes;
  }

  async sequenced<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    // Inside a transaction: it began IMMEDIATE, so it already holds SQLite's
    // one write lock, and the store mutex keeps the rest of the process out.
    if (this.db.inTransaction) return fn(this);
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(this);
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  async attempt<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    // A failed statement undoes only itself; the transaction stays usable
    // (https://www.sqlite.org/lang_conflict.html, ABORT is the default).
    return fn(this);
  }

  violation(error: unknown): ConstraintViolation | undefined {
    const code = errorCode(error);
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      // "UNIQUE constraint failed: registration_entries.cluster, registration_entries.spiffe_id"
      const list = (error as Error).message.split(': ')[1] ?? '';
      return { kind: 'unique', columns: list.split(', ').map((name) => name.slice(name.lastIndexOf('.') + 1)) };
    }
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { kind: 'foreign-key' };
    if (code === 'SQLITE_CONSTRAINT_CHECK') return { kind: 'check' };
    return undefined;
  }

  toStoreError(error: unknown): InterlockError {
    return sqliteError(error);
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** Any error from better-sqlite3 as an InterlockError. */
export function sqliteError(error: unknown, hint?: string): InterlockError {
  if (error instanceof InterlockError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error) ?? '';
  if (UNAVAILABLE.test(code) || message.includes('database connection is not open')) {
    return new InterlockError('IL_ERR_STORE_UNAVAILABLE', `SQLite store unavailable: ${message} (${code || 'closed'})`, {
      field: 'store',
      hint: hint ?? (code.startsWith('SQLITE_BUSY') ? 'another process holds the database file; only one Interlock server may use a SQLite store' : undefined),
      cause: error,
    });
  }
  const missingTable = message.startsWith('no such table');
  return new InterlockError('IL_ERR_INTERNAL', `SQLite: ${message}`, {
    field: 'store',
    hint: missingTable ? 'the schema is missing; run migrate() (openStore does)' : undefined,
    cause: error,
  });
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

// better-sqlite3 binds numbers, strings, bigints, buffers and null only.
function bind(params: readonly unknown[]): unknown[] {
  return params.map((value) => (value === true ? 1 : value === false ? 0 : value === undefined ? null : value));
}
