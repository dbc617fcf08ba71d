import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterlockError } from '../errors.ts';
import { runCommand } from './netns.ts';

/**
 * Faults the chaos experiments inject on the lab's network, as commands run
 * inside a cluster's namespace. Each fault returns the commands that undo
 * it, so a run heals the link even when an experiment fails half-way.
 */
export type Argv = readonly string[];

export interface Fault {
  readonly description: string;
  /** What was used to inject it (which mechanism, e.g. netem or iptables+NFQUEUE). */
  readonly mechanism: string;
  heal(): Promise<void>;
}

const TAG = ['-m', 'comment', '--comment', 'interlock-chaos'];

/** Pure: iptables rules that drop everything in and out of `iface` (a cut cable: packets vanish, nothing is refused). */
export function linkCutRules(iface: string): Argv[] {
  return [
    ['INPUT', '-i', iface, ...TAG, '-j', 'DROP'],
    ['OUTPUT', '-o', iface, ...TAG, '-j', 'DROP'],
  ];
}

/** Pure: iptables rules for `lossPercent` random loss leaving `iface` and, when `queue` is set, the hand-off to the delay queue. */
export function impairmentRules(iface: string, options: { lossPercent: number; queue?: number }): Argv[] {
  return [
    ...(options.lossPercent > 0 ? [['OUTPUT', '-o', iface, ...TAG, '-m', 'statistic', '--mode', 'random', '--probability', String(options.lossPercent / 100), '-j', 'DROP']] : []),
    // --queue-bypass: if the delay program dies, packets pass instead of being dropped.
    ...(options.queue !== undefined ? [['OUTPUT', '-o', iface, ...TAG, '-j', 'NFQUEUE', '--queue-num', String(options.queue), '--queue-bypass']] : []),
  ];
}

/** Pure: send new TCP connections for `target` to `to` instead (an attacker in the path), and reset the ones already open. */
export function redirectRules(target: { host: string; port: number }, to: { host: string; port: number }): { nat: Argv[]; filter: Argv[] } {
  return {
    nat: [['OUTPUT', '-p', 'tcp', '-d', target.host, '--dport', String(target.port), ...TAG, '-j', 'DNAT', '--to-destination', `${to.host}:${to.port}`]],
    // After DNAT only connections opened before the rule still go to the real address: reset them so the pool reconnects through the attacker.
    filter: [['OUTPUT', '-p', 'tcp', '-d', target.host, '--dport', String(target.port), ...TAG, '-j', 'REJECT', '--reject-with', 'tcp-reset']],
  };
}

function iptables(exec: Argv, action: '-A' | '-D', rule: Argv, table = 'filter'): void {
  runCommand([...exec, 'iptables', '-w', '-t', table, action, ...rule]);
}

function applyRules(exec: Argv, rules: Argv[], table = 'filter'): () => void {
  const applied: Argv[] = [];
  try {
    for (const rule of rules) {
      iptables(exec, '-A', rule, table);
      applied.push(rule);
    }
  } catch (error) {
    applied.reverse().forEach((rule) => iptables(exec, '-D', rule, table));
    throw error;
  }
  return () => [...applied].reverse().forEach((rule) => iptables(exec, '-D', rule, table));
}

export function cutLink(exec: Argv, iface: string): Fault {
  const undo = applyRules(exec, linkCutRules(iface));
  return { description: `all packets in and out of ${iface} dropped`, mechanism: 'iptables DROP', heal: async () => undo() };
}

/** Whether this kernel has sch_netem (many minimal VM kernels do not). */
export function netemAvailable(exec: Argv): boolean {
  try {
    runCommand([...exec, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
    runCommand([...exec, 'tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
    return true;
  } catch {
    return false;
  }
}

const DELAY_PROGRAM = join(dirname(fileURLToPath(import.meta.url)), 'chaos', 'nfqueue-delay.py');

/**
 * Packet loss and added latency on what leaves `iface`. With sch_netem:
 * `tc qdisc … netem delay D loss L%`. Without it: iptables `statistic`
 * drops L% and an NFQUEUE program holds each remaining packet D ms.
 */
export async function impairLink(exec: Argv, iface: string, options: { lossPercent: number; delayMs: number; queue?: number }): Promise<Fault> {
  const description = `${options.lossPercent}% loss and ${options.delayMs} ms delay on packets leaving ${iface}`;
  if (netemAvailable(exec)) {
    runCommand([...exec, 'tc', 'qdisc', 'add', 'dev', iface, 'root', 'netem', 'delay', `${options.delayMs}ms`, 'loss', `${options.lossPercent}%`]);
    return { description, mechanism: 'tc netem', heal: async () => void runCommand([...exec, 'tc', 'qdisc', 'del', 'dev', iface, 'root']) };
  }
  const queue = options.queue ?? 7;
  let delayer: ChildProcess | undefined;
  if (options.delayMs > 0) delayer = await startDelayer(exec, queue, options.delayMs);
  let undo: () => void;
  try {
    undo = applyRules(exec, impairmentRules(iface, { lossPercent: options.lossPercent, ...(delayer ? { queue } : {}) }));
  } catch (error) {
    delayer?.kill('SIGTERM');
    throw error;
  }
  return {
    description,
    mechanism: `iptables statistic + NFQUEUE delay (no sch_netem in this kernel)`,
    heal: async () => {
      undo();
      if (delayer && delayer.exitCode === null) {
        const exited = new Promise((r) => delayer!.once('exit', r));
        delayer.kill('SIGTERM');
        await exited;
      }
    },
  };
}

function startDelayer(exec: Argv, queue: number, delayMs: number): Promise<ChildProcess> {
  const argv = [...exec, 'python3', DELAY_PROGRAM, String(queue), String(delayMs)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new InterlockError('IL_ERR_LAB_NETNS_FAILED', `the NFQUEUE delay program ${why}: ${output.trim()}`, { field: 'delay' }));
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('nfqueue-delay ready')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code) => fail(`exited with code ${code}`));
  });
}

/** DNATs `target` to an attacker at `to`, inside the calling cluster's namespace. */
export function redirectConnections(exec: Argv, target: { host: string; port: number }, to: { host: string; port: number }): Fault {
  const rules = redirectRules(target, to);
  const undoNat = applyRules(exec, rules.nat, 'nat');
  let undoFilter: () => void;
  try {
    undoFilter = applyRules(exec, rules.filter);
  } catch (error) {
    undoNat();
    throw error;
  }
  return {
    description: `new connections to ${target.host}:${target.port} sent to ${to.host}:${to.port}; open ones reset`,
    mechanism: 'iptables DNAT',
    heal: async () => {
      undoFilter();
      undoNat();
    },
  };
}

const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];

/** libfaketime's path, or null when the `faketime` package is not installed. */
export function libfaketimePath(): string | null {
  return LIBFAKETIME.find((path) => existsSync(path)) ?? null;
}

/**
 * The environment that runs one process with its wall clock offset by
 * `offsetSeconds` for its whole life (libfaketime, LD_PRELOAD, FAKETIME="-10s").
 * The offset is fixed at exec: a skew changed while the process runs (a
 * FAKETIME_TIMESTAMP_FILE re-read) applies with a lag, so phases would bleed
 * into each other; to change it, restart the process. Monotonic time is left
 * alone, so timers and durations stay true; only dates (certificate validity,
 * assertion iat/exp, audit timestamps) move.
 */
export function clockOffsetEnv(offsetSeconds: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const library = libfaketimePath();
  if (!library) throw new InterlockError('IL_ERR_LAB_NETNS_FAILED', 'libfaketime is not installed', { field: 'clock', hint: 'apt-get install faketime' });
  return { ...base, LD_PRELOAD: library, FAKETIME: `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}s`, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}
