import type { AlertsConfig } from './config.ts';

/**
 * The control plane's alert rules, as pure functions of what was observed,
 * the state the rules keep between evaluations and the configuration, at a
 * given time; the store, clock and webhook are alerting.ts's (DESIGN.md style 2).
 *
 *   unauthorized-attempts      policy denials at a cluster's gateway in a window, above max(threshold, factor × baseline)
 *   handshake-failures         TLS handshakes a cluster's gateway refused, same test
 *   rotation-burst             SVIDs issued for a cluster, same test, quiet while an operator's CA rotation or an
 *                              incident's re-issue explains them; and a CA that no rotation, incident or new cluster made
 *   certificate-expiring       a CA within its window; a gateway SVID with little of its life left (renewal failing)
 *   bundle-expiring            a gateway's policy bundle near expiry or gone; its trust document not confirmed lately
 *   stale-policy               a gateway behind the active policy version, or behind the latest revocation, past a grace period
 *   audit-verification-failed  an audit chain that does not verify
 *
 * and the detectors' findings (detectors.ts), firing while they recur. The
 * baseline of a rate rule is an exponentially weighted mean of its window
 * count, learned only while the rule is quiet: a steady background is the
 * norm, a burst is not, and a long attack does not become the norm.
 * `reconcile` turns findings into alerts: one open alert per key, resolved
 * once its finding has been absent for resolveDelayMs.
 */
export const RULES = ['unauthorized-attempts', 'handshake-failures', 'rotation-burst', 'certificate-expiring', 'bundle-expiring', 'stale-policy', 'audit-verification-failed'] as const;
export const DETECTOR_RULES = ['svid-in-two-clusters', 'deny-burst', 'unknown-ca'] as const;
export type RuleId = (typeof RULES)[number];
export type AlertRule = RuleId | (typeof DETECTOR_RULES)[number];
export type Severity = 'warning' | 'critical';

export interface Finding {
  readonly rule: AlertRule;
  /** Deduplication identity: one open alert per key. */
  readonly key: string;
  readonly severity: Severity;
  readonly cluster: string | null;
  readonly summary: string;
  readonly details: Record<string, unknown>;
}

export interface RuleAlert extends Finding {
  readonly status: 'firing' | 'resolved';
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly resolvedAt: string | null;
  /** While firing: since when the finding has been absent (it resolves after resolveDelayMs). */
  readonly clearSince: string | null;
}

type Counts = Readonly<Record<string, number>>;

export interface Observations {
  readonly clusters: readonly string[];
  /** Records that arrived since the last evaluation with a time inside the rule's window, by cluster. */
  readonly denies: Counts;
  readonly handshakeFailures: Counts;
  readonly issuances: Counts;
  /** Why many SVIDs are expected now (an operator's CA rotation, an incident's re-issue); empty if nothing explains a burst. */
  readonly expectedIssuance: readonly string[];
  /** Non-retired CAs that no rotation, incident or cluster creation accounts for. */
  readonly unexplainedAuthorities: ReadonlyArray<{ serial: string; kind: string; cluster: string | null; createdAt: string }>;
  readonly authorities: ReadonlyArray<{ serial: string; kind: string; cluster: string | null; status: string; notAfter: string }>;
  /** Each gateway's newest unrevoked SVID. */
  readonly gatewaySvids: ReadonlyArray<{ gateway: string; cluster: string; serial: string; notBefore: string; notAfter: string }>;
  /** Live gateways and what they last confirmed of the trust document (its version is the event id it was read at). */
  readonly trustReports: ReadonlyArray<{ gateway: string; cluster: string; version: number | null; reportedAt: string | null }>;
  readonly policy: {
    readonly activeVersion: number | null;
    readonly bundleTtlMs: number;
    readonly reports: ReadonlyArray<{ cluster: string; gateway: string; enforcedVersion: number | null; state: string; expiresAt: string | null; reportedAt: string }>;
  };
  readonly lastRevocation: { readonly eventId: number; readonly at: string } | null;
  readonly auditBreaks: ReadonlyArray<{ stream: string; seq: number; reason: string }>;
  /** Detector findings within detectorWindowMs, newest last. */
  readonly detectorFindings: ReadonlyArray<{ detector: string; cluster: string; subject: string; at: string; summary: string; severity: Severity; details: Record<string, unknown> }>;
  /** Rules whose observations could not be collected: their open alerts are left as they are. */
  readonly unknown: readonly AlertRule[];
}

export interface Series {
  /** [time ms, count] of recent evaluations, inside the window. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
  readonly mean: number;
  /** When the series started learning (ms). */
  readonly since: number;
  readonly learned: number;
}

export interface RuleState {
  /** Rate series by `<rule>:<cluster>`. */
  readonly series: Readonly<Record<string, Series>>;
  /** When a condition that must last (stale policy) was first seen, by alert key. */
  readonly since: Readonly<Record<string, string>>;
}

export const EMPTY_RULE_STATE: RuleState = { series: {}, since: {} };

type RateConfig = AlertsConfig['unauthorizedAttempts'];
export interface RateReading {
  readonly count: number;
  readonly limit: number;
  readonly baseline: number;
  readonly warming: boolean;
  readonly firing: boolean;
}

/**
 * One evaluation of a rate series. Until it has learned for warmupMs only a
 * clear burst (factor × threshold) fires, and everything is learned, with
 * the plain mean's weights so the first evaluations count fully.
 */
export function rateStep(previous: Series | undefined, added: number, config: RateConfig, now: number, suppressed = false): { series: Series; reading: RateReading } {
  const samples = [...(previous?.samples ?? []), ...(added > 0 ? [[now, added] as const] : [])].filter(([at]) => at > now - config.windowMs);
  const count = samples.reduce((sum, [, n]) => sum + n, 0);
  const since = previous?.since ?? now;
  const baseline = previous?.mean ?? 0;
  const learned = previous?.learned ?? 0;
  const warming = now - since < config.warmupMs;
  const limit = warming ? config.threshold * config.factor : Math.max(config.threshold, config.factor * baseline);
  const firing = !suppressed && count > limit;
  const learn = !suppressed && (warming || !firing);
  const mean = learn ? baseline + Math.max(config.alpha, 1 / (learned + 1)) * (count - baseline) : baseline;
  return { series: { samples, mean, since, learned: learned + (learn ? 1 : 0) }, reading: { count, limit, baseline, warming, firing } };
}

export function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 2 * 86_400_000) return `${Math.round(ms / 86_400_000)} d`;
  if (abs >= 2 * 3_600_000) return `${Math.round(ms / 3_600_000)} h`;
  if (abs >= 2 * 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 1000)} s`;
}

type RuleOutput = { findings: Finding[]; series?: Record<string, Series>; since?: Record<string, string> };

const RATE_WHAT: Record<'unauthorized-attempts' | 'handshake-failures' | 'rotation-burst', string> = {
  'unauthorized-attempts': 'requests denied by policy at the gateway of',
  'handshake-failures': 'TLS handshakes refused by the gateway of',
  'rotation-burst': 'SVIDs issued for cluster',
};

function rateRule(rule: keyof typeof RATE_WHAT, counts: Counts, obs: Observations, state: RuleState, config: RateConfig, now: number, suppressedBy: readonly string[] = []): RuleOutput {
  const findings: Finding[] = [];
  const series: Record<string, Series> = {};
  for (const cluster of obs.clusters) {
    const key = `${rule}:${cluster}`;
    const step = rateStep(state.series[key], counts[cluster] ?? 0, config, now, suppressedBy.length > 0);
    series[key] = step.series;
    const { count, limit, baseline, warming } = step.reading;
    if (!step.reading.firing) continue;
    const norm = warming ? 'no baseline learned yet' : `baseline ${baseline.toFixed(1)}`;
    findings.push({
      rule,
      key,
      severity: count > 10 * limit ? 'critical' : 'warning',
      cluster,
      summary: `${count} ${RATE_WHAT[rule]} ${cluster} in the last ${humanDuration(config.windowMs)}, above the limit of ${Math.floor(limit)} (${norm})`,
      details: { count, limit, baseline: Math.round(baseline * 100) / 100, windowMs: config.windowMs, threshold: config.threshold, factor: config.factor, warming },
    });
  }
  return { findings, series };
}

function rotationBurst(obs: Observations, state: RuleState, config: RateConfig, now: number): RuleOutput {
  const out = rateRule('rotation-burst', obs.issuances, obs, state, config, now, obs.expectedIssuance);
  for (const ca of obs.unexplainedAuthorities) {
    out.findings.push({
      rule: 'rotation-burst',
      key: `rotation-burst:ca:${ca.serial}`,
      severity: 'critical',
      cluster: ca.cluster,
      summary: `${ca.kind === 'root' ? 'a root CA' : `a CA for cluster ${ca.cluster}`} (serial ${ca.serial}) appeared at ${ca.createdAt} that no CA rotation, incident or new cluster made`,
      details: { ...ca },
    });
  }
  return out;
}

function certificateExpiring(obs: Observations, config: AlertsConfig['certificateExpiring'], now: number): RuleOutput {
  const findings: Finding[] = [];
  const live = obs.authorities.filter((a) => a.status !== 'retired');
  for (const ca of live) {
    const left = Date.parse(ca.notAfter) - now;
    if (left >= config.caWindowMs) continue;
    // A CA that a newer one of the same place outlives is being replaced: letting it lapse is the plan.
    if (live.some((other) => other.kind === ca.kind && other.cluster === ca.cluster && Date.parse(other.notAfter) - now >= config.caWindowMs)) continue;
    const what = ca.kind === 'root' ? 'the root CA' : `the CA of cluster ${ca.cluster}`;
    findings.push({
      rule: 'certificate-expiring',
      key: `certificate-expiring:ca:${ca.serial}`,
      severity: left < config.caWindowMs / 4 ? 'critical' : 'warning',
      cluster: ca.cluster,
      summary: left > 0 ? `${what} (serial ${ca.serial}) expires in ${humanDuration(left)}, at ${ca.notAfter}: rotate it (interlock ca ${ca.kind === 'root' ? 'rotate-root' : `rotate --cluster ${ca.cluster}`})` : `${what} (serial ${ca.serial}) expired at ${ca.notAfter}`,
      details: { serial: ca.serial, kind: ca.kind, notAfter: ca.notAfter, leftMs: left },
    });
  }
  for (const svid of obs.gatewaySvids) {
    const life = Date.parse(svid.notAfter) - Date.parse(svid.notBefore);
    const left = Date.parse(svid.notAfter) - now;
    if (left >= life * config.svidLifeFraction) continue;
    findings.push({
      rule: 'certificate-expiring',
      key: `certificate-expiring:svid:${svid.gateway}`,
      severity: left < (life * config.svidLifeFraction) / 2 ? 'critical' : 'warning',
      cluster: svid.cluster,
      summary: left > 0 ? `the SVID of gateway ${svid.gateway} expires in ${humanDuration(left)} and has not been renewed (it renews at half its life)` : `the SVID of gateway ${svid.gateway} expired at ${svid.notAfter} and was not renewed`,
      details: { gateway: svid.gateway, serial: svid.serial, notAfter: svid.notAfter, leftMs: left },
    });
  }
  return { findings };
}

function bundleExpiring(obs: Observations, config: AlertsConfig['bundleExpiring'], now: number): RuleOutput {
  const findings: Finding[] = [];
  for (const report of obs.policy.reports) {
    const left = report.expiresAt ? Date.parse(report.expiresAt) - now : -Infinity;
    const gone = report.state !== 'fresh' || left <= 0;
    if (!gone && left >= obs.policy.bundleTtlMs * config.lifeFraction) continue;
    findings.push({
      rule: 'bundle-expiring',
      key: `bundle-expiring:policy:${report.cluster}`,
      severity: gone ? 'critical' : 'warning',
      cluster: report.cluster,
      summary: gone
        ? `the gateway of ${report.cluster} has no valid policy bundle (${report.state === 'fresh' ? 'expired' : report.state}): it denies every call`
        : `the policy bundle of the gateway of ${report.cluster} expires in ${humanDuration(left)}: it is not getting fresh bundles`,
      details: { gateway: report.gateway, state: report.state, expiresAt: report.expiresAt, reportedAt: report.reportedAt },
    });
  }
  for (const trust of obs.trustReports) {
    if (!trust.reportedAt) continue;
    const age = now - Date.parse(trust.reportedAt);
    if (age <= config.trustMaxAgeMs) continue;
    findings.push({
      rule: 'bundle-expiring',
      key: `bundle-expiring:trust:${trust.gateway}`,
      severity: 'warning',
      cluster: trust.cluster,
      summary: `gateway ${trust.gateway} last confirmed the trust document ${humanDuration(age)} ago (at ${trust.reportedAt}); it reloads every 30 s while connected`,
      details: { gateway: trust.gateway, version: trust.version, reportedAt: trust.reportedAt, maxAgeMs: config.trustMaxAgeMs },
    });
  }
  return { findings };
}

function stalePolicy(obs: Observations, state: RuleState, config: AlertsConfig['stalePolicy'], now: number): RuleOutput {
  const findings: Finding[] = [];
  const since: Record<string, string> = {};
  const at = new Date(now).toISOString();
  const active = obs.policy.activeVersion;
  for (const report of obs.policy.reports) {
    if (active === null || (report.enforcedVersion ?? 0) >= active) continue;
    const key = `stale-policy:policy:${report.cluster}`;
    since[key] = state.since[key] ?? at;
    const behindFor = now - Date.parse(since[key]);
    if (behindFor < config.graceMs) continue;
    findings.push({
      rule: 'stale-policy',
      key,
      severity: 'warning',
      cluster: report.cluster,
      summary: `the gateway of ${report.cluster} enforces policy version ${report.enforcedVersion ?? 'none'}, not the active ${active}, for ${humanDuration(behindFor)}`,
      details: { gateway: report.gateway, enforcedVersion: report.enforcedVersion, activeVersion: active, since: since[key], reportedAt: report.reportedAt },
    });
  }
  const revocation = obs.lastRevocation;
  if (revocation && now - Date.parse(revocation.at) >= config.graceMs) {
    for (const trust of obs.trustReports) {
      if (trust.version !== null && trust.version >= revocation.eventId) continue;
      findings.push({
        rule: 'stale-policy',
        key: `stale-policy:revocations:${trust.gateway}`,
        severity: 'warning',
        cluster: trust.cluster,
        summary: `gateway ${trust.gateway} has not confirmed any state since the revocation at ${revocation.at}: its revocation list may be stale`,
        details: { gateway: trust.gateway, confirmedVersion: trust.version, revocationEvent: revocation.eventId, revokedAt: revocation.at, reportedAt: trust.reportedAt },
      });
    }
  }
  return { findings, since };
}

function auditVerification(obs: Observations): RuleOutput {
  return {
    findings: obs.auditBreaks.map((b) => ({
      rule: 'audit-verification-failed' as const,
      key: `audit-verification-failed:${b.stream}`,
      severity: 'critical' as const,
      cluster: b.stream === 'control-plane' ? null : b.stream.split('/')[0]!,
      summary: `the audit chain ${b.stream} does not verify at record ${b.seq}: ${b.reason}`,
      details: { stream: b.stream, seq: b.seq, reason: b.reason },
    })),
  };
}

function detectorFindings(obs: Observations): RuleOutput {
  const byKey = new Map<string, Finding & { count: number }>();
  for (const f of obs.detectorFindings) {
    const key = `${f.detector}:${f.cluster}:${f.subject}`;
    const count = (byKey.get(key)?.count ?? 0) + 1;
    byKey.set(key, { rule: f.detector as AlertRule, key, severity: f.severity, cluster: f.cluster, summary: f.summary, details: { ...f.details, lastAt: f.at, findings: count }, count });
  }
  return { findings: [...byKey.values()].map(({ count: _count, ...finding }) => finding) };
}

/** Every enabled rule over one set of observations: the findings, the rules' next state, and which rules were evaluated. */
export function evaluateRules(obs: Observations, state: RuleState, config: AlertsConfig, nowDate: Date): { findings: Finding[]; state: RuleState; evaluated: Set<AlertRule> } {
  const now = nowDate.getTime();
  const run: Array<[RuleId, boolean, () => RuleOutput]> = [
    ['unauthorized-attempts', config.unauthorizedAttempts.enabled, () => rateRule('unauthorized-attempts', obs.denies, obs, state, config.unauthorizedAttempts, now)],
    ['handshake-failures', config.handshakeFailures.enabled, () => rateRule('handshake-failures', obs.handshakeFailures, obs, state, config.handshakeFailures, now)],
    ['rotation-burst', config.rotationBurst.enabled, () => rotationBurst(obs, state, config.rotationBurst, now)],
    ['certificate-expiring', config.certificateExpiring.enabled, () => certificateExpiring(obs, config.certificateExpiring, now)],
    ['bundle-expiring', config.bundleExpiring.enabled, () => bundleExpiring(obs, config.bundleExpiring, now)],
    ['stale-policy', config.stalePolicy.enabled, () => stalePolicy(obs, state, config.stalePolicy, now)],
    ['audit-verification-failed', config.auditVerification.enabled, () => auditVerification(obs)],
  ];
  const findings: Finding[] = [];
  const evaluated = new Set<AlertRule>();
  const series: Record<string, Series> = {};
  const since: Record<string, string> = {};
  for (const [rule, enabled, evaluate] of run) {
    const owned = (key: string) => key.startsWith(`${rule}:`);
    if (obs.unknown.includes(rule)) {
      // Not observed this time: keep what the rule had learned.
      for (const [key, value] of Object.entries(state.series)) if (owned(key)) series[key] = value;
      for (const [key, value] of Object.entries(state.since)) if (owned(key)) since[key] = value;
      continue;
    }
    evaluated.add(rule);
    if (!enabled) continue;
    const out = evaluate();
    findings.push(...out.findings);
    Object.assign(series, out.series ?? {});
    Object.assign(since, out.since ?? {});
  }
  if (!obs.unknown.some((r) => (DETECTOR_RULES as readonly string[]).includes(r))) {
    for (const rule of DETECTOR_RULES) evaluated.add(rule);
    findings.push(...detectorFindings(obs).findings);
  }
  return { findings, state: { series, since }, evaluated };
}

/**
 * Findings → alerts. A finding whose key has an open alert updates it
 * (lastSeen, summary, details); a new key opens one. An open alert whose
 * rule was evaluated without finding it resolves once it has been absent
 * for resolveDelayMs; resolved alerts are kept, newest first, up to historyLimit.
 */
export function reconcile(
  previous: readonly RuleAlert[],
  findings: readonly Finding[],
  evaluated: ReadonlySet<AlertRule>,
  now: Date,
  options: { resolveDelayMs: number; historyLimit: number },
): { alerts: RuleAlert[]; fired: RuleAlert[]; resolved: RuleAlert[] } {
  const at = now.toISOString();
  const found = new Map(findings.map((f) => [f.key, f]));
  const open: RuleAlert[] = [];
  let history: RuleAlert[] = previous.filter((a) => a.status === 'resolved');
  const fired: RuleAlert[] = [];
  const resolved: RuleAlert[] = [];
  for (const alert of previous.filter((a) => a.status === 'firing')) {
    const finding = found.get(alert.key);
    found.delete(alert.key);
    if (finding) open.push({ ...alert, ...finding, lastSeen: at, clearSince: null });
    else if (!evaluated.has(alert.rule)) open.push(alert);
    else {
      const clearSince = alert.clearSince ?? at;
      if (now.getTime() - Date.parse(clearSince) < options.resolveDelayMs) open.push({ ...alert, clearSince });
      else resolved.push({ ...alert, status: 'resolved', resolvedAt: at, clearSince });
    }
  }
  for (const finding of found.values()) fired.push({ ...finding, status: 'firing', firstSeen: at, lastSeen: at, resolvedAt: null, clearSince: null });
  history = [...resolved, ...history].sort((a, b) => b.resolvedAt!.localeCompare(a.resolvedAt!)).slice(0, options.historyLimit);
  const alerts = [...open, ...fired, ...history].sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.key.localeCompare(b.key));
  return { alerts, fired, resolved };
}
