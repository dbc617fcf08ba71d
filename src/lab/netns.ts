import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { InterlockError } from '../errors.ts';

/**
 * The lab's network-namespace topology: each cluster in its own Linux
 * network namespace, so cross-cluster traffic crosses a real interface that
 * faults (iptables, netem, an attacker in the path) can act on.
 *
 *              root namespace: control plane, sample services, lab workloads
 *     il<id>c 10.213.X.1 ──┐        il<id>l0 10.213.X.5     il<id>l1 10.213.X.9
 *                          │             │ lan                   │ lan
 *   ┌─ il-<id>-hub ────────┴──┐   ┌─ il-<id>-east ──┐     ┌─ il-<id>-west ──┐
 *   │ br0 (the "wan")         │   │ lan0 10.213.X.6 │     │ lan0 10.213.X.10│
 *   │  ├─ w0 ─────────────────┼───┤ wan0 10.213.0.10│     │ wan0 10.213.0.11│
 *   │  ├─ w1 ─────────────────┼───┼─────────────────┼─────┤                 │
 *   │  └─ wm ── il-<id>-mallory wan0 10.213.0.66 (an attacker on the wan)   │
 *   └─────────────────────────┘   └─────────────────┘     └─────────────────┘
 *
 * Gateways listen for peers on their wan address and for workloads (outbound,
 * admin) on their lan address; the control plane listens on 10.213.X.1 in the
 * root namespace, which every cluster reaches over its own lan (Linux accepts
 * a packet for any local address on any interface). Only the wan is shared
 * between clusters, so a fault on a cluster's wan0 is a cross-cluster fault.
 * The wan subnet lives only inside this run's namespaces; the lan /30s are in
 * the root namespace, so X is chosen per run among octets no route uses.
 */
export const WAN_PREFIX = '10.213.0';
const LAN_FIRST_OCTETS = '10.213';
export const WAN_INTERFACE = 'wan0';
export const HUB_BRIDGE = 'br0';

export interface ClusterNetwork {
  readonly namespace: string;
  /** Prefix that runs a command inside the cluster's namespace. */
  readonly exec: readonly string[];
  /** The gateway's address on the cross-cluster wan (inbound listener). */
  readonly wanHost: string;
  /** The gateway's address towards the root namespace (outbound and admin listeners). */
  readonly lanHost: string;
  /** The root namespace's end of the cluster's lan: where its sample service listens. */
  readonly serviceHost: string;
}

/** What the lab needs to place its processes: addresses and command prefixes. */
export interface LabNetwork {
  readonly runId: string;
  readonly controlPlaneHost: string;
  readonly hub: { readonly namespace: string; readonly exec: readonly string[] };
  /** A host on the wan that belongs to no cluster: where attackers run. */
  readonly mallory: { readonly namespace: string; readonly exec: readonly string[]; readonly wanHost: string };
  readonly clusters: ReadonlyMap<string, ClusterNetwork>;
}

export interface NetnsPlan extends LabNetwork {
  readonly lanOctet: number;
  readonly setup: readonly (readonly string[])[];
  readonly teardown: readonly (readonly string[])[];
}

const execIn = (namespace: string) => ['ip', 'netns', 'exec', namespace] as const;

/** Pure: every `ip` command that builds (and removes) the topology for these clusters. */
export function planNetns(clusters: readonly string[], options: { runId: string; lanOctet: number }): NetnsPlan {
  const { runId, lanOctet } = options;
  if (!/^[a-z0-9]{1,6}$/.test(runId)) throw new InterlockError('IL_ERR_LAB_FAILED', `run id ${runId} must be 1–6 lowercase letters or digits (interface names are at most 15 bytes)`, { field: 'runId' });
  if (clusters.length > 60) throw new InterlockError('IL_ERR_LAB_FAILED', 'the netns lab holds at most 60 clusters', { field: 'topology' });
  const lan = (n: number) => `${LAN_FIRST_OCTETS}.${lanOctet}.${n}`;
  const hub = `il-${runId}-hub`;
  const mallory = `il-${runId}-mallory`;
  const setup: string[][] = [
    ['ip', 'netns', 'add', hub],
    ['ip', '-n', hub, 'link', 'set', 'lo', 'up'],
    ['ip', '-n', hub, 'link', 'add', HUB_BRIDGE, 'type', 'bridge'],
    ['ip', '-n', hub, 'link', 'set', HUB_BRIDGE, 'up'],
    // The control plane's address: a veth whose other end idles in the hub, so it is up and local to the root namespace.
    ['ip', 'link', 'add', `il${runId}c`, 'type', 'veth', 'peer', 'name', 'cp0', 'netns', hub],
    ['ip', 'addr', 'add', `${lan(1)}/30`, 'dev', `il${runId}c`],
    ['ip', 'link', 'set', `il${runId}c`, 'up'],
    ['ip', '-n', hub, 'link', 'set', 'cp0', 'up'],
  ];
  const attach = (namespace: string, port: string, address: string) => [
    ['ip', 'netns', 'add', namespace],
    ['ip', '-n', namespace, 'link', 'set', 'lo', 'up'],
    ['ip', '-n', namespace, 'link', 'add', WAN_INTERFACE, 'type', 'veth', 'peer', 'name', port, 'netns', hub],
    ['ip', '-n', hub, 'link', 'set', port, 'master', HUB_BRIDGE],
    ['ip', '-n', hub, 'link', 'set', port, 'up'],
    ['ip', '-n', namespace, 'addr', 'add', `${address}/24`, 'dev', WAN_INTERFACE],
    ['ip', '-n', namespace, 'link', 'set', WAN_INTERFACE, 'up'],
  ];
  const networks = new Map<string, ClusterNetwork>();
  clusters.forEach((name, k) => {
    const namespace = `il-${runId}-${name}`;
    const rootEnd = `il${runId}l${k}`;
    const base = 4 * (k + 1);
    const network: ClusterNetwork = { namespace, exec: execIn(namespace), wanHost: `${WAN_PREFIX}.${10 + k}`, lanHost: lan(base + 2), serviceHost: lan(base + 1) };
    networks.set(name, network);
    setup.push(
      ...attach(namespace, `w${k}`, network.wanHost),
      ['ip', 'link', 'add', rootEnd, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', namespace],
      ['ip', 'addr', 'add', `${network.serviceHost}/30`, 'dev', rootEnd],
      ['ip', 'link', 'set', rootEnd, 'up'],
      ['ip', '-n', namespace, 'addr', 'add', `${network.lanHost}/30`, 'dev', 'lan0'],
      ['ip', '-n', namespace, 'link', 'set', 'lan0', 'up'],
      // Everything not on the wan (the control plane, the lab) is reached through the root namespace.
      ['ip', '-n', namespace, 'route', 'add', 'default', 'via', network.serviceHost],
    );
  });
  const malloryHost = `${WAN_PREFIX}.66`;
  setup.push(...attach(mallory, 'wm', malloryHost));
  // Deleting a namespace destroys the veth ends in it, and with them their peers in the root namespace.
  const teardown = [...clusters.map((name) => networks.get(name)!.namespace), mallory, hub].map((ns) => ['ip', 'netns', 'delete', ns]);
  return {
    runId,
    lanOctet,
    controlPlaneHost: lan(1),
    hub: { namespace: hub, exec: execIn(hub) },
    mallory: { namespace: mallory, exec: execIn(mallory), wanHost: malloryHost },
    clusters: networks,
    setup,
    teardown,
  };
}

/** Why the netns lab cannot run here, or null when it can (root, and `ip netns` works). */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (userInfo().uid !== 0) return `needs root to create network namespaces (uid ${userInfo().uid})`;
  const probe = `il-probe-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (error) {
    return `\`ip netns add\` failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
  execFileSync('ip', ['netns', 'delete', probe], { stdio: 'pipe' });
  return null;
}

export function runCommand(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new InterlockError('IL_ERR_LAB_NETNS_FAILED', `\`${argv.join(' ')}\` failed: ${stderr || (error as Error).message}`, { field: 'netns' });
  }
}

/** An unused third octet for this run's lan /30s in the root namespace. */
function freeLanOctet(): number {
  const routes = runCommand(['ip', '-4', 'route', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const octet = 1 + (randomBytes(1)[0]! % 250);
    if (!routes.includes(`${LAN_FIRST_OCTETS}.${octet}.`)) return octet;
  }
  throw new InterlockError('IL_ERR_LAB_NETNS_FAILED', `no free ${LAN_FIRST_OCTETS}.X.0/24 left for the lab's lan`, { field: 'netns' });
}

export interface NetnsTopology extends LabNetwork {
  /** Removes every namespace (and so every veth and rule) of this run. Safe to call twice. */
  close(): void;
}

/** Builds the topology; on any failure removes what it made. The namespaces also go if this process exits. */
export function createNetnsTopology(clusters: readonly string[], runId = randomBytes(3).toString('hex')): NetnsTopology {
  const reason = netnsUnavailableReason();
  if (reason) throw new InterlockError('IL_ERR_LAB_NETNS_UNAVAILABLE', reason, { field: '--netns', hint: 'run as root on Linux, or use the loopback lab (--loopback)' });
  const plan = planNetns(clusters, { runId, lanOctet: freeLanOctet() });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    process.off('exit', close);
    for (const argv of plan.teardown) {
      try {
        execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  };
  process.on('exit', close);
  try {
    for (const argv of plan.setup) runCommand(argv);
  } catch (error) {
    close();
    throw error;
  }
  const { setup: _setup, teardown: _teardown, lanOctet: _octet, ...network } = plan;
  return { ...network, close };
}

/** Namespaces of this run that still exist (for tests that check the clean-up). */
export function namespacesOf(runId: string): string[] {
  return runCommand(['ip', 'netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(`il-${runId}-`));
}
