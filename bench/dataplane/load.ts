/**
 * The load generator, a child process (forked by run.ts and pinned to its
 * own CPU) so that client TLS work never shares an event loop with what it
 * measures. It runs one job per IPC message and answers with the counts.
 * Every path is called the same way: mTLS 1.3 with the workload's SVID, the
 * server's chain checked against the bundle, its name not checked (nginx
 * and HAProxy present workload SVIDs, which carry no DNS names).
 */
import https from 'node:https';
import { performance } from 'node:perf_hooks';

export interface Target {
  readonly host: string;
  readonly port: number;
  /** `billing.west.interlock` for the gateway; any name for the others. */
  readonly hostHeader: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export type Job =
  /** Closed loop, keep-alive: `concurrency` connections, each sending its next GET when the previous answers. */
  | { readonly kind: 'saturate'; readonly target: Target; readonly path: string; readonly concurrency: number; readonly seconds: number }
  /** Open loop: GETs sent on a fixed schedule; latency counts from the scheduled time (no coordinated omission). */
  | { readonly kind: 'rate'; readonly target: Target; readonly path: string; readonly rps: number; readonly seconds: number }
  /** One kept-alive connection, `runs` large bodies one after another. */
  | { readonly kind: 'bulk'; readonly target: Target; readonly path: string; readonly runs: number }
  /** A fresh connection and full mTLS handshake per request (no keep-alive, no session resumption). */
  | { readonly kind: 'handshake'; readonly target: Target; readonly path: string; readonly concurrency: number; readonly seconds: number };

export interface JobResult {
  readonly ok: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly elapsedMs: number;
  /** Per-request latency in ms (rate), or per-run duration in ms (bulk). */
  readonly samples: number[];
  readonly bytes: number;
}

/** Connections the open-loop schedule spreads its requests over. */
const RATE_CONNECTIONS = 32;

function agentFor(target: Target, keepAlive: boolean, maxSockets: number): https.Agent {
  return new https.Agent({
    keepAlive,
    maxSockets,
    maxCachedSessions: 0,
    cert: target.cert,
    key: target.key,
    ca: target.ca,
    minVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined,
  });
}

/** One GET; resolves with the body's byte count, rejects on any status but 200. */
function get(agent: https.Agent, target: Target, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: target.host, port: target.port, path, method: 'GET', agent, headers: { host: target.hostHeader } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`status ${res.statusCode} ${String(res.headers['x-interlock-error'] ?? '')}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

class Tally {
  ok = 0;
  errors = 0;
  bytes = 0;
  firstError: string | null = null;
  readonly samples: number[] = [];
  fail(error: unknown): void {
    this.errors++;
    this.firstError ??= (error as Error).message;
  }
  result(elapsedMs: number): JobResult {
    return { ok: this.ok, errors: this.errors, firstError: this.firstError, elapsedMs, samples: this.samples, bytes: this.bytes };
  }
}

async function closedLoop(agent: https.Agent, target: Target, path: string, concurrency: number, seconds: number): Promise<JobResult> {
  const tally = new Tally();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      try {
        tally.bytes += await get(agent, target, path);
        tally.ok++;
      } catch (error) {
        tally.fail(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return tally.result(performance.now() - start);
}

/**
 * The agent's maxSockets connections are opened before the clock starts and
 * are all it uses (as wrk2 does): a request that finds them busy waits in
 * the agent's queue, and that wait counts, but no handshake is timed.
 */
async function openLoop(agent: https.Agent, target: Target, path: string, rps: number, seconds: number): Promise<JobResult> {
  await closedLoop(agent, target, path, RATE_CONNECTIONS, 0.5);
  const tally = new Tally();
  const total = Math.round(rps * seconds);
  const interval = 1000 / rps;
  const start = performance.now() + 20;
  let sent = 0;
  let pending = 0;
  await new Promise<void>((done) => {
    const settle = () => {
      if (--pending === 0 && sent === total) done();
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        const due = start + sent * interval;
        sent++;
        pending++;
        get(agent, target, path).then(
          () => {
            tally.ok++;
            tally.samples.push(performance.now() - due);
            settle();
          },
          (error: unknown) => {
            tally.fail(error);
            settle();
          },
        );
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  return tally.result(performance.now() - start);
}

async function bulk(agent: https.Agent, target: Target, path: string, runs: number): Promise<JobResult> {
  await get(agent, target, '/small');
  const tally = new Tally();
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    try {
      tally.bytes += await get(agent, target, path);
      tally.ok++;
      tally.samples.push(performance.now() - t0);
    } catch (error) {
      tally.fail(error);
    }
  }
  return tally.result(performance.now() - start);
}

export async function runJob(job: Job): Promise<JobResult> {
  const agent = agentFor(job.target, job.kind !== 'handshake', job.kind === 'saturate' || job.kind === 'handshake' ? job.concurrency : job.kind === 'rate' ? RATE_CONNECTIONS : 1);
  try {
    return await dispatch(job, agent);
  } finally {
    agent.destroy();
  }
}

function dispatch(job: Job, agent: https.Agent): Promise<JobResult> {
  switch (job.kind) {
    case 'saturate':
      return closedLoop(agent, job.target, job.path, job.concurrency, job.seconds);
    case 'rate':
      return openLoop(agent, job.target, job.path, job.rps, job.seconds);
    case 'bulk':
      return bulk(agent, job.target, job.path, job.runs);
    case 'handshake':
      return closedLoop(agent, job.target, job.path, job.concurrency, job.seconds);
  }
}

if (process.send) {
  process.on('message', (job: Job) => {
    runJob(job).then(
      (result) => process.send!({ ok: true, result }),
      (error: Error) => process.send!({ ok: false, error: error.stack ?? error.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
