import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { apiRequest, type ApiConnection } from '../../src/client/api.ts';
import { resolveKeySecret, generateKeyFileContent } from '../../src/pki/key-protection.ts';
import { serverConfigSchema } from '../../src/server/config.ts';
import { startControlPlane, type RunningServer } from '../../src/server/server.ts';
import { bundlePemFromStore } from '../../src/server/ca-service.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { tempDir } from './pki.ts';
import { readFileSync } from 'node:fs';

export interface TestControlPlane {
  readonly server: RunningServer;
  readonly admin: ApiConnection;
  readonly anonymous: ApiConnection;
  readonly dir: string;
  readonly keyFile: string;
  call<T>(method: string, path: string, body?: unknown, as?: ApiConnection): Promise<T>;
  /** A new admin with these roles, as a connection. */
  adminWith(name: string, roles: string[]): Promise<ApiConnection>;
  close(): Promise<void>;
}

/** A control plane in this process on a free loopback port, over the given store (default: a temp SQLite file). */
export async function startTestControlPlane(options: { storeSpec?: string; dir?: string; keyFile?: string } = {}): Promise<TestControlPlane> {
  const dir = options.dir ?? tempDir('interlock-cp-');
  const keyFile = options.keyFile ?? join(dir, 'ca.key');
  if (!options.keyFile) writeFileSync(keyFile, generateKeyFileContent(), { mode: 0o600 });
  const config = serverConfigSchema.parse({ listen: '127.0.0.1:0', organization: 'Acme', domain: 'acme.internal' });
  const tokenFile = join(dir, `admin-${process.pid}-${Date.now()}.token`);
  const server = await startControlPlane(config, {
    log: silentLogger(),
    secret: resolveKeySecret({ keyFile }),
    storeSpec: options.storeSpec ?? `sqlite:${join(dir, 'interlock.db')}`,
    bootstrapAdminTokenFile: tokenFile,
  });
  const bundlePem = await bundlePemFromStore(server.store);
  const anonymous: ApiConnection = { server: server.url, bundlePem, serverId: server.spiffeId };
  let token: string | undefined;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch {
    token = undefined; // another replica bootstrapped the admin
  }
  const admin: ApiConnection = { ...anonymous, ...(token ? { token } : {}) };
  const call = async <T>(method: string, path: string, body?: unknown, as: ApiConnection = admin) => (await apiRequest<T>(as, method, path, body)).body;
  return {
    server,
    admin,
    anonymous,
    dir,
    keyFile,
    call,
    adminWith: async (name, roles) => ({ ...anonymous, token: (await call<{ token: string }>('POST', '/v1/admins', { name, roles })).token }),
    close: () => server.close(),
  };
}
