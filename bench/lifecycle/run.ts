/**
 * SVID lifecycle: issuance rate, rotating every SVID, and how fast a
 * revocation reaches every gateway, each next to a peer.
 *
 *   node --import tsx bench/lifecycle/run.ts [--svids 10000] [--rounds 20] [--clusters 10]
 *                                            [--peer-n 200] [--probe-ms 5] [--quick]
 *
 *   1. issuance   a control plane in this process (SQLite store in a temp
 *                 dir); join-token attestations with pre-generated CSRs at
 *                 concurrency 1, 8 and 32 (10 %, 30 %, 60 % of --svids);
 *                 the store's SVID rows are counted against what was issued
 *   2. rotation   every one of those --svids SVIDs renewed once over mTLS,
 *                 concurrency 32
 *   3. peer       --peer-n certificates from Interlock and from the openssl
 *                 CLI (one process per certificate), concurrency 1 and 8
 *   4. revocation a lab of --clusters clusters (gateways as child
 *                 processes); --rounds revocations, each timed until every
 *                 gateway refuses new handshakes with the SVID (probed every
 *                 --probe-ms) and has cut a connection held open with it;
 *                 each followed by a quiet round without probes
 *
 * --quick: --svids 300 --rounds 3 --clusters 3 --peer-n 20, a smoke run.
 * Results compare rows of one run on one machine; tests never time
 * anything. Numbers and how to read them: docs/performance.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LoadWorker, startBenchControlPlane } from './control-plane.ts';
import { attestBatch, createBenchEntry, storedSvids, type RateRow } from './issuance.ts';
import { opensslIssuance, opensslVersion } from './peer-openssl.ts';
import { printIssuance, printPeer, printRevocation, printRotation } from './report.ts';
import { measureRevocation, type RevocationResult } from './revocation.ts';
import { rotateAll, type RotationResult } from './rotation.ts';
import { option, runHeader } from '../options.ts';


const QUICK = process.argv.includes('--quick');
const SVIDS = option('--svids', QUICK ? 300 : 10_000);
const ROUNDS = option('--rounds', QUICK ? 3 : 20);
const CLUSTERS = option('--clusters', QUICK ? 3 : 10);
const PEER_N = option('--peer-n', QUICK ? 20 : 200);
const PROBE_MS = option('--probe-ms', 5);
const ROTATE_CONCURRENCY = 32;
const PEER_CONCURRENCY = [1, 8] as const;
const WARMUP = 50;

const log = (line: string) => process.stderr.write(`${line}\n`);

interface CpResults {
  issuance: RateRow[];
  peer: RateRow[];
  rotation: RotationResult;
  issued: number;
  stored: number;
  spiffeId: string;
}

async function controlPlanePart(dir: string): Promise<CpResults> {
  const cp = await startBenchControlPlane(dir);
  const worker = new LoadWorker();
  try {
    const entry = await createBenchEntry(cp);
    log(`control plane at ${cp.server.url}; warming up with ${WARMUP} attestations`);
    const since = performance.now();
    const elapsed = () => `${((performance.now() - since) / 1000).toFixed(0)} s`;
    await attestBatch(cp, worker, entry, 'warm-up', WARMUP, 8, false);
    let issued = WARMUP;

    const peer: RateRow[] = [];
    for (const concurrency of PEER_CONCURRENCY) {
      peer.push(await attestBatch(cp, worker, entry, 'interlock attest (join token + CSR)', PEER_N, concurrency, false));
      issued += PEER_N;
    }

    const c1 = Math.max(1, Math.round(SVIDS * 0.1));
    const c8 = Math.max(1, Math.round(SVIDS * 0.3));
    const plan: Array<[number, number]> = [[1, c1], [8, c8], [32, Math.max(1, SVIDS - c1 - c8)]];
    const issuance: RateRow[] = [];
    let held = 0;
    for (const [concurrency, n] of plan) {
      log(`[${elapsed()}] issuing ${n} SVIDs at concurrency ${concurrency} (join tokens, keys and CSRs first, untimed)`);
      issuance.push(await attestBatch(cp, worker, entry, 'attest (join token + CSR)', n, concurrency, true));
      issued += n;
      held += n;
    }
    const stored = await storedSvids(cp);
    if (stored !== issued) throw new Error(`the store holds ${stored} SVID rows, ${issued} were issued`);

    log(`[${elapsed()}] renewing all ${held} SVIDs at concurrency ${ROTATE_CONCURRENCY} (new keys and CSRs first, untimed)`);
    const rotation = await rotateAll(cp, worker, entry, held, ROTATE_CONCURRENCY);
    log(`[${elapsed()}] rotation done`);
    return { issuance, peer, rotation, issued, stored, spiffeId: entry.spiffeId };
  } finally {
    await worker.close();
    await cp.server.close();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'interlock-bench-lifecycle-'));
  try {
    const cpResults = await controlPlanePart(join(dir));
    log(`openssl: signing ${PEER_N} CSRs per row`);
    const openssl = await opensslIssuance(join(dir, 'openssl'), PEER_N, PEER_CONCURRENCY, cpResults.spiffeId);
    log(`revocation: starting a lab with ${CLUSTERS} clusters`);
    const revocation: RevocationResult = await measureRevocation({ dir: join(dir, 'lab'), clusters: CLUSTERS, rounds: ROUNDS, probeMs: PROBE_MS, timeoutMs: 10_000, log });

    const out: string[] = runHeader('bench/lifecycle/run.ts', [opensslVersion()], loadBefore);
    out.push('', ...printIssuance(cpResults.issuance, cpResults.issued, cpResults.stored));
    out.push('', ...printRotation(cpResults.rotation, ROTATE_CONCURRENCY));
    out.push('', ...printPeer(cpResults.peer, openssl, PEER_N));
    out.push('', ...printRevocation(revocation, PROBE_MS));
    out.push('', `total wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
