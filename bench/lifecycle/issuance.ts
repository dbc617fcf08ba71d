/**
 * Issuance rate: join-token attestations (POST /v1/attest/join-token with a
 * CSR) against the in-process control plane, at fixed concurrency. Join
 * tokens, keys and CSRs are all made before the clock starts, so a row
 * measures the server: the attestation, signing, the SVID row and its audit
 * record in one SQLite transaction, and the TLS handshake of a new client.
 */
import { spiffeIdFor } from '../../src/identity/spiffe-id.ts';
import type { RegistrationEntryRow } from '../../src/store/types.ts';
import type { BenchControlPlane, LoadWorker } from './control-plane.ts';
import { percentile, pool } from './table.ts';

export const BENCH_CLUSTER = 'bench';

export interface RateRow {
  readonly label: string;
  readonly concurrency: number;
  readonly count: number;
  readonly elapsedMs: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly prepMs: number;
  /** Busy share during the timed window: server event loop, load-worker event loop, whole process over all cores. */
  readonly cpu?: { serverLoop: number; clientLoop: number; process: number };
}

export interface BenchEntry {
  readonly entryId: string;
  readonly spiffeId: string;
}

/** One cluster and one registration entry that every join token opens. */
export async function createBenchEntry(cp: BenchControlPlane): Promise<BenchEntry> {
  const { trustDomain } = await cp.call<{ trustDomain: string }>('POST', '/v1/clusters', { name: BENCH_CLUSTER });
  const entry = await cp.call<RegistrationEntryRow>('POST', '/v1/entries', { cluster: BENCH_CLUSTER, spiffeId: spiffeIdFor(trustDomain, 'shop', 'frontend') });
  return { entryId: entry.id, spiffeId: entry.spiffeId };
}

/** Join tokens through the admin API (untimed), 16 requests in flight. */
export async function createJoinTokens(cp: BenchControlPlane, entryId: string, n: number): Promise<string[]> {
  const made = await pool(Array.from({ length: n }), 16, () => cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId, ttlSeconds: 3600 }));
  if (made.errors.length > 0) throw new Error(`creating join tokens failed: ${made.errors[0]}`);
  return made.results.map((r) => r.token);
}

export function toRow(label: string, concurrency: number, reply: { latencies: number[]; elapsedMs: number; errors: string[]; prepMs: number; cpu?: RateRow['cpu'] }): RateRow {
  return {
    ...(reply.cpu ? { cpu: reply.cpu } : {}),
    label,
    concurrency,
    count: reply.latencies.length,
    elapsedMs: reply.elapsedMs,
    perSecond: reply.latencies.length / (reply.elapsedMs / 1000),
    p50: percentile(reply.latencies, 0.5),
    p99: percentile(reply.latencies, 0.99),
    errors: reply.errors.length,
    prepMs: reply.prepMs,
  };
}

/**
 * Attests `count` SVIDs at `concurrency`; `keep` hands them to the worker
 * for the rotation step. Throws on any failed call or a wrong identity.
 */
export async function attestBatch(cp: BenchControlPlane, worker: LoadWorker, entry: BenchEntry, label: string, count: number, concurrency: number, keep: boolean): Promise<RateRow> {
  const tokens = await createJoinTokens(cp, entry.entryId, count);
  const reply = await worker.run({ type: 'attest', target: cp.target, tokens, concurrency, keep });
  if (reply.errors.length > 0) throw new Error(`${label}: ${reply.errors.length} attestations failed, first: ${reply.errors[0]}`);
  if (reply.spiffeIds.length !== 1 || reply.spiffeIds[0] !== entry.spiffeId) throw new Error(`${label}: issued ${reply.spiffeIds.join(', ')}, expected ${entry.spiffeId}`);
  if (new Set(reply.serials).size !== count) throw new Error(`${label}: ${new Set(reply.serials).size} distinct serials for ${count} SVIDs`);
  return toRow(label, concurrency, reply);
}

/** SVID rows the store holds for the bench cluster. */
export async function storedSvids(cp: BenchControlPlane): Promise<number> {
  return (await cp.server.store.listSvids({ cluster: BENCH_CLUSTER })).length;
}
