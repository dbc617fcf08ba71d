import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify as toYaml } from 'yaml';
import { apiRequest, type ApiConnection } from '../client/api.ts';
import { systemClock } from '../clock.ts';
import type { ClusterCa } from '../pki/certificates.ts';
import { resolveKeySecret } from '../pki/key-protection.ts';
import { CaService } from '../server/ca-service.ts';
import { openStore } from '../store/open.ts';
import { exportBundle } from '../cli/commands/server/bundle.ts';
import { writeFileAtomic } from '../util/files.ts';
import { freePort } from './free-port.ts';
import { splitHostPort } from '../config/host-port.ts';
import { spawnInterlock, stopChild } from './process.ts';

export interface LabControlPlane {
  readonly url: string;
  readonly spiffeId: string;
  readonly bundlePem: string;
  readonly bundleFile: string;
  readonly configPath: string;
  /** The plain-HTTP Prometheus listener (GET /metrics). */
  readonly metrics: { host: string; port: number };
  /** The bootstrap admin (operator, key-custodian, auditor). */
  readonly admin: ApiConnection;
  /** The running server process (a new one after restart()). */
  readonly process: ChildProcess;
  call<T>(method: string, path: string, body?: unknown, as?: ApiConnection): Promise<T>;
  /**
   * A cluster's intermediate CA with its private key, read from the store
   * with the CA secret: what an attacker who stole both would hold. The demo
   * and tests use it to forge certificates that the trust model must refuse.
   */
  stealClusterCa(cluster: string): Promise<ClusterCa>;
  stop(): Promise<void>;
  /** Kills the server (SIGKILL, as a crash would) and starts it again on the same port and store. */
  restart(): Promise<void>;
  /** Kills the server (SIGKILL) and leaves it down, for experiments that run without a control plane. */
  kill(): Promise<void>;
  /** Starts a killed server again on the same port and store. */
  start(): Promise<void>;
}

/**
 * Starts `interlock server` on loopback (or `host`, the netns lab's control-plane
 * address) with an SQLite store in the lab folder, or the given `store` URL.
 */
export async function startLabControlPlane(dir: string, options: { organization: string; domain: string; keyFile: string; bundleTtlMs?: number; host?: string; store?: string }): Promise<LabControlPlane> {
  const base = join(dir, 'control-plane');
  const configPath = join(base, 'server.yaml');
  const storeSpec = options.store ?? `sqlite:${join(base, 'interlock.db')}`;
  const host = options.host ?? '127.0.0.1';
  writeFileAtomic(
    configPath,
    toYaml({
      listen: `${host}:${await freePort(host)}`,
      store: storeSpec,
      organization: options.organization,
      domain: options.domain,
      secret: { keyFile: options.keyFile },
      metrics: { listen: `127.0.0.1:${await freePort()}` },
      // The server certificate names the address it listens on, so tools that check the host (the CLI) accept it.
      ...(host !== '127.0.0.1' ? { tls: { ipAddresses: [host, '127.0.0.1'] } } : {}),
      ...(options.bundleTtlMs ? { policy: { bundleTtlMs: options.bundleTtlMs } } : {}),
    }),
    0o644,
  );
  const tokenFile = join(base, 'admin.token');
  const spawnServer = () =>
    spawnInterlock(['server', '--config', configPath, '--bootstrap-admin-token-file', tokenFile], {
      logPath: join(base, 'server.log'),
      readyEvent: 'server.ready',
    });
  let { child, ready } = await spawnServer();
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const bundlePem = await exportBundle(storeSpec);
  const bundleFile = join(base, 'bundle.pem');
  writeFileAtomic(bundleFile, bundlePem, 0o644);
  const url = String(ready.url);
  const spiffeId = String(ready.spiffeId);
  const admin: ApiConnection = { server: url, bundlePem, serverId: spiffeId, token: readFileSync(tokenFile, 'utf8').trim() };
  return {
    url,
    spiffeId,
    bundlePem,
    bundleFile,
    configPath,
    metrics: splitHostPort(String(ready.metrics)),
    admin,
    get process() {
      return child;
    },
    stealClusterCa: async (cluster) => {
      const store = await openStore(storeSpec);
      try {
        return await new CaService(store, resolveKeySecret({ keyFile: options.keyFile }), systemClock).clusterCa(cluster);
      } finally {
        await store.close();
      }
    },
    call: async <T>(method: string, path: string, body?: unknown, as: ApiConnection = admin) => (await apiRequest<T>(as, method, path, body)).body,
    stop: () => stopChild(child),
    restart: async () => {
      await kill();
      ({ child, ready } = await spawnServer());
    },
    kill,
    start: async () => {
      ({ child, ready } = await spawnServer());
    },
  };
}
