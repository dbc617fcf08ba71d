/**
 * The PostgreSQL connection pool and everything about talking to it safely:
 * errors mapped to InterlockErrors with the password never in a message,
 * clients checked out with an error listener (a checked-out pg client that
 * loses its connection emits 'error', which would otherwise crash the
 * process), and one-transaction helpers.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { InterlockError } from '../../errors.ts';

/**
 * Advisory lock keys (two int4 keys; they never collide with one-bigint
 * keys other software uses, https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS).
 * Class 'ILCK' holds the store's own locks; class 'ILJB' runExclusive's jobs.
 */
export const LOCK_CLASS = 0x494c434b;
export const JOB_LOCK_CLASS = 0x494c4a42;
export const SEQUENCE_LOCK = 1;
export const MIGRATION_LOCK = 2;

// SQLSTATE classes that mean "cannot reach or use the server now"
// (https://www.postgresql.org/docs/current/errcodes-appendix.html):
// 08 connection, 28 authorization, 3D000 no such database, 53 resources,
// 57P0x shutdown / cannot connect now.
const UNAVAILABLE_SQLSTATE = /^(08|28|53|57P0|3D000)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOENT']);
const UNAVAILABLE_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|connection error|Client was closed/i;

export interface PgPoolOptions {
  /** Read at every new connection, so a rotated secret (a re-mounted Kubernetes Secret) is picked up. */
  readonly passwordFile?: string;
  readonly poolSize?: number;
  readonly connectTimeoutMs?: number;
}

export interface CheckedOut {
  readonly client: pg.PoolClient;
  /** Returns the client to the pool, or destroys it if its connection may be in a bad state. */
  release(destroy?: boolean): void;
}

export class PgConnection {
  readonly pool: pg.Pool;
  /** The URL without its password, for messages. */
  readonly where: string;
  private readonly secrets: string[];
  closed = false;

  constructor(url: string, options: PgPoolOptions) {
    const parsed = parseUrl(url);
    this.secrets = parsed.password === '' ? [] : [parsed.password, safeDecode(parsed.password)];
    this.where = parsed.where;
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: 'interlock',
      types: { getTypeParser: typeParser },
      ...(options.passwordFile === undefined ? {} : { Client: clientWithPasswordFile(options.passwordFile) }),
    });
    // An idle pooled client whose connection drops (server restart, network)
    // emits 'error' on the pool; unheard, that would crash the process. The
    // pool discards the client, and the next query opens a fresh connection.
    this.pool.on('error', () => undefined);
  }

  async checkout(): Promise<CheckedOut> {
    this.assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.error(error);
    }
    let broken = false;
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    return {
      client,
      release: (destroy = false) => {
        client.removeListener('error', onError);
        client.release(destroy || broken ? true : undefined);
      },
    };
  }

  /**
   * Runs `fn` in one transaction on a checked-out client: COMMIT if it
   * resolves, ROLLBACK (and rethrow) if it throws.
   */
  async inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { client, release } = await this.checkout();
    let destroy = false;
    try {
      await this.query(client, 'BEGIN');
      let result: T;
      try {
        result = await fn(client);
      } catch (error) {
        destroy = !(await this.rollback(client));
        throw error;
      }
      await this.commit(client);
      return result;
    } finally {
      release(destroy);
    }
  }

  /** COMMIT, refusing the silent rollback PostgreSQL does for a transaction an earlier statement aborted. */
  async commit(client: pg.PoolClient): Promise<void> {
    const result = await this.query(client, 'COMMIT');
    if (result.command === 'ROLLBACK') {
      throw new InterlockError('IL_ERR_INTERNAL', 'the transaction was rolled back, not committed: a statement in it failed earlier', { field: 'store' });
    }
  }

  /** ROLLBACK; false if even that failed (the connection is gone or confused). */
  async rollback(client: pg.PoolClient): Promise<boolean> {
    try {
      await client.query('ROLLBACK');
      return true;
    } catch {
      return false;
    }
  }

  async query(client: pg.PoolClient | pg.Pool, sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await client.query(sql, params);
    } catch (error) {
      throw this.error(error);
    }
  }

  assertOpen(): void {
    if (this.closed) throw new InterlockError('IL_ERR_STORE_UNAVAILABLE', 'the PostgreSQL store is closed', { field: 'store' });
  }

  /** Any error from pg as an InterlockError whose message never holds the password. */
  error(error: unknown): InterlockError {
    if (error instanceof InterlockError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    const sqlstate = typeof code === 'string' ? code : '';
    const message = this.redact(error instanceof Error ? error.message : String(error));
    if (UNAVAILABLE_SQLSTATE.test(sqlstate) || UNAVAILABLE_ERRNO.has(sqlstate) || UNAVAILABLE_MESSAGE.test(message)) {
      return new InterlockError('IL_ERR_STORE_UNAVAILABLE', `PostgreSQL at ${this.where} is unavailable: ${message}${sqlstate ? ` (${sqlstate})` : ''}`, {
        field: 'store',
        hint: sqlstate.startsWith('28') ? 'check the user and password (PGPASSWORD or the password file)' : 'check that the server is running and reachable',
      });
    }
    return new InterlockError('IL_ERR_INTERNAL', `PostgreSQL: ${message}${sqlstate ? ` (${sqlstate})` : ''}`, {
      field: 'store',
      hint: sqlstate === '42P01' ? 'the schema is missing; run migrate() (openStore does)' : undefined,
    });
  }

  private redact(message: string): string {
    let out = message;
    for (const secret of this.secrets) if (secret.length > 0) out = out.split(secret).join('***');
    return out;
  }
}

// The cause is deliberately not attached to errors above: a pg error can
// carry connection parameters, and errors get logged with their causes.

function parseUrl(url: string): { password: string; where: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InterlockError('IL_ERR_CONFIG_INVALID', 'the PostgreSQL store URL is malformed', {
      field: 'store',
      hint: 'use postgres://user@host:5432/database, with the password in PGPASSWORD or a password file',
    });
  }
  // libpq also takes the password as a query parameter; keep it out of messages too.
  const password = parsed.password || parsed.searchParams.get('password') || '';
  parsed.password = '';
  parsed.searchParams.delete('password');
  return { password, where: parsed.toString() };
}

// JSON and JSONB arrive as text, as from SQLite, so sql/rows.ts#json parses
// both the same way (pg would hand back a JSON string value as a bare string,
// indistinguishable from JSON text). Every other type keeps pg's parser.
const JSON_OIDS = new Set([114, 3802]);
const typeParser = ((oid: number, format?: 'text' | 'binary') =>
  JSON_OIDS.has(oid) ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'];

/**
 * A pg Client that asks for its password by reading `file` at each new
 * connection. pg merges the parsed URL over the config, so a password given
 * beside the URL would be overwritten; it is set on the client instead.
 */
function clientWithPasswordFile(file: string): new () => pg.ClientBase {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      (this as unknown as { password: () => string }).password = () => readPassword(file);
    }
  } as unknown as new () => pg.ClientBase;
}

function readPassword(file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new InterlockError('IL_ERR_STORE_UNAVAILABLE', `cannot read the PostgreSQL password file ${file} (${reason})`, { field: 'store' });
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
