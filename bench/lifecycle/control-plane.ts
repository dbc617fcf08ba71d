/**
 * A real control plane in this process over a temporary SQLite store (as
 * test/helpers/control-plane.ts starts one, copied rather than imported),
 * and the worker thread that puts load on it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { apiRequest, type ApiConnection } from '../../src/client/api.ts';
import { generateKeyFileContent, resolveKeySecret } from '../../src/pki/key-protection.ts';
import { bundlePemFromStore } from '../../src/server/ca-service.ts';
import { serverConfigSchema } from '../../src/server/config.ts';
import { startControlPlane, type RunningServer } from '../../src/server/server.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import type { Target } from './http.ts';
import type { WorkerReply, WorkerRequest } from './load-worker.ts';

export interface BenchControlPlane {
  readonly server: RunningServer;
  readonly target: Target;
  /** The bootstrap admin (operator, key-custodian, auditor). */
  readonly admin: ApiConnection;
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export async function startBenchControlPlane(dir: string): Promise<BenchControlPlane> {
  const keyFile = join(dir, 'ca.key');
  writeFileSync(keyFile, generateKeyFileContent(), { mode: 0o600 });
  const tokenFile = join(dir, 'admin.token');
  const config = serverConfigSchema.parse({ listen: '127.0.0.1:0', organization: 'Acme', domain: 'acme.internal' });
  const server = await startControlPlane(config, {
    log: silentLogger(),
    secret: resolveKeySecret({ keyFile }),
    storeSpec: `sqlite:${join(dir, 'interlock.db')}`,
    bootstrapAdminTokenFile: tokenFile,
  });
  const bundlePem = await bundlePemFromStore(server.store);
  const admin: ApiConnection = { server: server.url, bundlePem, serverId: server.spiffeId, token: readFileSync(tokenFile, 'utf8').trim() };
  return {
    server,
    target: { server: server.url, bundlePem, serverId: server.spiffeId },
    admin,
    call: async <T>(method: string, path: string, body?: unknown) => (await apiRequest<T>(admin, method, path, body)).body,
  };
}

/**
 * The load worker. tsx's `--import` hooks do not reach worker threads on
 * Node 20, so the worker registers tsx itself before importing the module.
 */
export class LoadWorker {
  readonly #worker: Worker;

  constructor() {
    const url = new URL('./load-worker.ts', import.meta.url).href;
    this.#worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`, { eval: true });
  }

  run(request: WorkerRequest): Promise<WorkerReply> {
    type Message = { kind: 'started' } | { kind: 'done'; ok: true; reply: WorkerReply } | { kind: 'done'; ok: false; error: string };
    return new Promise((resolve, reject) => {
      let window: { elu: EventLoopUtilization; workerElu: EventLoopUtilization; cpu: NodeJS.CpuUsage; at: number } | undefined;
      const onError = (error: Error) => {
        this.#worker.off('message', onMessage);
        reject(error);
      };
      const onMessage = (message: Message) => {
        if (message.kind === 'started') {
          window = { elu: performance.eventLoopUtilization(), workerElu: this.#worker.performance.eventLoopUtilization(), cpu: process.cpuUsage(), at: performance.now() };
          return;
        }
        this.#worker.off('message', onMessage);
        this.#worker.off('error', onError);
        if (!message.ok) return reject(new Error(`load worker: ${message.error}`));
        if (window) {
          const cpu = process.cpuUsage(window.cpu);
          const wallUs = (performance.now() - window.at) * 1000;
          message.reply.cpu = {
            serverLoop: performance.eventLoopUtilization(window.elu).utilization,
            clientLoop: this.#worker.performance.eventLoopUtilization(window.workerElu).utilization,
            process: (cpu.user + cpu.system) / (wallUs * availableParallelism()),
          };
        }
        resolve(message.reply);
      };
      this.#worker.on('message', onMessage);
      this.#worker.once('error', onError);
      this.#worker.postMessage(request);
    });
  }

  close(): Promise<number> {
    return this.#worker.terminate();
  }
}
