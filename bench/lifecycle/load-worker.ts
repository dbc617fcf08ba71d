/**
 * The load generator, in a worker thread so that client work (key
 * generation, TLS client handshakes, JSON) does not run on the control
 * plane's event loop. Keys and CSRs are generated before the clock starts:
 * the timed part is only the HTTPS calls. The worker keeps the SVIDs it was
 * issued (certificate and key) for the renewal step.
 */
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { createCsr } from '../../src/pki/csr.ts';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/pki/x509.ts';
import { postFresh, type IssuedSvid, type Target } from './http.ts';
import { pool } from './table.ts';

export type WorkerRequest =
  | { type: 'attest'; target: Target; tokens: string[]; concurrency: number; keep: boolean }
  | { type: 'renew'; target: Target; concurrency: number };

/** What the worker measured, plus what the main thread adds: CPU use during the timed window. */
export interface WorkerReply {
  readonly prepMs: number;
  readonly latencies: number[];
  readonly elapsedMs: number;
  readonly errors: string[];
  readonly serials: string[];
  readonly spiffeIds: string[];
  /** Filled in by the main thread: event-loop utilisation of the server (main) thread and the load worker, process CPU as a share of all cores. */
  cpu?: { serverLoop: number; clientLoop: number; process: number };
}

interface Held {
  certPem: string;
  keyPem: string;
  serial: string;
}

let held: Held[] = [];

/** Tells the main thread the timed part begins, so it can measure CPU over exactly that window. */
function started(): void {
  parentPort!.postMessage({ kind: 'started' });
}

async function keysAndCsrs(count: number): Promise<Array<{ csr: string; keyPem: string }>> {
  const out: Array<{ csr: string; keyPem: string }> = [];
  for (let i = 0; i < count; i += 256) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(256, count - i) }, async () => {
        const keys = await generateKeyPair();
        return { csr: await createCsr(keys), keyPem: await exportPrivateKeyPem(keys.privateKey) };
      }),
    );
    out.push(...batch);
  }
  return out;
}

async function attest(request: Extract<WorkerRequest, { type: 'attest' }>): Promise<WorkerReply> {
  const t0 = performance.now();
  const material = await keysAndCsrs(request.tokens.length);
  const prepMs = performance.now() - t0;
  started();
  const jobs = request.tokens.map((token, i) => ({ token, ...(material[i] as { csr: string; keyPem: string }) }));
  const run = await pool(jobs, request.concurrency, async (job) => {
    const issued = await postFresh<IssuedSvid>(request.target, '/v1/attest/join-token', { token: job.token, csr: job.csr });
    return { issued, keyPem: job.keyPem };
  });
  if (request.keep) for (const r of run.results) held.push({ certPem: r.issued.certChainPem, keyPem: r.keyPem, serial: r.issued.serial });
  return { prepMs, latencies: run.latencies, elapsedMs: run.elapsedMs, errors: run.errors, serials: run.results.map((r) => r.issued.serial), spiffeIds: [...new Set(run.results.map((r) => r.issued.spiffeId))] };
}

/** Renews every held SVID once, over mTLS with that SVID, with a fresh key (as the workload SDK does). */
async function renew(request: Extract<WorkerRequest, { type: 'renew' }>): Promise<WorkerReply> {
  const t0 = performance.now();
  const material = await keysAndCsrs(held.length);
  const prepMs = performance.now() - t0;
  started();
  const jobs = held.map((svid, i) => ({ svid, next: material[i] as { csr: string; keyPem: string } }));
  const run = await pool(jobs, request.concurrency, async (job) => {
    const issued = await postFresh<IssuedSvid>(request.target, '/v1/svid/renew', { csr: job.next.csr }, job.svid);
    return { certPem: issued.certChainPem, keyPem: job.next.keyPem, serial: issued.serial, spiffeId: issued.spiffeId };
  });
  held = run.results.map(({ certPem, keyPem, serial }) => ({ certPem, keyPem, serial }));
  return { prepMs, latencies: run.latencies, elapsedMs: run.elapsedMs, errors: run.errors, serials: run.results.map((r) => r.serial), spiffeIds: [...new Set(run.results.map((r) => r.spiffeId))] };
}

parentPort!.on('message', (request: WorkerRequest) => {
  const work = request.type === 'attest' ? attest(request) : renew(request);
  work.then(
    (reply) => parentPort!.postMessage({ kind: 'done', ok: true, reply }),
    (error: Error) => parentPort!.postMessage({ kind: 'done', ok: false, error: error.stack ?? error.message }),
  );
});
