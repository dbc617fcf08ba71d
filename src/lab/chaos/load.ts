import { randomBytes } from 'node:crypto';
import type https from 'node:https';
import { gatewaySpiffeId } from '../../identity/spiffe-id.ts';
import { TRACEPARENT } from '../../telemetry/trace-context.ts';
import type { Canary } from '../canary.ts';
import { callThroughGateway, createWorkloadAgent } from '../workload-client.ts';
import type { LabWorld } from '../world.ts';

/**
 * The traffic every chaos experiment runs under: east's frontend reading
 * west's billing (allowed by the demo policy), and two probes the policy
 * denies (east's reporting reading billing; the frontend writing to it).
 * Every request carries a synthetic canary body and header and its own
 * trace id, so its audit records can be found afterwards.
 */
export type RequestKind = 'allowed' | 'denied';

export interface LoadRecord {
  readonly kind: RequestKind;
  readonly workload: string;
  readonly method: string;
  readonly path: string;
  readonly traceId: string;
  /** ms since the load started. */
  readonly at: number;
  readonly ms: number;
  /** 0: no HTTP answer (connection error or client timeout). */
  readonly status: number;
  readonly errorCode?: string;
  readonly auditRef?: string;
}

export interface LoadGenerator {
  /** Finished requests, in completion order. */
  readonly records: readonly LoadRecord[];
  /** Paths of every request started, finished or still in flight. */
  readonly sentPaths: ReadonlySet<string>;
  /** ms since the load started (the clock of `LoadRecord.at`). */
  now(): number;
  stop(): Promise<void>;
}

/** Denied probes have paths with this marker, so a service that ever serves one is caught. */
export const DENIED_PATH_MARK = '/deny-probe-';
const CLIENT_TIMEOUT_MS = 8_000;

interface Probe {
  readonly kind: RequestKind;
  readonly workload: string;
  readonly method: string;
  readonly path: (n: number) => string;
}

const PROBES: readonly Probe[] = [
  { kind: 'allowed', workload: 'frontend', method: 'GET', path: (n) => `/invoices/${n}` },
  { kind: 'denied', workload: 'reporting', method: 'GET', path: (n) => `/invoices${DENIED_PATH_MARK}${n}` },
  { kind: 'denied', workload: 'frontend', method: 'POST', path: (n) => `/invoices${DENIED_PATH_MARK}${n}` },
];

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('client timeout')), ms)))]).finally(() => clearTimeout(timer!));
}

/**
 * Starts the load: one loop per probe, each waiting `intervalMs` between
 * requests (bounded: it stops after `maxDurationMs` on its own).
 */
export function startLoad(world: LabWorld, canary: Canary, options: { intervalMs?: number; maxDurationMs?: number; from?: string; to?: { cluster: string; service: string } } = {}): LoadGenerator {
  const from = options.from ?? 'east';
  const to = options.to ?? { cluster: 'west', service: 'billing' };
  const started = performance.now();
  const now = () => Math.round(performance.now() - started);
  const records: LoadRecord[] = [];
  const sentPaths = new Set<string>();
  const agents = new Map<string, https.Agent>();
  let stopped = false;
  let n = 0;

  /** An agent for the workload's current SVID and gateway address: rebuilt after a renewal, a revocation or a gateway restart. */
  const agentFor = (workload: string) => {
    const cluster = world.clusters.get(from)!;
    const identity = cluster.identities.get(workload)!;
    const key = `${workload}|${cluster.gateway.outbound.host}:${cluster.gateway.outbound.port}|${identity.certPem}`;
    let agent = agents.get(key);
    if (!agent) {
      for (const [old, a] of agents) if (old.startsWith(`${workload}|`)) (a.destroy(), agents.delete(old));
      agent = createWorkloadAgent(identity, gatewaySpiffeId(cluster.trustDomain));
      agents.set(key, agent);
    }
    return { agent, gateway: cluster.gateway.outbound };
  };

  const one = async (probe: Probe): Promise<void> => {
    const path = probe.path(++n);
    sentPaths.add(path);
    const traceId = randomBytes(16).toString('hex');
    const at = now();
    const base = { kind: probe.kind, workload: probe.workload, method: probe.method, path, traceId, at };
    try {
      const { agent, gateway } = agentFor(probe.workload);
      const result = await withTimeout(
        callThroughGateway(agent, gateway, {
          method: probe.method,
          host: `${to.service}.${to.cluster}.interlock`,
          path,
          headers: { [TRACEPARENT]: `00-${traceId}-${randomBytes(8).toString('hex')}-01`, ...canary.headers(), 'content-type': 'application/json' },
          // GET has no body (the gateway refuses one); the POST probe carries the synthetic body across.
          ...(probe.method === 'POST' ? { bodyChunks: [canary.body(2048)] } : {}),
        }),
        CLIENT_TIMEOUT_MS,
      );
      records.push({ ...base, ms: now() - at, status: result.status, ...(result.errorCode ? { errorCode: result.errorCode } : {}), ...(result.auditRef ? { auditRef: result.auditRef } : {}) });
    } catch (error) {
      // A connection that died mid-request: drop the workload's agent so the next request starts clean.
      for (const [key, a] of agents) if (key.startsWith(`${probe.workload}|`)) (a.destroy(), agents.delete(key));
      records.push({ ...base, ms: now() - at, status: 0, errorCode: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
    }
  };

  const interval = options.intervalMs ?? 100;
  const deadline = options.maxDurationMs ?? 10 * 60_000;
  const loops = PROBES.map(async (probe, i) => {
    await new Promise((r) => setTimeout(r, (interval / PROBES.length) * i));
    while (!stopped && now() < deadline) {
      await one(probe);
      await new Promise((r) => setTimeout(r, probe.kind === 'allowed' ? interval : interval * 2));
    }
  });

  return {
    records,
    sentPaths,
    now,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      agents.forEach((a) => a.destroy());
    },
  };
}

/** Waits until `predicate` holds for the records (polling), or `timeoutMs` passes; true if it held. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return predicate();
}

/** Allowed requests that succeeded after `at` (load clock). */
export const successesAfter = (records: readonly LoadRecord[], at: number) => records.filter((r) => r.kind === 'allowed' && r.at >= at && r.status === 200);
