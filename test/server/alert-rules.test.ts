import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverConfigSchema, type AlertsConfig } from '../../src/server/config.ts';
import { EMPTY_RULE_STATE, evaluateRules, reconcile, type Observations, type RuleAlert, type RuleState } from '../../src/server/alert-rules.ts';
import { alertViews, webhookPayload } from '../../src/server/alert-views.ts';

const MIN = 60_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const GW_EAST = 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway';

function observations(over: Partial<Observations> = {}): Observations {
  return {
    clusters: ['east', 'west'],
    denies: {},
    handshakeFailures: {},
    issuances: {},
    expectedIssuance: [],
    unexplainedAuthorities: [],
    authorities: [],
    gatewaySvids: [],
    trustReports: [],
    policy: { activeVersion: null, bundleTtlMs: 86_400_000, reports: [] },
    lastRevocation: null,
    auditBreaks: [],
    detectorFindings: [],
    unknown: [],
    ...over,
  };
}

/** Evaluations one after another, as the evaluator runs them: rules, then reconcile. */
class Evaluations {
  state: RuleState = EMPTY_RULE_STATE;
  alerts: RuleAlert[] = [];
  readonly config: AlertsConfig;
  constructor(alerts: Record<string, unknown> = {}) {
    this.config = serverConfigSchema.parse({ alerts: { resolveDelayMs: 2 * MIN, ...alerts } }).alerts;
  }
  step(at: number, obs: Observations) {
    const ruled = evaluateRules(obs, this.state, this.config, new Date(at));
    this.state = ruled.state;
    const out = reconcile(this.alerts, ruled.findings, ruled.evaluated, new Date(at), this.config);
    this.alerts = out.alerts;
    return out;
  }
  /** Runs `minutes` evaluations a minute apart from `from`; returns every alert that fired or resolved. */
  run(from: number, minutes: number, obs: (at: number) => Observations) {
    const fired: RuleAlert[] = [];
    const resolved: RuleAlert[] = [];
    for (let i = 0; i < minutes; i++) {
      const out = this.step(from + i * MIN, obs(from + i * MIN));
      fired.push(...out.fired);
      resolved.push(...out.resolved);
    }
    return { fired, resolved, end: from + minutes * MIN };
  }
  open(rule: string) {
    return this.alerts.filter((a) => a.rule === rule && a.status === 'firing');
  }
}

describe('rate rules: a steady background is learned, a burst fires once and resolves', () => {
  for (const [rule, field] of [
    ['unauthorized-attempts', 'denies'],
    ['handshake-failures', 'handshakeFailures'],
    ['rotation-burst', 'issuances'],
  ] as const) {
    test(rule, () => {
      const ev = new Evaluations();
      const per = (n: number) => () => observations({ [field]: { east: n, west: 1 } });
      // Two hours of a steady 10 a minute (50 per 5-minute window, above the threshold of 20): noise, never an alert.
      const steady = ev.run(T0, 120, per(10));
      assert.deepEqual(steady.fired, [], 'steady background at baseline');
      // A burst of 200 a minute for 5 minutes: one alert, kept open (deduplicated) while it lasts.
      const burst = ev.run(steady.end, 5, per(200));
      assert.equal(burst.fired.length, 1);
      const alert = burst.fired[0]!;
      assert.equal(alert.key, `${rule}:east`);
      assert.equal(alert.cluster, 'east');
      assert.equal(ev.open(rule).length, 1);
      assert.equal(ev.open(rule)[0]!.firstSeen, alert.firstSeen);
      assert.ok(ev.open(rule)[0]!.lastSeen > alert.firstSeen, 'lastSeen moves with each evaluation that still finds it');
      const window = ev.config[rule === 'unauthorized-attempts' ? 'unauthorizedAttempts' : rule === 'handshake-failures' ? 'handshakeFailures' : 'rotationBurst'].windowMs / MIN;
      // The start of the burst, below the limit, is learned a little; nothing more.
      assert.ok(Math.abs((alert.details.baseline as number) - 10 * window) < 10 * window * 0.3, `baseline ${String(alert.details.baseline)} is about the steady window count, ${10 * window}`);
      assert.equal(ev.open(rule)[0]!.details.baseline, alert.details.baseline, 'the burst is not learned while it fires');
      // Back to normal: the window empties of the burst (5 min), then 2 min resolve delay.
      const after = ev.run(burst.end, 12, per(10));
      assert.equal(after.fired.length, 0);
      assert.equal(after.resolved.length, 1);
      assert.equal(after.resolved[0]!.key, alert.key);
      assert.equal(ev.open(rule).length, 0);
      assert.ok(Date.parse(after.resolved[0]!.resolvedAt!) - Date.parse(after.resolved[0]!.lastSeen) >= 2 * MIN, 'resolves only after the resolve delay');
      // west (1 a minute throughout) never fired.
      assert.ok(!ev.alerts.some((a) => a.cluster === 'west'));
    });
  }

  test('a new series fires on a clear burst while warming up, and on the threshold once the baseline is near zero', () => {
    const ev = new Evaluations();
    assert.equal(ev.step(T0, observations({ denies: { east: 30 } })).fired.length, 0, 'warming up: 30 ≤ 3 × 20');
    assert.equal(ev.step(T0 + MIN, observations({ denies: { east: 40 } })).fired.length, 1, 'warming up: 70 > 3 × 20');
    const quiet = new Evaluations({ unauthorizedAttempts: { warmupMs: 0 } });
    quiet.run(T0, 30, () => observations());
    assert.equal(quiet.step(T0 + 30 * MIN, observations({ denies: { east: 21 } })).fired.length, 1, 'above the threshold of 20');
  });

  test('issuances an operator rotation or an incident explains do not fire, and are not learned', () => {
    const ev = new Evaluations();
    const steady = ev.run(T0, 90, () => observations({ issuances: { east: 10 } }));
    const before = ev.state.series['rotation-burst:east']!.mean;
    const rotation = ev.run(steady.end, 10, () => observations({ issuances: { east: 500 }, expectedIssuance: ['CA rotation of east (switched)'] }));
    assert.deepEqual(rotation.fired, []);
    assert.equal(ev.state.series['rotation-burst:east']!.mean, before, 'the rotation did not raise the baseline');
  });

  test('a CA that no rotation, incident or new cluster made fires at once, critical, until it is retired', () => {
    const ev = new Evaluations();
    const rogue = { serial: 'abc123', kind: 'cluster', cluster: 'east', createdAt: iso(T0) };
    const first = ev.step(T0, observations({ unexplainedAuthorities: [rogue] }));
    assert.equal(first.fired.length, 1);
    assert.equal(first.fired[0]!.key, 'rotation-burst:ca:abc123');
    assert.equal(first.fired[0]!.severity, 'critical');
    assert.equal(ev.step(T0 + MIN, observations({ unexplainedAuthorities: [rogue] })).fired.length, 0, 'deduplicated');
    assert.equal(ev.run(T0 + 2 * MIN, 3, () => observations()).resolved.length, 1);
  });
});

describe('state rules fire, deduplicate and resolve', () => {
  test('certificate-expiring: a CA within 30 days (critical within a quarter of it), a gateway SVID past two thirds of its life', () => {
    const ev = new Evaluations();
    const ca = (daysLeft: number, serial = 'ca1') => ({ serial, kind: 'cluster', cluster: 'east', status: 'active', notAfter: iso(T0 + daysLeft * 86_400_000) });
    assert.deepEqual(ev.step(T0, observations({ authorities: [ca(40)] })).fired, [], '40 days left');
    const fired = ev.step(T0 + MIN, observations({ authorities: [ca(20)] })).fired;
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.severity, 'warning');
    assert.equal(ev.step(T0 + 2 * MIN, observations({ authorities: [ca(5)] })).fired.length, 0, 'same key: one alert');
    assert.equal(ev.open('certificate-expiring')[0]!.severity, 'critical', 'its severity follows');
    // Rotated: a newer CA of the same cluster outlives the window, so the old one may lapse.
    assert.equal(ev.run(T0 + 3 * MIN, 3, () => observations({ authorities: [ca(5), ca(365, 'ca2')] })).resolved.length, 1);

    const svid = (minutesLeft: number, serial: string) => ({ gateway: GW_EAST, cluster: 'east', serial, notBefore: iso(T0 - (60 - minutesLeft) * MIN), notAfter: iso(T0 + minutesLeft * MIN) });
    const gw = new Evaluations();
    assert.deepEqual(gw.step(T0, observations({ gatewaySvids: [svid(30, 's1')] })).fired, [], 'half its life left: renewal is due, not late');
    const late = gw.step(T0, observations({ gatewaySvids: [svid(15, 's1')] })).fired;
    assert.equal(late.length, 1);
    assert.equal(late[0]!.key, `certificate-expiring:svid:${GW_EAST}`);
    assert.equal(gw.run(T0 + MIN, 3, () => observations({ gatewaySvids: [svid(55, 's2')] })).resolved.length, 1, 'renewed');
  });

  test('bundle-expiring: a policy bundle with under a quarter of its TTL left, one gone, a trust document not confirmed lately', () => {
    const ev = new Evaluations();
    const report = (hoursLeft: number, state = 'fresh') => ({ cluster: 'west', gateway: 'gw-west', enforcedVersion: 3, state, expiresAt: iso(T0 + hoursLeft * 3_600_000), reportedAt: iso(T0) });
    const policy = (r: ReturnType<typeof report>) => ({ activeVersion: 3, bundleTtlMs: 86_400_000, reports: [r] });
    assert.deepEqual(ev.step(T0, observations({ policy: policy(report(23)) })).fired, []);
    const fired = ev.step(T0 + MIN, observations({ policy: policy(report(5)) })).fired;
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.key, 'bundle-expiring:policy:west');
    ev.step(T0 + 2 * MIN, observations({ policy: policy(report(5, 'expired')) }));
    assert.equal(ev.open('bundle-expiring').length, 1);
    assert.equal(ev.open('bundle-expiring')[0]!.severity, 'critical');
    assert.equal(ev.run(T0 + 3 * MIN, 3, () => observations({ policy: policy(report(24)) })).resolved.length, 1);

    const trust = (ageMin: number, at: number) => observations({ trustReports: [{ gateway: GW_EAST, cluster: 'east', version: 7, reportedAt: iso(at - ageMin * MIN) }] });
    const tr = new Evaluations();
    assert.deepEqual(tr.step(T0, trust(1, T0)).fired, []);
    assert.equal(tr.step(T0, trust(20, T0)).fired[0]?.key, `bundle-expiring:trust:${GW_EAST}`);
    assert.equal(tr.run(T0 + MIN, 3, (at) => trust(0.5, at)).resolved.length, 1);
  });

  test('stale-policy: behind the active version past the grace period; behind the latest revocation', () => {
    const ev = new Evaluations();
    const obs = (enforced: number) => observations({ policy: { activeVersion: 4, bundleTtlMs: 86_400_000, reports: [{ cluster: 'east', gateway: GW_EAST, enforcedVersion: enforced, state: 'fresh', expiresAt: iso(T0 + 86_400_000), reportedAt: iso(T0) }] } });
    const grace = ev.run(T0, 5, () => obs(3));
    assert.deepEqual(grace.fired, [], 'within the 5-minute grace period');
    const behind = ev.run(T0 + 5 * MIN, 4, () => obs(3));
    assert.equal(behind.fired.length, 1, 'fired once, then deduplicated');
    assert.equal(behind.fired[0]!.key, 'stale-policy:policy:east');
    assert.equal(ev.run(T0 + 9 * MIN, 3, () => obs(4)).resolved.length, 1, 'caught up');

    const rev = new Evaluations();
    const revocation = { eventId: 50, at: iso(T0) };
    const trust = (version: number) => observations({ lastRevocation: revocation, trustReports: [{ gateway: GW_EAST, cluster: 'east', version, reportedAt: iso(T0) }] });
    assert.deepEqual(rev.run(T0, 5, () => trust(49)).fired, [], 'within the grace period');
    assert.equal(rev.step(T0 + 5 * MIN, trust(49)).fired[0]?.key, `stale-policy:revocations:${GW_EAST}`);
    assert.deepEqual(rev.step(T0 + 6 * MIN, trust(60)).fired, []);
    assert.equal(rev.run(T0 + 7 * MIN, 3, () => trust(60)).resolved.length, 1);
  });

  test('audit-verification-failed: a broken chain is critical at once, one alert while it lasts, resolved once it verifies', () => {
    const ev = new Evaluations();
    const broken = observations({ auditBreaks: [{ stream: 'west', seq: 12, reason: 'hash does not match the record content (record altered)' }] });
    const fired = ev.step(T0, broken).fired;
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.severity, 'critical');
    assert.equal(fired[0]!.cluster, 'west');
    assert.equal(ev.run(T0 + MIN, 5, () => broken).fired.length, 0);
    assert.equal(ev.run(T0 + 6 * MIN, 3, () => observations()).resolved.length, 1);
  });

  test('detector findings: repeats of one are one alert, which resolves once they stop', () => {
    const ev = new Evaluations();
    const finding = (at: number) => ({ detector: 'deny-burst', cluster: 'west', subject: 'spiffe://east.acme.internal/ns/a/sa/b', at: iso(at), summary: 'denied 20 times', severity: 'warning' as const, details: {} });
    const repeats = ev.run(T0, 5, (at) => observations({ detectorFindings: [finding(T0), finding(at)] }));
    assert.equal(repeats.fired.length, 1);
    assert.equal(repeats.fired[0]!.key, 'deny-burst:west:spiffe://east.acme.internal/ns/a/sa/b');
    assert.equal(ev.run(T0 + 5 * MIN, 3, () => observations()).resolved.length, 1);
  });

  test('a rule whose observations could not be read keeps its open alerts (no false resolve)', () => {
    const ev = new Evaluations({ resolveDelayMs: 0 });
    ev.step(T0, observations({ auditBreaks: [{ stream: 'east', seq: 3, reason: 'x' }] }));
    assert.equal(ev.step(T0 + MIN, observations({ unknown: ['audit-verification-failed'] })).resolved.length, 0);
    assert.equal(ev.open('audit-verification-failed').length, 1);
    assert.equal(ev.step(T0 + 2 * MIN, observations()).resolved.length, 1);
  });

  test('a disabled rule never fires', () => {
    const ev = new Evaluations({ auditVerification: { enabled: false } });
    assert.deepEqual(ev.step(T0, observations({ auditBreaks: [{ stream: 'east', seq: 3, reason: 'x' }] })).fired, []);
  });

  test('resolved history is bounded, newest kept', () => {
    const ev = new Evaluations({ resolveDelayMs: 0, historyLimit: 2 });
    for (let i = 0; i < 4; i++) {
      ev.step(T0 + 2 * i * MIN, observations({ auditBreaks: [{ stream: `s${i}`, seq: 1, reason: 'x' }] }));
      ev.step(T0 + (2 * i + 1) * MIN, observations());
    }
    assert.deepEqual(ev.alerts.map((a) => a.key), ['audit-verification-failed:s2', 'audit-verification-failed:s3']);
  });
});

describe('what leaves the evaluator', () => {
  const alert: RuleAlert = { rule: 'handshake-failures', key: 'handshake-failures:west', severity: 'warning', cluster: 'west', summary: '40 refused', details: { count: 40 }, status: 'firing', firstSeen: iso(T0), lastSeen: iso(T0 + MIN), resolvedAt: null, clearSince: null };

  test('the webhook body has the fields an Alertmanager webhook receiver reads', () => {
    const body = webhookPayload(alert, 'https://cp.example:8443') as { status: string; version: string; alerts: Array<Record<string, unknown>> };
    assert.equal(body.version, '4');
    assert.equal(body.status, 'firing');
    const [a] = body.alerts;
    assert.deepEqual(a!.labels, { alertname: 'handshake-failures', rule: 'handshake-failures', key: 'handshake-failures:west', severity: 'warning', cluster: 'west', source: 'interlock' });
    assert.deepEqual(a!.annotations, { summary: '40 refused', details: '{"count":40}' });
    assert.equal(a!.startsAt, iso(T0));
    assert.equal(a!.endsAt, '0001-01-01T00:00:00Z');
    const resolved = webhookPayload({ ...alert, status: 'resolved', resolvedAt: iso(T0 + 9 * MIN) }, 'https://cp.example:8443') as { status: string; alerts: Array<{ endsAt: string; fingerprint: string }> };
    assert.equal(resolved.status, 'resolved');
    assert.equal(resolved.alerts[0]!.endsAt, iso(T0 + 9 * MIN));
    assert.equal(resolved.alerts[0]!.fingerprint, (body.alerts[0] as { fingerprint: string }).fingerprint, 'same alert, same fingerprint');
  });

  test('GET /v1/alerts: detector findings keep their fields and gain a status; rule alerts take the same shape', () => {
    const finding = { at: iso(T0), detector: 'unknown-ca', reportedBy: 'gw', cluster: 'east', summary: 'foreign CA', action: 'alert-only', incident: null, details: { fingerprint: 'AA:BB' } };
    const fromFinding: RuleAlert = { ...alert, rule: 'unknown-ca', key: 'unknown-ca:east:AA:BB', cluster: 'east', firstSeen: iso(T0 + MIN), lastSeen: iso(T0 + 2 * MIN), status: 'resolved', resolvedAt: iso(T0 + 20 * MIN) };
    const views = alertViews([finding], { evaluatedAt: iso(T0 + 30 * MIN), alerts: [fromFinding, alert] });
    assert.equal(views.length, 2, 'the finding is not listed twice');
    const [first, second] = views;
    assert.deepEqual({ ...first, status: undefined }, { ...finding, severity: 'warning', source: 'detector', rule: 'unknown-ca', key: 'unknown-ca:east:AA:BB', status: undefined, firstSeen: iso(T0 + MIN), lastSeen: iso(T0 + 2 * MIN), resolvedAt: iso(T0 + 20 * MIN) });
    assert.equal(first!.status, 'resolved');
    assert.equal(second!.detector, 'handshake-failures');
    assert.equal(second!.status, 'firing');
    assert.equal(second!.at, iso(T0 + MIN), 'at is when it was last seen');
    // A finding newer than the last evaluation is firing until the evaluator has seen it.
    assert.equal(alertViews([{ ...finding, at: iso(T0 + 31 * MIN) }], { evaluatedAt: iso(T0 + 30 * MIN), alerts: [] })[0]!.status, 'firing');
  });
});
