/**
 * Soak: the lab under steady traffic for a set time, with a staged CA
 * rotation started every `--rotate-every` seconds (the clusters' intermediates
 * in turn) and SVIDs short enough to renew several times a minute. Reports,
 * per window: requests, failed requests (an allowed call that did not get
 * 200, a denied call that did not get 403), latency percentiles, the resident
 * memory of the control plane and both gateways, and the rotations finished.
 * Writes a Markdown table and an SVG chart.
 *
 *   node --import tsx bench/soak/run.ts [--minutes 10] [--rps 50] [--rotate-every 60]
 *                                       [--window 30] [--out soak-results]
 *
 * Numbers from a run, and how to read them: docs/reliability.md ("Soak").
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { runCliAsync } from '../../test/helpers/cli.ts';
import { option, runHeader } from '../options.ts';
import { count, ms, percentile, table } from '../lifecycle/table.ts';
import { soakChart, type SoakWindow } from './chart.ts';

const MINUTES = option('--minutes', 10);
const RPS = option('--rps', 50);
const ROTATE_EVERY_S = option('--rotate-every', 60);
const WINDOW_S = option('--window', 30);
const OUT = resolve(process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : 'soak-results');

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Resident memory of a process in MiB, from /proc (Linux). */
function rssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly what: string;
}

async function main(): Promise<void> {
  const loadBefore = (await import('node:os')).loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'interlock-soak-'));
  mkdirSync(OUT, { recursive: true });
  log(`lab in ${dir}; ${MINUTES} min at ${RPS} req/s, a CA rotation every ${ROTATE_EVERY_S} s`);
  // SVIDs of 60 s renew at about half their life: several renewals per rotation.
  const world: LabWorld = await startLab({ dir: join(dir, 'lab'), svidTtlSeconds: 60 });
  const samples: Sample[] = [];
  const rotations: Array<{ cluster: string; startedAt: number; finishedAt: number | null; status: number | null }> = [];
  let stopping = false;
  try {
    const east = world.clusters.get('east')!;
    // Each caller renews its SVID as the SDK does; a new agent (pool) takes the new certificate.
    const following = (name: string) => {
      const holder = { agent: createWorkloadAgent(east.identities.get(name)!, gatewaySpiffeId(east.trustDomain)) };
      east.workloads.get(name)!.on('rotated', () => {
        const old = holder.agent;
        holder.agent = createWorkloadAgent(east.identities.get(name)!, gatewaySpiffeId(east.trustDomain));
        setTimeout(() => old.destroy(), 10_000).unref();
      });
      return holder;
    };
    const allowed = following('frontend');
    const denied = following('reporting');
    const tokenFile = join(dir, 'custodian.token');
    writeFileSync(tokenFile, (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'soak-custodian', roles: ['key-custodian'] })).token + '\n', { mode: 0o600 });
    const cli = (...args: string[]) => runCliAsync([...args, '--server', world.controlPlane.url, '--ca-file', world.controlPlane.bundleFile, '--token-file', tokenFile], { timeoutMs: 10 * 60_000 });

    const started = performance.now();
    const endAt = started + MINUTES * 60_000;
    // Open loop: a request every 1/RPS s whatever the answers do; one in ten is a call the demo policy denies.
    let sent = 0;
    const inflight = new Set<Promise<void>>();
    const fire = (n: number) => {
      const isDenied = n % 10 === 9;
      const t0 = performance.now();
      const call = callThroughGateway(isDenied ? denied.agent : allowed.agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' })
        .then((r) => ({ ok: isDenied ? r.status === 403 : r.status === 200, what: `${r.status} ${r.errorCode ?? ''}`.trim() }))
        .catch((error: Error) => ({ ok: false, what: error.message }))
        .then((r) => {
          samples.push({ at: t0 - started, ms: performance.now() - t0, ok: r.ok, what: r.what });
        });
      inflight.add(call);
      void call.finally(() => inflight.delete(call));
    };
    const traffic = (async () => {
      while (performance.now() < endAt) {
        const due = started + (sent * 1000) / RPS;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        fire(sent++);
      }
    })();

    // Rotations: east and west's intermediates in turn, one at a time; a rotation still running when the next is due delays it.
    const rotating = (async () => {
      let turn = 0;
      while (!stopping && performance.now() < endAt) {
        const due = started + (turn + 1) * ROTATE_EVERY_S * 1000;
        while (!stopping && performance.now() < Math.min(due, endAt)) await new Promise((r) => setTimeout(r, 200));
        if (stopping || performance.now() >= endAt) break;
        const cluster = turn % 2 === 0 ? 'east' : 'west';
        const record: (typeof rotations)[number] = { cluster, startedAt: performance.now() - started, finishedAt: null, status: null };
        rotations.push(record);
        log(`rotation ${turn + 1}: ${cluster}'s intermediate CA`);
        const result = await cli('ca', 'rotate', '--cluster', cluster, '--poll', '500', '--wait', String(Math.max(120, ROTATE_EVERY_S * 3)));
        record.status = result.status;
        record.finishedAt = performance.now() - started;
        if (result.status !== 0) log(`rotation of ${cluster} failed: ${(result.stderr || result.stdout).trim().split('\n')[0]}`);
        turn++;
      }
    })();

    // Windows: memory is read at each window's end.
    const pids = { controlPlane: world.controlPlane.process.pid, east: east.gateway.process.pid, west: world.clusters.get('west')!.gateway.process.pid };
    const memory: Array<{ at: number; cp: number; east: number; west: number }> = [];
    const sampler = setInterval(() => memory.push({ at: performance.now() - started, cp: rssMiB(pids.controlPlane), east: rssMiB(pids.east), west: rssMiB(pids.west) }), WINDOW_S * 1000);
    memory.push({ at: 0, cp: rssMiB(pids.controlPlane), east: rssMiB(pids.east), west: rssMiB(pids.west) });
    await traffic;
    await Promise.all(inflight);
    stopping = true;
    clearInterval(sampler);
    memory.push({ at: performance.now() - started, cp: rssMiB(pids.controlPlane), east: rssMiB(pids.east), west: rssMiB(pids.west) });
    await rotating;

    const windows: SoakWindow[] = [];
    for (let from = 0; from < MINUTES * 60_000; from += WINDOW_S * 1000) {
      const inWindow = samples.filter((s) => s.at >= from && s.at < from + WINDOW_S * 1000);
      const mem = memory.find((m) => m.at >= from + WINDOW_S * 1000 - 1000) ?? memory[memory.length - 1]!;
      const latencies = inWindow.map((s) => s.ms);
      windows.push({
        fromS: from / 1000,
        requests: inWindow.length,
        failed: inWindow.filter((s) => !s.ok).length,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: latencies.length ? Math.max(...latencies) : Number.NaN,
        rssMiB: { controlPlane: mem.cp, east: mem.east, west: mem.west },
        rotationsFinished: rotations.filter((r) => r.finishedAt !== null && r.finishedAt < from + WINDOW_S * 1000 && r.status === 0).length,
      });
    }
    const failures = new Map<string, number>();
    for (const s of samples) if (!s.ok) failures.set(s.what, (failures.get(s.what) ?? 0) + 1);
    const first = memory[0]!;
    const last = memory[memory.length - 1]!;
    const lines = [
      `# Soak: ${MINUTES} min at ${RPS} req/s, CA rotation every ${ROTATE_EVERY_S} s`,
      '',
      ...runHeader('bench/soak/run.ts', [], loadBefore).map((l) => `- ${l}`),
      '',
      `requests: ${count(samples.length)}, failed: ${count(samples.filter((s) => !s.ok).length)}${failures.size ? ` (${[...failures].map(([k, v]) => `${k}: ${v}`).join('; ')})` : ''}`,
      `rotations: ${rotations.filter((r) => r.status === 0).length} finished of ${rotations.length} started (${rotations.map((r) => `${r.cluster} ${r.status === 0 ? `${ms(((r.finishedAt ?? 0) - r.startedAt) / 1000, 0)} s` : `exit ${r.status}`}`).join(', ')})`,
      `memory (RSS MiB, start → end): control plane ${ms(first.cp)} → ${ms(last.cp)}, east gateway ${ms(first.east)} → ${ms(last.east)}, west gateway ${ms(first.west)} → ${ms(last.west)}`,
      '',
      table(
        ['window (s)', 'requests', 'failed', 'p50 ms', 'p99 ms', 'max ms', 'RSS cp', 'RSS east', 'RSS west', 'rotations done'],
        windows.map((w) => [`${w.fromS}–${w.fromS + WINDOW_S}`, count(w.requests), count(w.failed), ms(w.p50), ms(w.p99), ms(w.max), ms(w.rssMiB.controlPlane), ms(w.rssMiB.east), ms(w.rssMiB.west), String(w.rotationsFinished)]),
      ),
      '',
      '![latency and memory over time](soak.svg)',
    ];
    writeFileSync(join(OUT, 'soak.md'), lines.join('\n') + '\n');
    writeFileSync(join(OUT, 'soak.svg'), soakChart(windows, WINDOW_S));
    writeFileSync(join(OUT, 'soak.json'), JSON.stringify({ minutes: MINUTES, rps: RPS, rotateEverySeconds: ROTATE_EVERY_S, windows, rotations, failures: Object.fromEntries(failures) }, null, 2));
    console.log(lines.join('\n'));
    log(`wrote ${join(OUT, 'soak.md')}, soak.svg and soak.json`);
    if (samples.some((s) => !s.ok)) process.exitCode = 1;
  } finally {
    stopping = true;
    await world.close();
  }
}

await main();
