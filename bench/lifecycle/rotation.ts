/**
 * Rotation: every SVID the worker holds is renewed once (POST
 * /v1/svid/renew over mTLS with that SVID's certificate and key, body
 * {csr} for a new key), at fixed concurrency. Each renewal is its own TLS
 * connection, since each presents a different client certificate. The new
 * keys and CSRs are made before the clock starts.
 */
import type { BenchControlPlane, LoadWorker } from './control-plane.ts';
import { storedSvids, toRow, type BenchEntry, type RateRow } from './issuance.ts';

export interface RotationResult {
  readonly row: RateRow;
  readonly storedBefore: number;
  readonly storedAfter: number;
}

export async function rotateAll(cp: BenchControlPlane, worker: LoadWorker, entry: BenchEntry, expected: number, concurrency: number): Promise<RotationResult> {
  const storedBefore = await storedSvids(cp);
  const reply = await worker.run({ type: 'renew', target: cp.target, concurrency });
  if (reply.errors.length > 0) throw new Error(`rotation: ${reply.errors.length} renewals failed, first: ${reply.errors[0]}`);
  if (reply.latencies.length !== expected) throw new Error(`rotation: renewed ${reply.latencies.length}, expected ${expected}`);
  if (reply.spiffeIds.length !== 1 || reply.spiffeIds[0] !== entry.spiffeId) throw new Error(`rotation: renewed into ${reply.spiffeIds.join(', ')}, expected ${entry.spiffeId}`);
  const storedAfter = await storedSvids(cp);
  if (storedAfter - storedBefore !== expected) throw new Error(`rotation: the store gained ${storedAfter - storedBefore} SVID rows for ${expected} renewals`);
  return { row: toRow(`renew ${expected.toLocaleString('en-US')}`, concurrency, reply), storedBefore, storedAfter };
}
