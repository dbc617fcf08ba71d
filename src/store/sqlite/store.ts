/**
 * The embedded store: one SQLite file, owned by one process.
 *
 * better-sqlite3 is synchronous, but a transaction's `fn` is async, so other
 * callers could run statements while it awaits — inside its BEGIN … COMMIT.
 * Every store call therefore goes through one FIFO mutex per database file
 * in the process (shared by every store object opened on that file): a call
 * or a whole transaction runs alone. Statements take microseconds, so the
 * mutex costs little; a transaction that awaits slow work holds everyone up,
 * which is why types.ts asks that a transaction hold only database calls.
 * Sharing it per file also means a second store object on the same file
 * waits its turn instead of busy-waiting on SQLite's lock, which would block
 * the event loop and with it the transaction it waits for.
 */
import { closeSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../clock.ts';
import { InterlockError } from '../../errors.ts';
import { SCHEMA_MIGRATIONS_TABLE, migrationFailed, nextMigration, type AppliedMigration } from '../migrations.ts';
import { Mutex } from '../mutex.ts';
import { SqlOps } from '../sql/ops.ts';
import type { SqlSession } from '../sql/session.ts';
import { assertNotInTransaction, transactionScope } from '../tx-guard.ts';
import type { Store, StoreOps } from '../types.ts';
import { SqliteSession, sqliteError } from './session.ts';

export interface SqliteStoreOptions {
  /** Stamps schema_migrations.applied_at; every other time is passed in by the caller. */
  readonly clock?: Clock;
}

/**
 * Opens (creating if needed) the SQLite store at `path`, or an in-memory one
 * for ':memory:'. Does not migrate: call migrate(), or use openStore().
 */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const db = openDatabase(path);
  return new SqliteStore(new SqliteCore(db, fileState(path === ':memory:' ? undefined : realpathSync(path)), options.clock ?? systemClock));
}

function openDatabase(path: string): Database.Database {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InterlockError('IL_ERR_CONFIG_INVALID', 'the SQLite store needs a file path', { field: 'store', hint: 'e.g. sqlite:/var/lib/interlock/interlock.db' });
  }
  const hint = `check that ${path} is an Interlock SQLite file and that its folder is writable`;
  let db: Database.Database | undefined;
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Create the file ourselves so it starts 0600: it holds sealed CA keys
      // and admin token hashes. SQLite gives its -wal and -shm files the
      // database file's mode. An existing file keeps the mode it has.
      try {
        closeSync(openSync(path, 'wx', 0o600));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    db = new Database(path);
    // WAL: readers do not block the writer, and a commit is one append to
    // the log (https://www.sqlite.org/wal.html). For an in-memory database
    // SQLite keeps journal_mode=memory, which is fine for tests.
    db.pragma('journal_mode = WAL');
    // NORMAL is safe with WAL: the database cannot be corrupted, and a commit
    // survives a crash of the process; only a power loss or OS crash can undo
    // the last commits before the next checkpoint
    // (https://www.sqlite.org/pragma.html#pragma_synchronous). FULL would
    // fsync on every commit for that last bit of durability.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Wait up to 5 s for another process (a backup, the sqlite3 shell) to
    // release a lock before failing with SQLITE_BUSY.
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (error) {
    db?.close();
    const message = error instanceof Error ? error.message : String(error);
    throw new InterlockError('IL_ERR_STORE_UNAVAILABLE', `cannot open the SQLite store at ${path}: ${message}`, { field: 'store', hint, cause: error });
  }
}

/** What every store object on one database file in this process shares. */
interface FileState {
  readonly mutex: Mutex;
  /** Jobs running under runExclusive. */
  readonly jobs: Set<string>;
  users: number;
}

const files = new Map<string, FileState>();

/** The shared state of `file` (each in-memory database is its own). */
function fileState(file: string | undefined): { state: FileState; release(): void } {
  const fresh = (): FileState => ({ mutex: new Mutex(), jobs: new Set(), users: 0 });
  const state = file === undefined ? fresh() : (files.get(file) ?? fresh());
  if (file !== undefined) files.set(file, state);
  state.users += 1;
  return {
    state,
    release: () => {
      state.users -= 1;
      if (file !== undefined && state.users === 0) files.delete(file);
    },
  };
}

class SqliteCore {
  readonly session: SqliteSession;
  /** Shared per file: the owner of its transactions for tx-guard.ts, too. */
  readonly file: FileState;
  closed = false;

  constructor(
    readonly db: Database.Database,
    private readonly shared: { state: FileState; release(): void },
    readonly clock: Clock,
  ) {
    this.session = new SqliteSession(db);
    this.file = shared.state;
  }

  releaseFile(): void {
    this.shared.release();
  }

  get mutex(): Mutex {
    return this.file.mutex;
  }

  /** Runs one store call alone (see the module comment). */
  async enter<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    assertNotInTransaction(this.file);
    return this.mutex.run(() => {
      this.assertOpen();
      return fn(this.session);
    });
  }

  assertOpen(): void {
    if (this.closed) throw new InterlockError('IL_ERR_STORE_UNAVAILABLE', 'the SQLite store is closed', { field: 'store' });
  }

  exec(sql: string): void {
    try {
      this.db.exec(sql);
    } catch (error) {
      throw sqliteError(error);
    }
  }
}

class SqliteStore extends SqlOps implements Store {
  readonly kind = 'sqlite' as const;

  constructor(private readonly core: SqliteCore) {
    super((fn) => core.enter(fn));
  }

  async migrate(): Promise<number> {
    const { core } = this;
    return core.enter(async () => {
      for (;;) {
        // BEGIN IMMEDIATE takes the write lock before reading the applied
        // versions, so two processes starting at once migrate one at a time.
        core.exec('BEGIN IMMEDIATE');
        try {
          core.exec(SCHEMA_MIGRATIONS_TABLE.sqlite);
          const applied = core.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as AppliedMigration[];
          const next = nextMigration(applied);
          if (next === undefined) {
            core.exec('COMMIT');
            return applied.length;
          }
          try {
            core.db.exec(next.sqlite);
            core.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(next.version, next.name, core.clock.now().toISOString());
          } catch (error) {
            throw migrationFailed(next, error);
          }
          core.exec('COMMIT');
        } catch (error) {
          if (core.db.inTransaction) core.db.exec('ROLLBACK');
          throw sqliteError(error);
        }
      }
    });
  }

  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const { core } = this;
    return core.enter(async (session) => {
      const scope = transactionScope(core.file);
      // Calls on one tx also run one at a time, so a multi-statement call
      // (appendAudit reads the tip, then inserts) is never interleaved with
      // another call on the same tx.
      const txMutex = new Mutex();
      const tx = new SqlOps((op) => txMutex.run(() => {
        scope.assertOpen();
        return op(session);
      }));
      // IMMEDIATE takes the write lock now, not at the first write, so the
      // transaction cannot fail half-way with SQLITE_BUSY
      // (https://www.sqlite.org/lang_transaction.html).
      core.exec('BEGIN IMMEDIATE');
      try {
        const result = await scope.run(() => fn(tx));
        // Let calls that fn started but did not await finish inside the transaction.
        await txMutex.run(() => undefined);
        scope.close();
        core.exec('COMMIT');
        return result;
      } catch (error) {
        scope.close();
        if (core.db.inTransaction) core.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  /**
   * Exclusive within this process only: one process owns a SQLite file, so
   * that is every replica there is. Two processes on one file (which this
   * store does not support) would each run the job.
   */
  async runExclusive<T>(job: string, fn: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }> {
    this.core.assertOpen();
    const running = this.core.file.jobs;
    if (running.has(job)) return { ran: false };
    running.add(job);
    try {
      return { ran: true, result: await fn() };
    } finally {
      running.delete(job);
    }
  }

  async close(): Promise<void> {
    const { core } = this;
    // From inside a transaction this would wait for that transaction forever.
    assertNotInTransaction(core.file);
    // Through the mutex: a transaction in flight finishes first.
    await core.mutex.run(() => {
      if (core.closed) return;
      core.closed = true;
      core.db.close();
      core.releaseFile();
    });
  }
}
