import type { AuthorityRow, ClusterRow, SvidRow } from '../store/types.ts';
import type { TrustReport } from './trust.ts';
import type { GatewayPolicyReport, Rollout } from './policy-service.ts';
import type { IncidentRecord } from './incidents.ts';
import { humanSeconds } from '../dashboard/format.ts';
import { summarizeTraffic, type DirectionHealth, type StreamRecords } from '../dashboard/traffic.ts';
import type {
  AlertRow,
  CertificateRow,
  ClusterView,
  DashboardSnapshot,
  GatewayRolloutRow,
  GatewayView,
  Health,
  IncidentRow,
  LinkView,
  PolicyRolloutView,
  Reason,
  TrafficDirection,
} from '../dashboard/snapshot.ts';

/**
 * The operator dashboard's snapshot, as pure functions of what the store
 * holds and the time (routes/dashboard.ts reads the store). Health colours:
 *
 *   red    the link cannot carry traffic now: a gateway without a valid SVID,
 *          an expired CA or policy bundle, an isolated cluster, or the last
 *          call across the link failed before the peer answered
 *   amber  it works but needs attention: a certificate in its last third of
 *          life (or last 7 days), a trust or policy report missing or late,
 *          a gateway behind on the CAs it trusts, more than 5% failed calls
 *   green  none of those
 */

export const WINDOW_SECONDS = 300;
export const BUCKET_SECONDS = 10;
/** Gateways report trust every 30 s and policy every 15 s (defaults); four missed reports make one late. */
export const TRUST_REPORT_STALE_MS = 120_000;
export const POLICY_REPORT_STALE_MS = 60_000;
export const ERROR_RATE_WARN = 0.05;
const DAY_SECONDS = 86_400;
/** Beyond this many clusters only pairs that exchanged traffic are drawn, not every federated pair. */
const MAX_CLUSTERS_FOR_IDLE_LINKS = 12;
const MAX_ALERTS = 50;
const ALERT_HORIZON_MS = 24 * 3_600_000;

export interface DashboardInput {
  readonly clusters: readonly ClusterRow[];
  readonly authorities: ReadonlyArray<Pick<AuthorityRow, 'serial' | 'kind' | 'cluster' | 'status' | 'notAfter'> & { readonly notBefore: string }>;
  /** SVIDs not yet expired, revoked ones included. */
  readonly svids: readonly SvidRow[];
  readonly svidsTruncated: boolean;
  readonly gatewayIds: ReadonlyArray<{ readonly cluster: string; readonly spiffeId: string }>;
  /** Serials of every CA the trust document publishes: what each gateway should report holding. */
  readonly trustedSerials: readonly string[];
  readonly isolated: readonly string[];
  readonly trustReports: readonly TrustReport[];
  readonly policyReports: readonly GatewayPolicyReport[];
  readonly activePolicy: number | null;
  readonly rollout: Rollout | null;
  readonly streams: readonly StreamRecords[];
  /** As /v1/alerts answers them; read loosely, since detectors grow new fields. */
  readonly alerts: readonly unknown[];
  readonly incidents: readonly IncidentRecord[];
}

const RANK: Record<Health, number> = { ok: 0, warn: 1, bad: 2 };
export const worst = (...all: Health[]): Health => all.reduce((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok');
const secondsBetween = (from: string | number, to: string | number) => (new Date(to).getTime() - new Date(from).getTime()) / 1000;

/** Less than 7 days or a third of its life left, whichever is shorter: a 1 h SVID past renewal (half life) is not yet "soon", a 20-minute one is. */
export function isExpiringSoon(secondsLeft: number, lifetimeSeconds: number): boolean {
  return secondsLeft < Math.min(7 * DAY_SECONDS, lifetimeSeconds / 3);
}

export function certificateInventory(input: DashboardInput, nowMs: number): CertificateRow[] {
  const gatewayIds = new Set(input.gatewayIds.map((g) => g.spiffeId));
  const row = (r: Omit<CertificateRow, 'secondsLeft' | 'lifetimeSeconds' | 'expiringSoon'>, counts: boolean): CertificateRow => {
    const secondsLeft = secondsBetween(nowMs, r.notAfter);
    const lifetimeSeconds = secondsBetween(r.notBefore, r.notAfter);
    return { ...r, secondsLeft, lifetimeSeconds, expiringSoon: counts && isExpiringSoon(secondsLeft, lifetimeSeconds) };
  };
  const cas = input.authorities.map((a) =>
    row({ kind: a.kind === 'root' ? 'root CA' : 'cluster CA', subject: a.kind === 'root' ? 'root CA' : `${a.cluster} intermediate CA`, cluster: a.cluster, serial: a.serial, status: a.status, notBefore: a.notBefore, notAfter: a.notAfter }, a.status !== 'retired'),
  );
  const svids = input.svids.map((s) =>
    row({ kind: gatewayIds.has(s.spiffeId) ? 'gateway SVID' : 'workload SVID', subject: s.spiffeId, cluster: s.cluster, serial: s.serial, status: s.revokedAt ? 'revoked' : 'valid', notBefore: s.notBefore, notAfter: s.notAfter }, !s.revokedAt),
  );
  return [...cas, ...svids].sort((x, y) => x.secondsLeft - y.secondsLeft);
}

type Authority = DashboardInput['authorities'][number];

function gatewayOf(input: DashboardInput, cluster: string, nowMs: number): { view: GatewayView; svid: SvidRow | undefined; intermediate: Authority | undefined } {
  const ids = input.gatewayIds.filter((g) => g.cluster === cluster).map((g) => g.spiffeId);
  // A gateway renews at half life, so older SVIDs stay valid for a while: the newest is the one in use.
  const svid = input.svids.filter((s) => s.cluster === cluster && ids.includes(s.spiffeId) && !s.revokedAt && Date.parse(s.notAfter) > nowMs).sort((x, y) => y.notAfter.localeCompare(x.notAfter))[0];
  const intermediate = input.authorities.filter((a) => a.kind === 'cluster' && a.cluster === cluster && a.status === 'active').sort((x, y) => y.notAfter.localeCompare(x.notAfter))[0];
  const trustReport = input.trustReports.filter((r) => r.cluster === cluster).sort((x, y) => y.reportedAt.localeCompare(x.reportedAt))[0];
  let trust: GatewayView['trust'] = 'unreported';
  if (trustReport) {
    const held = new Set(trustReport.serials.map((s) => s.toLowerCase()));
    if (nowMs - Date.parse(trustReport.reportedAt) > TRUST_REPORT_STALE_MS) trust = 'stale';
    else trust = input.trustedSerials.every((s) => held.has(s.toLowerCase())) ? 'in-sync' : 'behind';
  }
  const policyReport = input.policyReports.find((r) => r.cluster === cluster);
  const policyState: GatewayView['policyState'] = !policyReport ? 'unreported' : nowMs - Date.parse(policyReport.reportedAt) > POLICY_REPORT_STALE_MS ? 'stale' : policyReport.state;
  const view: GatewayView = {
    spiffeId: svid?.spiffeId ?? ids[0] ?? null,
    svidSerial: svid?.serial ?? null,
    svidSecondsLeft: svid ? secondsBetween(nowMs, svid.notAfter) : null,
    intermediateSecondsLeft: intermediate ? secondsBetween(nowMs, intermediate.notAfter) : null,
    trust,
    trustReportedAt: trustReport?.reportedAt ?? null,
    policyState,
  };
  return { view, svid, intermediate };
}

export function clusterViews(input: DashboardInput, nowMs: number): ClusterView[] {
  const isolated = new Set(input.isolated);
  return input.clusters.map((c) => {
    const { view: gateway, svid, intermediate } = gatewayOf(input, c.name, nowMs);
    const reasons: Reason[] = [];
    const add = (health: Health, text: string) => reasons.push({ health, text });
    if (isolated.has(c.name)) add('bad', 'isolated after a compromise: its links are cut');
    if (!svid) add('bad', 'its gateway holds no valid SVID');
    else if (isExpiringSoon(gateway.svidSecondsLeft!, secondsBetween(svid.notBefore, svid.notAfter))) add('warn', `gateway SVID has ${humanSeconds(gateway.svidSecondsLeft!)} left (renewal is due at half life)`);
    if (!intermediate || gateway.intermediateSecondsLeft! <= 0) add('bad', 'no valid intermediate CA');
    else if (isExpiringSoon(gateway.intermediateSecondsLeft!, secondsBetween(intermediate.notBefore, intermediate.notAfter))) add('warn', `intermediate CA has ${humanSeconds(gateway.intermediateSecondsLeft!)} left`);
    if (gateway.trust === 'behind') add('warn', 'gateway does not hold every published CA yet (trust bundle behind)');
    else if (gateway.trust === 'stale') add('warn', `gateway last confirmed its trust bundle ${humanSeconds(secondsBetween(gateway.trustReportedAt!, nowMs))} ago`);
    else if (gateway.trust === 'unreported') add('warn', 'gateway never confirmed its trust bundle');
    if (gateway.policyState === 'expired' || gateway.policyState === 'unavailable') add('bad', `policy bundle ${gateway.policyState}: the gateway denies every call`);
    else if (gateway.policyState === 'stale' || gateway.policyState === 'unreported') add('warn', `policy report ${gateway.policyState === 'stale' ? 'late' : 'missing'}`);
    return { name: c.name, trustDomain: c.trustDomain, isolated: isolated.has(c.name), gateway, health: worst(...reasons.map((r) => r.health)), reasons };
  });
}

export function linkViews(clusters: readonly ClusterView[], directions: readonly TrafficDirection[], health: readonly DirectionHealth[]): LinkView[] {
  const byName = new Map(clusters.map((c) => [c.name, c]));
  const pairs = new Set<string>();
  const pairOf = (x: string, y: string) => (x < y ? `${x}|${y}` : `${y}|${x}`);
  for (const d of directions) if (d.from !== d.to) pairs.add(pairOf(d.from, d.to));
  if (clusters.length <= MAX_CLUSTERS_FOR_IDLE_LINKS) {
    for (const [i, x] of clusters.entries()) for (const y of clusters.slice(i + 1)) pairs.add(pairOf(x.name, y.name));
  }
  return [...pairs].sort().map((id) => {
    const [a, b] = id.split('|') as [string, string];
    const ends = [byName.get(a)!, byName.get(b)!];
    const both = directions.filter((d) => pairOf(d.from, d.to) === id && d.from !== d.to);
    const states = health.filter((h) => pairOf(h.from, h.to) === id && h.from !== h.to);
    const calls = both.reduce((n, d) => n + d.calls, 0);
    const measured = both.filter((d) => d.errorRate !== null);
    const measuredCalls = measured.reduce((n, d) => n + d.calls, 0);
    const errorRate = measuredCalls ? measured.reduce((n, d) => n + d.errors, 0) / measuredCalls : null;
    const reasons: Reason[] = ends.flatMap((c) => c.reasons.map((r) => ({ health: r.health, text: `${c.name}: ${r.text}` })));
    for (const s of states) if (s.lastCallLinkFailure) reasons.push({ health: 'bad', text: `last call ${s.from} → ${s.to} failed before the peer answered (${s.lastCallLinkFailure})` });
    if (errorRate !== null && errorRate > ERROR_RATE_WARN) reasons.push({ health: 'warn', text: `${(errorRate * 100).toFixed(1)}% of calls failed in the last ${WINDOW_SECONDS / 60} min` });
    if (calls === 0) reasons.push({ health: 'ok', text: `no calls in the last ${WINDOW_SECONDS / 60} min (handshakes not observed)` });
    const lastSuccessMs = Math.max(0, ...states.map((s) => s.lastSuccessMs ?? 0));
    const certs = ends.flatMap((c) => [c.gateway.svidSecondsLeft, c.gateway.intermediateSecondsLeft]).filter((s): s is number => s !== null);
    return {
      id,
      a,
      b,
      health: worst(...reasons.map((r) => r.health)),
      reasons,
      lastSuccessAt: lastSuccessMs ? new Date(lastSuccessMs).toISOString() : null,
      minCertSecondsLeft: certs.length ? Math.min(...certs) : null,
      requestsPerSecond: calls / WINDOW_SECONDS,
      errorRate,
    };
  });
}

export function rolloutView(input: DashboardInput, nowMs: number): PolicyRolloutView {
  const gateways: GatewayRolloutRow[] = input.clusters.map((c) => {
    const r = input.policyReports.find((p) => p.cluster === c.name);
    if (!r) return { cluster: c.name, gateway: null, state: 'unreported', enforcedVersion: null, candidateVersion: null, stage: 'none', evaluated: 0, disagreements: 0, allowToDeny: 0, denyToAllow: 0, reportedAt: null, reportStale: true };
    return {
      cluster: c.name,
      gateway: r.gateway,
      state: r.state,
      enforcedVersion: r.enforcedVersion,
      candidateVersion: r.candidateVersion,
      stage: r.candidateMode ?? 'none',
      evaluated: r.evaluated,
      disagreements: r.disagreements,
      allowToDeny: r.allowToDeny,
      denyToAllow: r.denyToAllow,
      reportedAt: r.reportedAt,
      reportStale: nowMs - Date.parse(r.reportedAt) > POLICY_REPORT_STALE_MS,
    };
  });
  const ro = input.rollout;
  return { active: input.activePolicy, rollout: ro ? { version: ro.version, stage: ro.stage, clusters: ro.canary.clusters, percent: ro.canary.percent, by: ro.by, at: ro.at } : null, gateways };
}

const text = (value: unknown, fallback = ''): string => (typeof value === 'string' ? value : fallback);

/** Alerts of the last day, newest first; one a detector marks resolved (status/resolvedAt) is left out. */
export function alertRows(alerts: readonly unknown[], nowMs: number): AlertRow[] {
  return alerts
    .filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null)
    .filter((a) => a.status !== 'resolved' && !a.resolvedAt && nowMs - Date.parse(text(a.at)) <= ALERT_HORIZON_MS)
    .map((a) => ({ at: text(a.at), detector: text(a.detector, 'unknown'), cluster: text(a.cluster), summary: text(a.summary), action: text(a.action), incident: typeof a.incident === 'string' ? a.incident : null }))
    .sort((x, y) => y.at.localeCompare(x.at))
    .slice(0, MAX_ALERTS);
}

export function openIncidents(incidents: readonly IncidentRecord[]): IncidentRow[] {
  return incidents
    .filter((i) => i.status === 'open')
    .map((i) => {
      const last = i.timeline.at(-1);
      const scope = [i.scope.spiffeId, i.scope.cluster && `cluster ${i.scope.cluster}`].filter(Boolean).join(', ');
      return { id: i.id, status: i.status, reason: i.reason, trigger: i.trigger, scope: scope || 'everything', openedAt: i.timeline[0]?.at ?? '', lastStep: last?.step ?? '', lastStepAt: last?.at ?? '' };
    })
    .sort((x, y) => y.openedAt.localeCompare(x.openedAt));
}

export function buildSnapshot(input: DashboardInput, now: Date): DashboardSnapshot {
  const nowMs = now.getTime();
  const known = new Set(input.clusters.map((c) => c.name));
  const traffic = summarizeTraffic(input.streams, known, { nowMs, windowSeconds: WINDOW_SECONDS, bucketSeconds: BUCKET_SECONDS });
  const clusters = clusterViews(input, nowMs);
  return {
    generatedAt: now.toISOString(),
    windowSeconds: WINDOW_SECONDS,
    clusters,
    links: linkViews(clusters, traffic.directions, traffic.health),
    certificates: { rows: certificateInventory(input, nowMs), truncated: input.svidsTruncated },
    traffic: { bucketSeconds: BUCKET_SECONDS, bucketStarts: traffic.bucketStarts, directions: traffic.directions },
    policyLatency: traffic.policyLatency,
    denies: traffic.denies,
    policy: rolloutView(input, nowMs),
    alerts: alertRows(input.alerts, nowMs),
    incidents: openIncidents(input.incidents),
    sampledStreams: traffic.sampledStreams,
  };
}
