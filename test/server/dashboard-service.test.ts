import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditRecord } from '../../src/audit/record.ts';
import type { ClusterRow, SvidRow } from '../../src/store/types.ts';
import type { GatewayPolicyReport } from '../../src/server/policy-service.ts';
import type { IncidentRecord } from '../../src/server/incidents.ts';
import { buildSnapshot, isExpiringSoon, type DashboardInput } from '../../src/server/dashboard-service.ts';
import { percentile } from '../../src/dashboard/traffic.ts';

const NOW = new Date('2030-01-10T12:00:00.000Z');
const at = (secondsFromNow: number) => new Date(NOW.getTime() + secondsFromNow * 1000).toISOString();
const HOUR = 3_600;
const DAY = 86_400;

const EAST_GW = 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway';
const WEST_GW = 'spiffe://west.acme.internal/ns/interlock-system/sa/interlock-gateway';
const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const REPORTING = 'spiffe://east.acme.internal/ns/analytics/sa/reporting';

const cluster = (name: string): ClusterRow => ({ name, trustDomain: `${name}.acme.internal`, k8sJwks: null, k8sIssuer: null, createdAt: at(-30 * DAY), createdBy: 'admin:admin' });

function svid(serial: string, spiffeId: string, clusterName: string, bornSecondsAgo: number, lifetime: number, revoked = false): SvidRow {
  return {
    serial,
    spiffeId,
    cluster: clusterName,
    entryId: `entry-${serial}`,
    issuerSerial: `ca-${clusterName}`,
    notBefore: at(-bornSecondsAgo),
    notAfter: at(lifetime - bornSecondsAgo),
    issuedAt: at(-bornSecondsAgo),
    method: 'renewal',
    revokedAt: revoked ? at(-60) : null,
    revocationReason: revoked ? 'test' : null,
  };
}

const policyReport = (name: string, change: Partial<GatewayPolicyReport> = {}): GatewayPolicyReport => ({
  cluster: name,
  gateway: `spiffe://${name}.acme.internal/ns/interlock-system/sa/interlock-gateway`,
  enforcedVersion: 1,
  candidateVersion: null,
  candidateMode: null,
  state: 'fresh',
  expiresAt: at(DAY),
  evaluated: 0,
  disagreements: 0,
  allowToDeny: 0,
  denyToAllow: 0,
  reportedAt: at(-3),
  ...change,
});

/** Records of one stream, seq from 1, hashes irrelevant to the dashboard. */
function chain(events: Array<{ secondsAgo: number; type: string; actor?: string; data: Record<string, unknown> }>): AuditRecord[] {
  return events.map((e, i) => ({ v: 1, seq: i + 1, time: at(-e.secondsAgo), type: e.type, ...(e.actor ? { actor: e.actor } : {}), data: e.data, prev: '0'.repeat(64), hash: 'f'.repeat(64) }));
}

const call = (secondsAgo: number, outcome: 'allow' | 'deny' | 'error', durationMs: number, extra: Record<string, unknown> = {}) => ({
  secondsAgo,
  type: 'call.outbound',
  actor: FRONTEND,
  data: { target: 'west/billing', method: 'GET', path: '/invoices/1', outcome, status: outcome === 'allow' ? 200 : 502, durationMs, ...extra },
});
const decision = (secondsAgo: number, principal: string, allowed: boolean, decisionMs: number) => ({
  secondsAgo,
  type: 'policy.decision',
  actor: EAST_GW,
  data: {
    method: 'GET',
    path: '/invoices/42',
    sourceCluster: 'east',
    principal,
    resource: 'west/billing',
    decision: allowed ? 'allow' : 'deny',
    policyVersion: 1,
    policyIds: allowed ? ['east-frontend-reads-billing'] : [],
    reason: allowed ? 'permitted' : 'no policy permits this call',
    decisionMs,
    ...(allowed ? {} : { code: 'IL_ERR_POLICY_DENIED' }),
  },
});

/** Two clusters; west's intermediate has 3 days of a year left and its gateway SVID 10 of 60 minutes. */
function input(change: Partial<DashboardInput> = {}): DashboardInput {
  return {
    clusters: [cluster('east'), cluster('west')],
    authorities: [
      { serial: 'root1', kind: 'root', cluster: null, status: 'active', notBefore: at(-30 * DAY), notAfter: at(3650 * DAY) },
      { serial: 'ca-east', kind: 'cluster', cluster: 'east', status: 'active', notBefore: at(-30 * DAY), notAfter: at(335 * DAY) },
      { serial: 'ca-west', kind: 'cluster', cluster: 'west', status: 'active', notBefore: at(-362 * DAY), notAfter: at(3 * DAY) },
    ],
    svids: [
      svid('e-old', EAST_GW, 'east', 40 * 60, HOUR), // renewed at half life, still valid: not the one in use
      svid('e-new', EAST_GW, 'east', 5 * 60, HOUR),
      svid('w-gw', WEST_GW, 'west', 50 * 60, HOUR),
      svid('f-1', FRONTEND, 'east', 10 * 60, HOUR),
      svid('r-1', REPORTING, 'east', 55 * 60, HOUR, true),
    ],
    svidsTruncated: false,
    gatewayIds: [
      { cluster: 'east', spiffeId: EAST_GW },
      { cluster: 'west', spiffeId: WEST_GW },
    ],
    trustedSerials: ['root1', 'ca-east', 'ca-west'],
    isolated: [],
    trustReports: [
      { gateway: EAST_GW, cluster: 'east', version: 9, serials: ['root1', 'ca-east', 'ca-west'], reportedAt: at(-10) },
      { gateway: WEST_GW, cluster: 'west', version: 9, serials: ['ROOT1', 'CA-EAST', 'CA-WEST'], reportedAt: at(-20) },
    ],
    policyReports: [policyReport('east'), policyReport('west')],
    activePolicy: 1,
    rollout: null,
    streams: [],
    alerts: [],
    incidents: [],
    ...change,
  };
}

describe('dashboard snapshot', () => {
  test('expiring soon means under 7 days or a third of the lifetime, whichever is shorter', () => {
    assert.equal(isExpiringSoon(25 * 60, HOUR), false, 'a 1 h SVID past half life is renewing, not expiring');
    assert.equal(isExpiringSoon(15 * 60, HOUR), true);
    assert.equal(isExpiringSoon(8 * DAY, 365 * DAY), false);
    assert.equal(isExpiringSoon(6 * DAY, 365 * DAY), true);
  });

  test('certificate inventory: every CA and SVID, soonest first, with kind, status and the highlight', () => {
    const rows = buildSnapshot(input(), NOW).certificates.rows;
    assert.deepEqual(
      rows.map((r) => [r.serial, r.kind, r.status, r.expiringSoon]),
      [
        ['r-1', 'workload SVID', 'revoked', false], // 5 min left, but revoked: nothing to renew
        ['w-gw', 'gateway SVID', 'valid', true], // 10 of 60 min left
        ['e-old', 'gateway SVID', 'valid', false], // 20 min left: exactly a third, not under it
        ['f-1', 'workload SVID', 'valid', false],
        ['e-new', 'gateway SVID', 'valid', false],
        ['ca-west', 'cluster CA', 'active', true], // 3 days of a year
        ['ca-east', 'cluster CA', 'active', false],
        ['root1', 'root CA', 'active', false],
      ],
    );
    assert.equal(rows.find((r) => r.serial === 'w-gw')!.secondsLeft, 600);
    assert.equal(rows.find((r) => r.serial === 'w-gw')!.lifetimeSeconds, HOUR);
  });

  test('an idle link between healthy clusters is green; certificates in their last third make it amber, with the reasons', () => {
    const healthy = input({
      authorities: input().authorities.map((a) => (a.serial === 'ca-west' ? { ...a, notAfter: at(300 * DAY) } : a)),
      svids: input().svids.map((s) => (s.serial === 'w-gw' ? svid('w-gw', WEST_GW, 'west', 60, HOUR) : s)),
    });
    const [green] = buildSnapshot(healthy, NOW).links;
    assert.equal(green!.id, 'east|west');
    assert.equal(green!.health, 'ok');
    assert.deepEqual(green!.reasons.map((r) => r.text), ['no calls in the last 5 min (handshakes not observed)']);

    const snapshot = buildSnapshot(input(), NOW);
    const [link] = snapshot.links;
    assert.equal(link!.health, 'warn');
    assert.equal(link!.minCertSecondsLeft, 600, "west's gateway SVID is the least time left on either side");
    const texts = link!.reasons.map((r) => r.text);
    assert.ok(texts.includes('west: gateway SVID has 10 min left (renewal is due at half life)'), texts.join('; '));
    assert.ok(texts.includes('west: intermediate CA has 3 d left'), texts.join('; '));
    const east = snapshot.clusters.find((c) => c.name === 'east')!;
    assert.equal(east.health, 'ok');
    assert.equal(east.gateway.svidSerial, 'e-new', 'the newest SVID is the one the gateway uses');
    assert.equal(snapshot.clusters.find((c) => c.name === 'west')!.gateway.trust, 'in-sync', 'serials compare case-insensitively');
  });

  test('red when the last call failed before the peer answered; green again once a call gets through', () => {
    const failing = [call(100, 'allow', 12), call(50, 'allow', 14), call(10, 'error', 3000, { code: 'IL_ERR_PEER_UNAVAILABLE', status: null })];
    const base = input({ authorities: input().authorities.filter((a) => a.serial !== 'ca-west').concat({ serial: 'ca-west', kind: 'cluster', cluster: 'west', status: 'active', notBefore: at(-DAY), notAfter: at(300 * DAY) }) });
    const broken = buildSnapshot({ ...base, streams: [{ stream: 'east', records: chain(failing), truncated: false }] }, NOW).links[0]!;
    assert.equal(broken.health, 'bad');
    assert.ok(broken.reasons.some((r) => r.health === 'bad' && r.text === 'last call east → west failed before the peer answered (IL_ERR_PEER_UNAVAILABLE)'));
    assert.equal(broken.lastSuccessAt, at(-50));
    assert.ok(Math.abs(broken.errorRate! - 1 / 3) < 1e-9);

    const recovered = buildSnapshot({ ...base, streams: [{ stream: 'east', records: chain([...failing, call(2, 'allow', 11)]), truncated: false }] }, NOW).links[0]!;
    assert.equal(recovered.reasons.some((r) => r.health === 'bad'), false);
    assert.ok(recovered.reasons.some((r) => r.health === 'warn' && r.text === '25.0% of calls failed in the last 5 min'), 'one failure in four is still worth a look');
  });

  test('a cluster whose gateway bundle expired, or that is isolated, turns its links red', () => {
    const expired = buildSnapshot(input({ policyReports: [policyReport('east', { state: 'expired' }), policyReport('west')] }), NOW);
    assert.equal(expired.clusters.find((c) => c.name === 'east')!.health, 'bad');
    assert.ok(expired.links[0]!.reasons.some((r) => r.health === 'bad' && r.text === 'east: policy bundle expired: the gateway denies every call'));
    const isolated = buildSnapshot(input({ isolated: ['west'] }), NOW);
    assert.equal(isolated.links[0]!.health, 'bad');
    const noReport = buildSnapshot(input({ trustReports: [], policyReports: [policyReport('east', { reportedAt: at(-600) }), policyReport('west')] }), NOW);
    const east = noReport.clusters.find((c) => c.name === 'east')!;
    assert.equal(east.gateway.trust, 'unreported');
    assert.equal(east.gateway.policyState, 'stale');
    assert.equal(east.health, 'warn');
  });

  test('traffic per direction over the window: rates, errors, latency, verdicts by policy and Cedar time', () => {
    const east = chain([call(400, 'allow', 999), ...[10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((ms, i) => call(200 - i * 10, 'allow', ms))]);
    const west = chain([decision(400, FRONTEND, true, 9), decision(100, FRONTEND, true, 0.05), decision(90, FRONTEND, true, 0.07), decision(80, REPORTING, false, 0.3), decision(70, REPORTING, false, 0.02)]);
    const snapshot = buildSnapshot(input({ streams: [{ stream: 'east', records: east, truncated: false }, { stream: 'west', records: west, truncated: false }] }), NOW);
    const [d] = snapshot.traffic.directions;
    assert.equal(snapshot.traffic.directions.length, 1);
    assert.deepEqual([d!.from, d!.to, d!.calls, d!.errors], ['east', 'west', 10, 0], 'the call 400 s ago is outside the 5 min window');
    assert.equal(d!.requestsPerSecond, 10 / 300);
    assert.deepEqual(d!.latencyMs, { p50: 50, p95: 100 });
    assert.deepEqual([d!.allow, d!.deny], [2, 2]);
    assert.deepEqual(d!.byPolicy, [
      { policy: '(default deny)', allow: 0, deny: 2 },
      { policy: 'east-frontend-reads-billing', allow: 2, deny: 0 },
    ]);
    assert.equal(Math.round(d!.series.requestsPerSecond.reduce((a, b) => a + b, 0) * snapshot.traffic.bucketSeconds), 10, 'every call in the window is in one bucket');
    assert.equal(snapshot.traffic.bucketStarts.length, 30);
    const [latency] = snapshot.policyLatency;
    assert.deepEqual([latency!.stream, latency!.decisions, latency!.ms], ['west', 4, { p50: 0.05, p95: 0.3, max: 0.3 }]);
    assert.equal(snapshot.links[0]!.lastSuccessAt, at(-110));
  });

  test('recent denies: newest first, with principal, resource, reason and the audit record that holds them', () => {
    const west = chain([
      decision(30, REPORTING, false, 0.1),
      decision(20, FRONTEND, true, 0.1),
      { secondsAgo: 10, type: 'policy.decision', actor: 'unauthenticated', data: { method: 'GET', path: '/x', host: 'billing.west.interlock', decision: 'deny', policyIds: [], reason: 'IL_ERR_AUTHN_NOT_A_GATEWAY' } },
    ]);
    const denies = buildSnapshot(input({ streams: [{ stream: 'west', records: west, truncated: false }] }), NOW).denies;
    assert.deepEqual(
      denies.map((d) => [d.stream, d.seq, d.principal, d.resource, d.code, d.reason]),
      [
        ['west', 3, 'unauthenticated', 'billing.west.interlock', 'IL_ERR_AUTHN_NOT_A_GATEWAY', 'IL_ERR_AUTHN_NOT_A_GATEWAY'],
        ['west', 1, REPORTING, 'west/billing', 'IL_ERR_POLICY_DENIED', 'no policy permits this call'],
      ],
    );
  });

  test('policy rollout per gateway, alerts of the last day and open incidents only', () => {
    const rollout = { version: 2, stage: 'dry-run' as const, canary: { clusters: [], percent: 0 }, by: 'admin:bob', at: at(-600) };
    const incident = (id: string, status: 'open' | 'resolved'): IncidentRecord => ({ id, scope: { spiffeId: FRONTEND }, reason: 'stolen', trigger: 'detector:svid-in-two-clusters', isolate: false, openedBy: 'detector', status, timeline: [{ at: at(-300), step: 'opened', detail: {} }, { at: at(-299), step: 'revoked', detail: {} }], auditFrom: 1 });
    const snapshot = buildSnapshot(
      input({
        rollout,
        policyReports: [policyReport('east', { candidateVersion: 2, candidateMode: 'dry-run', evaluated: 40, disagreements: 3, allowToDeny: 3 }), policyReport('west', { reportedAt: at(-120) })],
        alerts: [
          { at: at(-2 * DAY), detector: 'deny-burst', cluster: 'west', summary: 'old', action: 'alert-only', incident: null },
          { at: at(-60), detector: 'deny-burst', cluster: 'west', summary: 'newer', action: 'alert-only', incident: null },
          { at: at(-30), detector: 'svid-in-two-clusters', cluster: 'west', summary: 'newest', action: 'incident-opened', incident: 'abc' },
        ],
        incidents: [incident('one', 'resolved'), incident('two', 'open')],
      }),
      NOW,
    );
    assert.deepEqual(snapshot.policy.rollout, { version: 2, stage: 'dry-run', clusters: [], percent: 0, by: 'admin:bob', at: at(-600) });
    assert.deepEqual(
      snapshot.policy.gateways.map((g) => [g.cluster, g.stage, g.candidateVersion, g.disagreements, g.reportStale]),
      [
        ['east', 'dry-run', 2, 3, false],
        ['west', 'none', null, 0, true],
      ],
    );
    assert.deepEqual(snapshot.alerts.map((a) => a.summary), ['newest', 'newer']);
    assert.deepEqual(snapshot.incidents.map((i) => [i.id, i.lastStep, i.scope]), [['two', 'revoked', FRONTEND]]);
  });

  test('nearest-rank percentiles', () => {
    assert.equal(percentile([1], 95), 1);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 95), 4);
  });
});
