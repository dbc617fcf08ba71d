/**
 * What the shared SQL operations (sql/ops.ts) need from a database driver.
 * SQL is written once with `?` placeholders and the subset both SQLite and
 * PostgreSQL understand (RETURNING, ON CONFLICT … DO UPDATE, LIMIT); each
 * driver translates placeholders and parameter types.
 */
import type { InterlockError } from '../../errors.ts';
import type { DbRow } from './rows.ts';

/** A constraint a statement broke, in driver-neutral terms. */
export type ConstraintViolation =
  | { readonly kind: 'unique'; readonly columns: readonly string[] }
  | { readonly kind: 'foreign-key' }
  | { readonly kind: 'check' };

export interface SqlSession {
  all(sql: string, params?: readonly unknown[]): Promise<DbRow[]>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs `fn` atomically while holding the store's one sequence lock, which
   * orders every writer of a numbered series (audit seq, policy versions,
   * event ids) across connections and replicas. Inside a transaction the
   * lock is held until that transaction ends.
   */
  sequenced<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` so that if it fails, an enclosing transaction is still usable
   * (PostgreSQL aborts the whole transaction on any failed statement unless
   * a savepoint isolates it; SQLite only undoes the failed statement).
   */
  attempt<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Which constraint `error` reports breaking, if it is a constraint error. */
  violation(error: unknown): ConstraintViolation | undefined;
  /** Any other driver error as an InterlockError (InterlockErrors pass through). */
  toStoreError(error: unknown): InterlockError;
  /** Tells other replicas something was appended (PostgreSQL NOTIFY, delivered at commit); absent where one process owns the store. */
  notify?(channel: string): Promise<void>;
}

/**
 * Runs a store operation on a session: the outer store checks out a session
 * (and takes the SQLite mutex); a transaction hands out its own.
 */
export type Enter = <T>(fn: (session: SqlSession) => Promise<T>) => Promise<T>;
