/**
 * Opens the store a configuration names, migrated and ready:
 *   sqlite:<path>          the embedded default (one server process)
 *   sqlite::memory:        a throw-away store, for tests
 *   postgres://… | postgresql://…   PostgreSQL, for several replicas
 */
import type { Clock } from '../clock.ts';
import { InterlockError } from '../errors.ts';
import { openPostgresStore, type PostgresStoreOptions } from './postgres/store.ts';
import { openSqliteStore } from './sqlite/store.ts';
import type { Store } from './types.ts';

export interface OpenStoreOptions {
  readonly clock?: Clock;
  /** PostgreSQL only: file holding the password, read at each new connection. */
  readonly passwordFile?: PostgresStoreOptions['passwordFile'];
  /** PostgreSQL only: connections in the pool (default 10). */
  readonly poolSize?: number;
  /** PostgreSQL only: how long to wait for a connection (default 10 000 ms). */
  readonly connectTimeoutMs?: number;
}

const HINT = 'use sqlite:/var/lib/interlock/interlock.db, sqlite::memory: or postgres://user@host:5432/database';

export async function openStore(spec: string, options: OpenStoreOptions = {}): Promise<Store> {
  const store = await openBySpec(spec, options);
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

function openBySpec(spec: string, options: OpenStoreOptions): Promise<Store> {
  if (typeof spec === 'string' && spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path.length === 0) {
      throw new InterlockError('IL_ERR_CONFIG_INVALID', 'the store spec "sqlite:" names no file', { field: 'store', hint: HINT });
    }
    return openSqliteStore(path, { clock: options.clock });
  }
  if (typeof spec === 'string' && /^postgres(ql)?:\/\//.test(spec)) {
    return openPostgresStore(spec, options);
  }
  // Never echo the spec: a mistyped PostgreSQL URL may hold a password.
  throw new InterlockError('IL_ERR_CONFIG_INVALID', 'the store must be sqlite:<path> or a postgres:// URL', { field: 'store', hint: HINT });
}
