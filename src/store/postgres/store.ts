/**
 * The PostgreSQL store, for several control-plane replicas over one
 * database. Correctness across replicas rests on PostgreSQL, not on this
 * process: numbered series are assigned under a transaction-level advisory
 * lock (postgres/session.ts), the join-token claim is one conditional
 * UPDATE, and runExclusive is a session-level advisory lock.
 */
import type pg from 'pg';
import { systemClock, type Clock } from '../../clock.ts';
import { SCHEMA_MIGRATIONS_TABLE, migrationFailed, nextMigration, type AppliedMigration } from '../migrations.ts';
import { Mutex } from '../mutex.ts';
import { SqlOps } from '../sql/ops.ts';
import { EVENTS_CHANNEL } from '../sql/series.ts';
import { assertNotInTransaction, transactionScope } from '../tx-guard.ts';
import type { Store, StoreOps } from '../types.ts';
import { JOB_LOCK_CLASS, LOCK_CLASS, MIGRATION_LOCK, PgConnection, type PgPoolOptions } from './connection.ts';
import { PgSession } from './session.ts';

export interface PostgresStoreOptions extends PgPoolOptions {
  /** Stamps schema_migrations.applied_at; every other time is passed in by the caller. */
  readonly clock?: Clock;
}

/**
 * Connects to the database at `url` (postgres:// or postgresql://) and checks
 * that it answers. The password should come from PGPASSWORD or
 * `passwordFile`, not the URL. Does not migrate: call migrate(), or use openStore().
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const connection = new PgConnection(url, options);
  try {
    const { client, release } = await connection.checkout();
    try {
      await connection.query(client, 'SELECT 1');
    } finally {
      release();
    }
  } catch (error) {
    connection.closed = true;
    await connection.pool.end().catch(() => undefined);
    throw connection.error(error);
  }
  return new PostgresStore(connection, options.clock ?? systemClock);
}

class PostgresStore extends SqlOps implements Store {
  readonly kind = 'postgres' as const;

  constructor(
    private readonly connection: PgConnection,
    private readonly clock: Clock,
  ) {
    // Outside a transaction every call runs on the pool; see tx-guard.ts for
    // why a call from inside this store's own transaction is refused.
    super(async (fn) => {
      assertNotInTransaction(connection);
      connection.assertOpen();
      return fn(new PgSession(connection, undefined));
    });
  }

  async migrate(): Promise<number> {
    const { connection } = this;
    assertNotInTransaction(connection);
    for (;;) {
      // The advisory lock makes replicas that start together migrate one
      // after the other; the second then finds nothing left to do.
      const done = await connection.inTransaction(async (client) => {
        await connection.query(client, 'SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, MIGRATION_LOCK]);
        await connection.query(client, SCHEMA_MIGRATIONS_TABLE.postgres);
        const applied = (await connection.query(client, 'SELECT version, name FROM schema_migrations ORDER BY version')).rows as AppliedMigration[];
        const next = nextMigration(applied);
        if (next === undefined) return applied.length;
        try {
          await client.query(next.postgres);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [next.version, next.name, this.clock.now().toISOString()]);
        } catch (error) {
          throw migrationFailed(next, connection.error(error));
        }
        return undefined;
      });
      if (done !== undefined) return done;
    }
  }

  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const { connection } = this;
    assertNotInTransaction(connection);
    const { client, release } = await connection.checkout();
    let destroy = false;
    try {
      await connection.query(client, 'BEGIN');
      const scope = transactionScope(connection);
      const session = new PgSession(connection, client);
      // Calls on one tx run one at a time: they share one connection, and a
      // multi-statement call (appendAudit) must not interleave with another.
      const txMutex = new Mutex();
      const tx = new SqlOps((op) => txMutex.run(() => {
        scope.assertOpen();
        return op(session);
      }));
      try {
        const result = await scope.run(() => fn(tx));
        // Let calls that fn started but did not await finish inside the transaction.
        await txMutex.run(() => undefined);
        scope.close();
        await connection.commit(client);
        return result;
      } catch (error) {
        scope.close();
        destroy = !(await connection.rollback(client));
        throw error;
      }
    } finally {
      release(destroy);
    }
  }

  /**
   * A session-level advisory lock on a dedicated connection, held while `fn`
   * runs: exclusive across every replica on the database. If that connection
   * dies mid-job, PostgreSQL releases the lock and another replica may start
   * the job while this one still runs, so a job must tolerate a rare overlap.
   */
  async runExclusive<T>(job: string, fn: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }> {
    const { connection } = this;
    const { client, release } = await connection.checkout();
    let locked = false;
    let destroy = false;
    try {
      const claim = await connection.query(client, 'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [JOB_LOCK_CLASS, job]);
      locked = (claim.rows[0] as { locked?: unknown } | undefined)?.locked === true;
      if (!locked) return { ran: false };
      return { ran: true, result: await fn() };
    } finally {
      if (locked) destroy = !(await unlock(client, job));
      release(destroy);
    }
  }

  async watchEvents(onAppended: () => void): Promise<() => Promise<void>> {
    this.connection.assertOpen();
    // A connection of its own, kept for as long as the watch lasts: LISTEN is per session.
    const client = await this.connection.pool.connect();
    const onNotification = () => onAppended();
    client.on('notification', onNotification);
    client.on('error', () => undefined); // a dropped connection only means falling back to the poll
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    return async () => {
      client.off('notification', onNotification);
      await client.query(`UNLISTEN ${EVENTS_CHANNEL}`).catch(() => undefined);
      client.release();
    };
  }

  async close(): Promise<void> {
    // From inside a transaction, pool.end() would wait for that transaction's client forever.
    assertNotInTransaction(this.connection);
    if (this.connection.closed) return;
    this.connection.closed = true;
    await this.connection.pool.end();
  }
}

async function unlock(client: pg.PoolClient, job: string): Promise<boolean> {
  try {
    const result = await client.query('SELECT pg_advisory_unlock($1, hashtext($2)) AS unlocked', [JOB_LOCK_CLASS, job]);
    return (result.rows[0] as { unlocked?: unknown } | undefined)?.unlocked === true;
  } catch {
    // Destroying the connection ends the session, which releases the lock.
    return false;
  }
}
