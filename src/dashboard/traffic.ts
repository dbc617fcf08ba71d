import type { AuditRecord } from '../audit/record.ts';
import type { DenyRow, PolicyCount, PolicyLatencyView, TrafficDirection } from './snapshot.ts';

/**
 * Traffic between clusters, read from the audit chains the gateways ship
 * (pure: records and a time in, figures out). Two records describe a call:
 *
 *   call.outbound    in the caller's stream: target, outcome, status, durationMs
 *   policy.decision  in the callee's stream: sourceCluster, decision, policyIds, decisionMs
 *
 * so rates, failures and end-to-end latency come from the first, verdicts
 * by policy and Cedar's evaluation time from the second.
 */

export interface StreamRecords {
  /** `<cluster>` or `<cluster>/<gateway name>` (routes/audit-streams.ts). */
  readonly stream: string;
  /** The newest records of the stream, oldest first. */
  readonly records: readonly AuditRecord[];
  /** True when the window holds more records than were read. */
  readonly truncated: boolean;
}

export interface TrafficWindow {
  readonly nowMs: number;
  readonly windowSeconds: number;
  readonly bucketSeconds: number;
}

/** Codes with which a call never got an answer from the peer gateway: the link itself failed. */
const LINK_FAILURE_CODES = new Set(['IL_ERR_PEER_UNAVAILABLE', 'IL_ERR_PEER_CIRCUIT_OPEN', 'IL_ERR_PEER_ISOLATED', 'IL_ERR_UPSTREAM_TIMEOUT']);
const MAX_DENIES = 50;

export const clusterOfStream = (stream: string): string => stream.split('/')[0]!;

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ascending = (values: number[]) => values.sort((x, y) => x - y);
const str = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** Bucket start times (unix seconds), the last bucket holding `now`; the first may begin a little after the window does. */
export function bucketStarts(w: TrafficWindow): number[] {
  const size = w.bucketSeconds * 1000;
  const end = Math.floor(w.nowMs / size) * size + size;
  const count = Math.ceil(w.windowSeconds / w.bucketSeconds);
  return Array.from({ length: count }, (_, i) => (end - (count - i) * size) / 1000);
}

function bucketOf(w: TrafficWindow, starts: readonly number[], timeMs: number): number {
  return Math.floor((timeMs / 1000 - starts[0]!) / w.bucketSeconds);
}

interface OutboundCall {
  readonly timeMs: number;
  readonly failed: boolean;
  readonly linkFailure: string | null;
  readonly durationMs: number | null;
}

interface Verdict {
  readonly allowed: boolean;
  readonly policies: readonly string[];
}

interface Direction {
  readonly calls: OutboundCall[];
  readonly verdicts: Verdict[];
}

/** What the last call of a direction says about the link, and when the last one got through. */
export interface DirectionHealth {
  readonly from: string;
  readonly to: string;
  readonly lastSuccessMs: number | null;
  /** The code of the newest call, if that call failed on the link itself. */
  readonly lastCallLinkFailure: string | null;
}

export interface TrafficSummary {
  readonly bucketStarts: readonly number[];
  readonly directions: readonly TrafficDirection[];
  readonly health: readonly DirectionHealth[];
  readonly policyLatency: readonly PolicyLatencyView[];
  readonly denies: readonly DenyRow[];
  readonly sampledStreams: readonly string[];
}

/** The policies a verdict counts under (see PolicyCount.policy). */
function verdictPolicies(data: Record<string, unknown>, allowed: boolean): string[] {
  const ids = Array.isArray(data.policyIds) ? data.policyIds.filter((id): id is string => typeof id === 'string') : [];
  if (ids.length > 0) return ids;
  const code = str(data.code) ?? str(data.reason);
  if (!allowed && code?.startsWith('IL_ERR_') && code !== 'IL_ERR_POLICY_DENIED') return [code];
  return [allowed ? '(no policy id)' : '(default deny)'];
}

function denyRow(stream: string, record: AuditRecord): DenyRow {
  const data = record.data;
  return {
    time: record.time,
    stream,
    seq: record.seq,
    principal: str(data.principal) ?? record.actor ?? 'unauthenticated',
    resource: str(data.resource) ?? str(data.host) ?? `${clusterOfStream(stream)}/?`,
    method: str(data.method) ?? '',
    path: str(data.path) ?? '',
    reason: str(data.reason) ?? '',
    code: str(data.code) ?? (str(data.reason)?.startsWith('IL_ERR_') ? str(data.reason) : null),
    sourceCluster: str(data.sourceCluster),
    policyVersion: num(data.policyVersion),
  };
}

export function summarizeTraffic(streams: readonly StreamRecords[], knownClusters: ReadonlySet<string>, w: TrafficWindow): TrafficSummary {
  const starts = bucketStarts(w);
  const since = w.nowMs - w.windowSeconds * 1000;
  const directions = new Map<string, Direction>();
  const direction = (from: string, to: string): Direction => {
    const key = `${from}>${to}`;
    let found = directions.get(key);
    if (!found) directions.set(key, (found = { calls: [], verdicts: [] }));
    return found;
  };
  const lastSuccess = new Map<string, number>();
  const lastCall = new Map<string, OutboundCall>();
  const decisionTimes = new Map<string, Array<{ timeMs: number; ms: number }>>();
  const denies: DenyRow[] = [];

  for (const { stream, records } of streams) {
    const cluster = clusterOfStream(stream);
    for (const record of records) {
      const data = record.data;
      if (record.type === 'policy.decision' && data.decision === 'deny') denies.push(denyRow(stream, record));
      const timeMs = Date.parse(record.time);
      if (!(timeMs >= since && timeMs <= w.nowMs)) continue;
      if (record.type === 'call.outbound') {
        const target = str(data.target);
        const to = target?.includes('/') ? target.split('/')[0]! : null;
        if (!to || !knownClusters.has(to)) continue;
        const code = str(data.code);
        const status = num(data.status);
        const linkFailure = data.outcome === 'error' ? (code ?? 'IL_ERR_PEER_UNAVAILABLE') : code && LINK_FAILURE_CODES.has(code) ? code : null;
        const call: OutboundCall = { timeMs, failed: data.outcome !== 'allow' || (status !== null && status >= 500), linkFailure, durationMs: num(data.durationMs) };
        direction(cluster, to).calls.push(call);
        const key = `${cluster}>${to}`;
        if ((lastCall.get(key)?.timeMs ?? 0) <= timeMs) lastCall.set(key, call);
        // Any answer from the peer (a 403 included) proves the handshake and the hop.
        if (data.outcome === 'allow' && timeMs > (lastSuccess.get(key) ?? 0)) lastSuccess.set(key, timeMs);
      } else if (record.type === 'policy.decision') {
        const from = str(data.sourceCluster);
        const allowed = data.decision === 'allow';
        if (from && knownClusters.has(from)) direction(from, cluster).verdicts.push({ allowed, policies: verdictPolicies(data, allowed) });
        const ms = num(data.decisionMs);
        if (ms !== null) {
          const list = decisionTimes.get(stream) ?? [];
          list.push({ timeMs, ms });
          decisionTimes.set(stream, list);
        }
      }
    }
  }

  const views: TrafficDirection[] = [...directions.entries()]
    .map(([key, d]) => {
      const [from, to] = key.split('>') as [string, string];
      return directionView(from, to, d, w, starts);
    })
    .sort((x, y) => x.from.localeCompare(y.from) || x.to.localeCompare(y.to));
  const health: DirectionHealth[] = views.map(({ from, to }) => ({ from, to, lastSuccessMs: lastSuccess.get(`${from}>${to}`) ?? null, lastCallLinkFailure: lastCall.get(`${from}>${to}`)?.linkFailure ?? null }));
  const policyLatency: PolicyLatencyView[] = [...decisionTimes.entries()]
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([stream, list]) => {
      const sorted = ascending(list.map((d) => d.ms));
      return { stream, decisions: list.length, ms: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1)! }, p95Series: bucketP95(list, w, starts) };
    });
  denies.sort((x, y) => y.time.localeCompare(x.time) || y.seq - x.seq);
  return { bucketStarts: starts, directions: views, health, policyLatency, denies: denies.slice(0, MAX_DENIES), sampledStreams: streams.filter((s) => s.truncated).map((s) => s.stream) };
}

/** Seconds a bucket covers so far: the last one is still filling, and dividing by its full width would show a false drop. */
function bucketSpan(w: TrafficWindow, starts: readonly number[], index: number): number {
  return Math.min(w.bucketSeconds, Math.max(1, w.nowMs / 1000 - starts[index]!));
}

function bucketP95(items: ReadonlyArray<{ timeMs: number; ms: number }>, w: TrafficWindow, starts: readonly number[]): Array<number | null> {
  const per: number[][] = starts.map(() => []);
  for (const item of items) per[bucketOf(w, starts, item.timeMs)]?.push(item.ms);
  return per.map((values) => (values.length ? percentile(ascending(values), 95) : null));
}

function directionView(from: string, to: string, d: Direction, w: TrafficWindow, starts: readonly number[]): TrafficDirection {
  // Without the caller's records (its stream not shipped yet) the callee's verdicts still count the calls.
  const calls = d.calls.length || d.verdicts.length;
  const errors = d.calls.filter((c) => c.failed).length;
  const durations = ascending(d.calls.map((c) => c.durationMs).filter((ms): ms is number => ms !== null));
  const counts = new Map<string, { allow: number; deny: number }>();
  for (const verdict of d.verdicts) {
    for (const policy of verdict.policies) {
      const entry = counts.get(policy) ?? { allow: 0, deny: 0 };
      if (verdict.allowed) entry.allow++;
      else entry.deny++;
      counts.set(policy, entry);
    }
  }
  const byPolicy: PolicyCount[] = [...counts.entries()].map(([policy, c]) => ({ policy, ...c })).sort((x, y) => y.allow + y.deny - (x.allow + x.deny) || x.policy.localeCompare(y.policy));
  const perBucket = starts.map(() => ({ calls: 0, errors: 0 }));
  for (const call of d.calls) {
    const bucket = perBucket[bucketOf(w, starts, call.timeMs)];
    if (!bucket) continue;
    bucket.calls++;
    if (call.failed) bucket.errors++;
  }
  const timed = d.calls.filter((c): c is OutboundCall & { durationMs: number } => c.durationMs !== null).map((c) => ({ timeMs: c.timeMs, ms: c.durationMs }));
  return {
    from,
    to,
    calls,
    requestsPerSecond: calls / w.windowSeconds,
    errors,
    errorRate: d.calls.length ? errors / d.calls.length : null,
    latencyMs: durations.length ? { p50: percentile(durations, 50), p95: percentile(durations, 95) } : null,
    allow: d.verdicts.filter((v) => v.allowed).length,
    deny: d.verdicts.filter((v) => !v.allowed).length,
    byPolicy,
    series: {
      requestsPerSecond: perBucket.map((b, i) => b.calls / bucketSpan(w, starts, i)),
      errorsPerSecond: perBucket.map((b, i) => b.errors / bucketSpan(w, starts, i)),
      p95Ms: bucketP95(timed, w, starts),
    },
  };
}
