/**
 * Process plumbing (forking the load generator and backend, CPU pinning,
 * CPU time from /proc) and the measurements one path goes through.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Job, JobResult, Target } from './load.ts';
import { percentile } from '../lifecycle/table.ts';

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** Forks a bench module (with this process's --import tsx) and waits for its first message. */
export async function forkModule<M>(file: string, args: readonly string[]): Promise<{ child: ChildProcess; first: M }> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = await new Promise<M>((resolve, reject) => {
    child.once('message', (m) => resolve(m as M));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return { child, first };
}

/** Pins every thread of a process to the given CPU list (threads made later inherit it). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
}

/** User plus system CPU seconds a process has used (all its threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export class Loader {
  private constructor(private readonly child: ChildProcess) {}

  static async start(cpu: string): Promise<Loader> {
    const { child } = await forkModule<{ ready: true }>('./load.ts', []);
    pin(child.pid as number, cpu);
    return new Loader(child);
  }

  run(job: Job): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.child.once('message', (m) => {
        const reply = m as { ok: true; result: JobResult } | { ok: false; error: string };
        if (reply.ok) resolve(reply.result);
        else reject(new Error(reply.error));
      });
      this.child.send(job);
    });
  }

  close(): void {
    this.child.disconnect();
  }
}

export interface PathUnderTest {
  readonly name: string;
  readonly target: Target;
  /** The proxy processes whose CPU time is charged to this path (none for direct). */
  readonly pids: readonly number[];
}

export interface Latency {
  readonly rps: number;
  readonly achieved: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

export interface PathResult {
  readonly name: string;
  readonly rps: number;
  /** Proxy CPU seconds per 1,000 requests, keep-alive saturation and new connections. */
  readonly cpuPer1kKeepAlive: number;
  readonly cpuPer1kHandshake: number;
  /** Open-loop latency, one entry per rate in Plan.rates. */
  readonly latency: readonly Latency[];
  readonly bulkMBps: number;
  readonly handshakesPerSecond: number;
  readonly errors: number;
  readonly firstError: string | null;
}

export interface Plan {
  readonly concurrency: number;
  readonly seconds: number;
  /** Open-loop rates, requests per second. */
  readonly rates: readonly number[];
  readonly bulkMiB: number;
  readonly bulkRuns: number;
  readonly handshakeConcurrency: number;
}

async function withCpu(pids: readonly number[], work: () => Promise<JobResult>): Promise<{ result: JobResult; cpu: number }> {
  const sum = () => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
  const before = sum();
  const result = await work();
  return { result, cpu: sum() - before };
}

const per1k = (cpu: number, ok: number) => (ok > 0 ? (cpu / ok) * 1000 : Number.NaN);

export async function measurePath(loader: Loader, path: PathUnderTest, plan: Plan, log: (line: string) => void): Promise<PathResult> {
  const { target } = path;
  let errors = 0;
  let firstError: string | null = null;
  const note = (r: JobResult) => {
    errors += r.errors;
    firstError ??= r.firstError;
    return r;
  };
  log(`${path.name}: warm-up`);
  await loader.run({ kind: 'saturate', target, path: '/small', concurrency: plan.concurrency, seconds: 1 });
  log(`${path.name}: saturation, ${plan.concurrency} keep-alive connections, ${plan.seconds} s`);
  const sat = await withCpu(path.pids, () => loader.run({ kind: 'saturate', target, path: '/small', concurrency: plan.concurrency, seconds: plan.seconds }).then(note));
  const latency: Latency[] = [];
  for (const rps of plan.rates) {
    log(`${path.name}: open loop at ${rps} req/s, ${plan.seconds} s`);
    const rate = note(await loader.run({ kind: 'rate', target, path: '/small', rps, seconds: plan.seconds }));
    latency.push({ rps, achieved: rate.ok / (rate.elapsedMs / 1000), p50: percentile(rate.samples, 0.5), p99: percentile(rate.samples, 0.99), p999: percentile(rate.samples, 0.999) });
  }
  log(`${path.name}: bulk, ${plan.bulkRuns} x ${plan.bulkMiB} MiB on one connection`);
  const bulk = note(await loader.run({ kind: 'bulk', target, path: `/bulk?mib=${plan.bulkMiB}`, runs: plan.bulkRuns }));
  log(`${path.name}: new mTLS connection per request, ${plan.handshakeConcurrency} at a time, ${plan.seconds} s`);
  const hs = await withCpu(path.pids, () => loader.run({ kind: 'handshake', target, path: '/small', concurrency: plan.handshakeConcurrency, seconds: plan.seconds }).then(note));
  const bulkMs = percentile(bulk.samples, 0.5);
  return {
    name: path.name,
    rps: sat.result.ok / (sat.result.elapsedMs / 1000),
    cpuPer1kKeepAlive: per1k(sat.cpu, sat.result.ok),
    cpuPer1kHandshake: per1k(hs.cpu, hs.result.ok),
    latency,
    bulkMBps: bulk.ok > 0 ? (plan.bulkMiB * 1.048576) / (bulkMs / 1000) : Number.NaN,
    handshakesPerSecond: hs.result.ok / (hs.result.elapsedMs / 1000),
    errors,
    firstError,
  };
}
