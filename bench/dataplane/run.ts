/**
 * Data plane: the gateway pair against no proxy and against the same two
 * mTLS hops built from nginx and HAProxy, side by side in one run.
 *
 *   node --import tsx bench/dataplane/run.ts [--seconds 4] [--concurrency 32] [--rps 500]
 *                                            [--low-rps 50] [--bulk-mib 64] [--quick]
 *                                            [--paths direct,interlock,nginx,haproxy]
 *
 *   INTERLOCK_CPU_PROFILE_DIR=<dir> makes the gateways write V8 CPU profiles
 *   there when the run ends (use with --paths interlock to profile only them).
 *
 *   direct     workload -> backend (mTLS, no proxy)
 *   interlock  workload -> east gateway outbound -> west gateway inbound
 *              (identity assertion, Cedar policy, audit) -> backend
 *   nginx      workload -> nginx hop 1 -> nginx hop 2 -> backend, mTLS each hop
 *   haproxy    the same with HAProxy (each peer skipped if not installed)
 *
 * Every path uses the lab's workload SVIDs (the caller is east/shop/frontend)
 * and one backend: a small mTLS server holding west/billing's SVID, started
 * in place of the lab's sample service so it can also stream bulk bodies.
 * Pinning: the load generator (a child process) on CPU 1; the gateways,
 * proxies and the backend on CPU 0. Results compare rows of one run on one
 * machine. Numbers and how to read them: docs/performance.md ("Data plane").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { count, ms, table } from '../lifecycle/table.ts';
import type { Target } from './load.ts';
import { forkModule, Loader, measurePath, pin, type Latency, type PathResult, type PathUnderTest, type Plan } from './measure.ts';
import { startPeerPair, toolVersion, type PeerPair } from './peers.ts';
import { option } from '../options.ts';


const QUICK = process.argv.includes('--quick');
const PLAN: Plan = {
  seconds: option('--seconds', QUICK ? 1 : 4),
  concurrency: option('--concurrency', 32),
  rates: [option('--low-rps', 50), option('--rps', 500)],
  bulkMiB: option('--bulk-mib', QUICK ? 8 : 64),
  bulkRuns: 3,
  handshakeConcurrency: 8,
};
/** Which paths to run (`--paths interlock,nginx`); all by default. */
const PATHS = (() => {
  const at = process.argv.indexOf('--paths');
  return at < 0 ? null : new Set((process.argv[at + 1] ?? '').split(','));
})();
const PROXY_CPU = '0';
const LOAD_CPU = '1';

const log = (line: string) => process.stderr.write(`${line}\n`);

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function report(results: readonly PathResult[], notes: string[]): void {
  const direct = results.find((r) => r.name === 'direct');
  const gw = results.find((r) => r.name === 'interlock');
  const ratio = (v: number, base: number | undefined) => (base ? `${(v / base).toFixed(2)}x` : '-');
  const added = (v: number, base: number | undefined) => (base !== undefined && Number.isFinite(v) ? `${v >= base ? '+' : ''}${ms(v - base, 2)}` : '-');
  console.log(`\nThroughput and proxy CPU (${PLAN.concurrency} keep-alive connections; ${PLAN.handshakeConcurrency} at a time for new connections; ${PLAN.seconds} s each)\n`);
  console.log(
    table(
      ['path', 'req/s', 'vs direct', 'vs interlock', 'proxy CPU s / 1k req', 'handshakes/s', 'proxy CPU s / 1k handshakes', `bulk MB/s (${PLAN.bulkMiB} MiB)`, 'errors'],
      results.map((r) => [
        r.name,
        count(r.rps),
        ratio(r.rps, direct?.rps),
        ratio(r.rps, gw?.rps),
        r.name === 'direct' ? '-' : r.cpuPer1kKeepAlive.toFixed(3),
        count(r.handshakesPerSecond),
        r.name === 'direct' ? '-' : r.cpuPer1kHandshake.toFixed(3),
        count(r.bulkMBps),
        String(r.errors),
      ]),
    ),
  );
  PLAN.rates.forEach((rps, i) => {
    console.log(`\nLatency at ${rps} req/s, open loop, ${PLAN.seconds} s (ms from the scheduled send, so a path that falls behind shows its queue; keep-alive)\n`);
    const base = direct?.latency[i];
    console.log(
      table(
        ['path', 'achieved req/s', 'p50', 'p99', 'p99.9', 'added p50', 'added p99'],
        results.map((r) => {
          const l = r.latency[i] as Latency;
          return [r.name, count(l.achieved), ms(l.p50, 2), ms(l.p99, 2), ms(l.p999, 2), r.name === 'direct' ? '-' : added(l.p50, base?.p50), r.name === 'direct' ? '-' : added(l.p99, base?.p99)];
        }),
      ),
    );
  });
  for (const r of results) if (r.firstError) notes.push(`${r.name}: first error: ${r.firstError}`);
  if (notes.length) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'interlock-bench-dataplane-'));
  let world: LabWorld | null = null;
  let loader: Loader | null = null;
  let backend: ChildProcess | null = null;
  const peers: PeerPair[] = [];
  try {
    log(`starting a lab in ${dir}`);
    world = await startLab({ dir: join(dir, 'lab') });
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    const frontend = east.identities.get('frontend')!;
    const billing = west.identities.get('billing')!;
    const catalog = east.identities.get('catalog')!;
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, [...new Set([frontend.bundlePem, billing.bundlePem])].join('\n'));

    // The backend takes over the sample service's port, where the west gateway forwards billing.
    const port = west.service.port;
    await west.service.close();
    const forked = await forkModule<{ port: number }>('./backend.ts', [billing.files.cert, billing.files.key, ca, String(port)]);
    backend = forked.child;
    pin(backend.pid as number, PROXY_CPU);
    const gatewayPids = [east.gateway.process.pid as number, west.gateway.process.pid as number];
    for (const pid of gatewayPids) pin(pid, PROXY_CPU);

    const notes: string[] = [
      'interlock: the west gateway checks the connection-bound identity assertion, evaluates Cedar policy and appends an audit record per request, and both gateways check revocation, certificate expiry and the path; the node, nginx and HAProxy pairs do none of that (no policy, no assertion, no audit)',
    ];
    for (const kind of ['node', 'nginx', 'haproxy'] as const) {
      if (PATHS && !PATHS.has(kind)) continue;
      if (kind !== 'node' && !toolVersion(kind, ['-v'])) {
        notes.push(`${kind}: not installed, skipped`);
        continue;
      }
      const pair = await startPeerPair(kind, join(dir, kind), ca, { cert: catalog.files.cert, key: catalog.files.key }, { cert: billing.files.cert, key: billing.files.key }, port, PROXY_CPU);
      peers.push(pair);
      notes.push(`${pair.name} (${pair.version}): ${pair.note}`);
    }

    const target = (p: number, hostHeader: string): Target => ({ host: '127.0.0.1', port: p, hostHeader, cert: frontend.certPem, key: frontend.keyPem, ca: frontend.bundlePem + billing.bundlePem });
    const paths: PathUnderTest[] = [
      { name: 'direct', target: target(port, 'billing'), pids: [] },
      { name: 'interlock', target: target(east.gateway.outbound.port, 'billing.west.interlock'), pids: gatewayPids },
      ...peers.map((p) => ({ name: p.name, target: target(p.port, 'billing'), pids: p.processes.map((c) => c.pid as number) })),
    ].filter((p) => !PATHS || PATHS.has(p.name.split(' ')[0]!));
    loader = await Loader.start(LOAD_CPU);
    const results: PathResult[] = [];
    for (const path of paths) results.push(await measurePath(loader, path, PLAN, log));

    console.log(`\nmachine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}; ${peers.map((p) => p.version).join(', ')}`);
    console.log(`pinning: load generator on CPU ${LOAD_CPU}; gateways, nginx, HAProxy and the backend on CPU ${PROXY_CPU}`);
    report(results, notes);
    const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
    console.log(`\nwall time ${((performance.now() - started) / 1000).toFixed(0)} s; load average before ${load(loadBefore)}, after ${load(loadavg())}`);
  } finally {
    loader?.close();
    await Promise.all(peers.flatMap((p) => p.processes.map(stop)));
    if (backend) await stop(backend);
    await world?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
