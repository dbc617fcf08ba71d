import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Store, StoreOps } from '../store/types.ts';
import { computeRecordHash, recordSchemaProblem, type AuditRecord } from '../audit/record.ts';
import { verifyRecordChain } from '../audit/verify-records.ts';
import { CONTROL_PLANE_STREAM, type AuditService } from './audit-service.ts';
import type { PolicyService } from './policy-service.ts';
import type { CaRotation } from './ca-rotation.ts';
import type { IncidentService } from './incidents.ts';
import type { DetectorService } from './detectors.ts';
import type { AlertsConfig } from './config.ts';
import { gatewayTrustReports } from './trust.ts';
import { normalizeSerial } from '../pki/serial.ts';
import { DETECTOR_RULES, EMPTY_RULE_STATE, RULES, evaluateRules, reconcile, type AlertRule, type Observations, type RuleAlert, type RuleState } from './alert-rules.ts';
import { alertId, detectorSubject, webhookPayload } from './alert-views.ts';

/**
 * The alert evaluator: at an interval, on one replica at a time, it reads
 * what the store knows (I/O here, the rules are pure in alert-rules.ts),
 * evaluates the rules, deduplicates and resolves through `reconcile`,
 * records each fire and resolve in the audit chain and a metric, and
 * notifies the webhook.
 *
 * Counts come from the audit chains the control plane already holds, read
 * forward from a cursor: gateways ship every policy decision and every
 * refused handshake (`connection.rejected`), and the control plane's own
 * chain has every issued SVID. Each record read is also verified (hash and
 * link to the last one), and the last verified record and latest signed
 * checkpoint of each chain are read again each time, so an altered, removed
 * or truncated tail fails the audit-verification rule.
 *
 * The webhook is an outbox: what it acknowledged is stored apart from the
 * alerts, delivery runs beside evaluation (never inside it), retries with
 * backoff, and what fails is sent after the next evaluation. Its URL and
 * headers can hold secrets and are never logged (only scheme and host).
 */
export const RULE_ALERTS_SETTING = 'rule-alerts';
const STATE_SETTING = 'alerting-state';
const NOTIFIED_SETTING = 'alert-notifications';
const PAGE = 1_000;
/** Records read per chain per evaluation at most; a chain further behind catches up over the next ones. */
const MAX_SCAN = 50_000;
const DAY = 86_400_000;

export interface RuleAlertsDocument {
  readonly evaluatedAt: string | null;
  readonly alerts: readonly RuleAlert[];
}

interface Cursor {
  readonly seq: number;
  readonly hash: string;
}

interface AlertingState {
  readonly evaluatedAt: string | null;
  readonly rules: RuleState;
  readonly cursors: Readonly<Record<string, Cursor>>;
  readonly breaks: Readonly<Record<string, { seq: number; reason: string }>>;
  readonly eventCursor: number | null;
  readonly lastRevocation: { eventId: number; at: string } | null;
}

interface Notified {
  /** When the webhook was first used: alerts resolved before are not sent. */
  readonly since: string;
  readonly sent: Readonly<Record<string, RuleAlert['status']>>;
}

export async function readRuleAlerts(store: StoreOps): Promise<RuleAlertsDocument> {
  return ((await store.getSetting(RULE_ALERTS_SETTING)) as RuleAlertsDocument | undefined) ?? { evaluatedAt: null, alerts: [] };
}

/** Firing alerts by rule (every rule present, 0 if none), for the metrics' scrape. */
export async function firingByRule(store: StoreOps): Promise<Record<string, number>> {
  const counts: Record<string, number> = Object.fromEntries([...RULES, ...DETECTOR_RULES].map((r) => [r, 0]));
  for (const alert of (await readRuleAlerts(store)).alerts) if (alert.status === 'firing') counts[alert.rule] = (counts[alert.rule] ?? 0) + 1;
  return counts;
}

/** Audit chains whose last verification failed. */
export async function brokenAuditChains(store: StoreOps): Promise<number> {
  return Object.keys(((await store.getSetting(STATE_SETTING)) as AlertingState | undefined)?.breaks ?? {}).length;
}

/** Scheme and host only: a webhook URL's path, query and userinfo often carry its secret. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}/…`;
}

export interface AlertingDeps {
  readonly store: Store;
  readonly audit: AuditService;
  readonly policies: PolicyService;
  readonly rotations: CaRotation;
  readonly incidents: IncidentService;
  readonly detectors: DetectorService;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics?: { alertTransition(rule: string, status: 'firing' | 'resolved'): void; webhookFailure(): void };
}

export class AlertingService {
  readonly #deps: AlertingDeps;
  readonly #config: AlertsConfig;
  readonly #bundleTtlMs: number;
  readonly #abort = new AbortController();
  #externalUrl = '';
  #timer: NodeJS.Timeout | undefined;
  #evaluating: Promise<unknown> | undefined;
  #delivering: Promise<void> | undefined;

  constructor(deps: AlertingDeps, config: AlertsConfig, bundleTtlMs: number) {
    this.#deps = deps;
    this.#config = config;
    this.#bundleTtlMs = bundleTtlMs;
  }

  /** Evaluates every intervalMs; `externalUrl` (the API's) goes into webhook messages. */
  start(externalUrl: string): void {
    this.#externalUrl = externalUrl;
    this.#timer = setInterval(() => void this.evaluate(), this.#config.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await Promise.allSettled([this.#evaluating, this.#delivering]);
  }

  /** One evaluation (skipped if another replica holds it or evaluated less than half an interval ago); never throws. */
  async evaluate(): Promise<{ fired: RuleAlert[]; resolved: RuleAlert[] } | undefined> {
    if (this.#evaluating || this.#abort.signal.aborted) return undefined;
    const run = this.#deps.store.runExclusive('alert-evaluation', () => this.#evaluateNow());
    this.#evaluating = run;
    try {
      const outcome = await run;
      return outcome.ran ? outcome.result : undefined;
    } catch (error) {
      this.#deps.log.error({ event: 'alert.evaluation-failed', err: (error as Error).message }, 'alert evaluation failed; retrying next interval');
      return undefined;
    } finally {
      this.#evaluating = undefined;
      void this.deliver();
    }
  }

  async #evaluateNow(): Promise<{ fired: RuleAlert[]; resolved: RuleAlert[] } | undefined> {
    const { store, log, metrics } = this.#deps;
    const now = this.#deps.clock.now();
    const at = now.toISOString();
    const state = ((await store.getSetting(STATE_SETTING)) as AlertingState | undefined) ?? { evaluatedAt: null, rules: EMPTY_RULE_STATE, cursors: {}, breaks: {}, eventCursor: null, lastRevocation: null };
    const sinceLast = state.evaluatedAt ? now.getTime() - Date.parse(state.evaluatedAt) : Infinity;
    if (sinceLast >= 0 && sinceLast < this.#config.intervalMs / 2) return undefined; // another replica just did
    const { observations, next } = await this.#observe(state, now);
    const ruled = evaluateRules(observations, state.rules, this.#config, now);
    const { alerts, fired, resolved } = reconcile((await readRuleAlerts(store)).alerts, ruled.findings, ruled.evaluated, now, this.#config);
    await store.transaction(async (tx) => {
      await tx.putSetting(STATE_SETTING, { ...next, rules: ruled.state, evaluatedAt: at } satisfies AlertingState);
      await tx.putSetting(RULE_ALERTS_SETTING, { evaluatedAt: at, alerts } satisfies RuleAlertsDocument);
      for (const [type, list] of [['alert.fired', fired], ['alert.resolved', resolved]] as const) {
        for (const a of list) {
          await tx.appendAudit({ type, actor: 'control-plane', data: { rule: a.rule, key: a.key, severity: a.severity, cluster: a.cluster, summary: a.summary, firstSeen: a.firstSeen, resolvedAt: a.resolvedAt, details: a.details } }, at);
        }
      }
    });
    for (const a of fired) {
      metrics?.alertTransition(a.rule, 'firing');
      log.warn({ event: 'alert.fired', rule: a.rule, key: a.key, severity: a.severity, cluster: a.cluster }, a.summary);
    }
    for (const a of resolved) {
      metrics?.alertTransition(a.rule, 'resolved');
      log.info({ event: 'alert.resolved', rule: a.rule, key: a.key, cluster: a.cluster, firstSeen: a.firstSeen }, `resolved: ${a.summary}`);
    }
    return { fired, resolved };
  }

  /** Everything the rules look at, read from the store; a part that cannot be read marks its rules unknown. */
  async #observe(state: AlertingState, now: Date): Promise<{ observations: Observations; next: Omit<AlertingState, 'rules' | 'evaluatedAt'> }> {
    const { store, policies, rotations, incidents, detectors } = this.#deps;
    const config = this.#config;
    const ms = now.getTime();
    const unknown = new Set<AlertRule>();
    const attempt = async <T>(rules: readonly AlertRule[], fallback: T, read: () => Promise<T>): Promise<T> => {
      try {
        return await read();
      } catch (error) {
        rules.forEach((r) => unknown.add(r));
        this.#deps.log.warn({ event: 'alert.observation-failed', rules, err: (error as Error).message }, 'could not read what some alert rules need; their alerts are left as they are');
        return fallback;
      }
    };
    const clusters = (await store.listClusters()).map((c) => c.name);
    const chains = await attempt(['unauthorized-attempts', 'handshake-failures', 'rotation-burst', 'audit-verification-failed'], { cursors: state.cursors, breaks: state.breaks, denies: {}, handshakeFailures: {}, issuances: {} }, () => this.#scanChains(state, ms));
    const events = await attempt(['stale-policy'], { eventCursor: state.eventCursor, lastRevocation: state.lastRevocation }, () => scanRevocations(store, state));
    const rotationRecords = await attempt(['rotation-burst'], [], async () => (await Promise.all(['root', ...clusters].map((t) => rotations.get(t)))).flatMap((r) => (r ? [r] : [])));
    const incidentList = await attempt(['rotation-burst'], [], () => incidents.list());
    const authorities = await attempt(['certificate-expiring', 'rotation-burst'], [], () => store.listAuthorities());
    // A CA is accounted for if it was the first of its place (root, or a new cluster), or a rotation or an incident made it.
    const explained = new Set<string>();
    const places = new Set<string>();
    for (const a of authorities) {
      const place = `${a.kind}/${a.cluster}`; // listed oldest first
      if (!places.has(place)) explained.add(normalizeSerial(a.serial));
      places.add(place);
    }
    for (const r of rotationRecords) for (const p of r.pairs) explained.add(normalizeSerial(p.previous)).add(normalizeSerial(p.next));
    for (const i of incidentList) for (const s of i.timeline) if (s.step === 'ca-rotated' && typeof s.detail.current === 'string') explained.add(normalizeSerial(s.detail.current));
    const recent = (iso: string) => ms - Date.parse(iso) < config.rotationBurst.windowMs;
    const expectedIssuance = [
      ...rotationRecords.filter((r) => r.step === 'published' || r.step === 'switched' || r.history.some((h) => recent(h.at))).map((r) => `CA rotation of ${r.target} (${r.step})`),
      ...incidentList.filter((i) => i.timeline.some((s) => (s.step === 'reissue-requested' || s.step === 'ca-rotated') && recent(s.at))).map((i) => `incident ${i.id}`),
    ];
    const gatewaySvids = await attempt(['certificate-expiring'], [], async () => {
      const found = [];
      for (const entry of (await store.listEntries()).filter((e) => e.gateway)) {
        // Unrevoked SVIDs valid a day ago: the newest one, even just expired (a gateway that stopped renewing).
        const newest = (await store.listSvids({ spiffeId: entry.spiffeId, validAt: new Date(ms - DAY).toISOString(), revoked: false, limit: 1_000 })).sort((a, b) => a.notAfter.localeCompare(b.notAfter)).at(-1);
        if (newest) found.push({ gateway: entry.spiffeId, cluster: entry.cluster, serial: newest.serial, notBefore: newest.notBefore, notAfter: newest.notAfter });
      }
      return found;
    });
    const trustReports = await attempt(['bundle-expiring', 'stale-policy'], [], async () =>
      (await gatewayTrustReports(store, now)).map((g) => ({ gateway: g.gateway, cluster: g.cluster, version: g.report?.version ?? null, reportedAt: g.report?.reportedAt ?? null })),
    );
    const policy = await attempt(['bundle-expiring', 'stale-policy'], { activeVersion: null, bundleTtlMs: this.#bundleTtlMs, reports: [] }, async () => {
      const status = await policies.status(clusters);
      // Reports of clusters with a live gateway only: the last report of one long gone is not news (it is down, or certificate-expiring says so).
      const live = new Set(trustReports.map((t) => t.cluster));
      const reports = status.gateways.flatMap((g) => ('reportedAt' in g && live.has(g.cluster) ? [{ cluster: g.cluster, gateway: g.gateway, enforcedVersion: g.enforcedVersion, state: g.state, expiresAt: g.expiresAt, reportedAt: g.reportedAt }] : []));
      return { activeVersion: status.active, bundleTtlMs: this.#bundleTtlMs, reports };
    });
    const detectorFindings = await attempt(DETECTOR_RULES, [], async () =>
      (await detectors.findings())
        .filter((f) => ms - Date.parse(f.at) < config.detectorWindowMs)
        .map((f) => ({ detector: f.detector, cluster: f.cluster, subject: detectorSubject(f), at: f.at, summary: f.summary, severity: f.severity ?? ('warning' as const), details: { ...f.details, action: f.action, incident: f.incident, reportedBy: f.reportedBy } })),
    );
    const observations: Observations = {
      clusters,
      denies: chains.denies,
      handshakeFailures: chains.handshakeFailures,
      issuances: chains.issuances,
      expectedIssuance,
      unexplainedAuthorities: authorities.filter((a) => a.status !== 'retired' && !explained.has(normalizeSerial(a.serial))).map((a) => ({ serial: a.serial, kind: a.kind, cluster: a.cluster, createdAt: a.createdAt })),
      authorities,
      gatewaySvids,
      trustReports,
      policy,
      lastRevocation: events.lastRevocation,
      auditBreaks: Object.entries(chains.breaks).map(([stream, b]) => ({ stream, ...b })),
      detectorFindings,
      unknown: [...unknown],
    };
    return { observations, next: { cursors: chains.cursors, breaks: chains.breaks, eventCursor: events.eventCursor, lastRevocation: events.lastRevocation } };
  }

  /** Reads every audit chain forward from its cursor: verifies it and counts what the rate rules need. */
  async #scanChains(state: AlertingState, now: number) {
    const { store, audit } = this.#deps;
    const config = this.#config;
    const denies: Record<string, number> = {};
    const handshakeFailures: Record<string, number> = {};
    const issuances: Record<string, number> = {};
    const bump = (counts: Record<string, number>, cluster: string) => (counts[cluster] = (counts[cluster] ?? 0) + 1);
    const inWindow = (record: AuditRecord, windowMs: number) => now - Date.parse(record.time) < windowMs;
    const checkpoints = await audit.latestCheckpoints();
    const cursors: Record<string, Cursor> = {};
    const breaks: Record<string, { seq: number; reason: string }> = {};
    const streams = [CONTROL_PLANE_STREAM, ...(await store.gatewayAuditHeads()).map((h) => h.stream)];
    for (const stream of streams) {
      const cluster = stream.split('/')[0]!;
      const read = (after: number, limit: number) => (stream === CONTROL_PLANE_STREAM ? store.auditSince(after, limit) : store.gatewayAuditSince(stream, after, limit));
      const result = await scanChain(read, state.cursors[stream], checkpoints[stream], (record) => {
        if (stream === CONTROL_PLANE_STREAM) {
          if (record.type === 'svid.issued' && typeof record.data.cluster === 'string' && inWindow(record, config.rotationBurst.windowMs)) bump(issuances, record.data.cluster);
        } else if (record.type === 'policy.decision' && record.data.decision === 'deny' && inWindow(record, config.unauthorizedAttempts.windowMs)) bump(denies, cluster);
        else if (record.type === 'connection.rejected' && inWindow(record, config.handshakeFailures.windowMs)) bump(handshakeFailures, cluster);
      });
      if (result.cursor) cursors[stream] = result.cursor;
      if (result.broken) breaks[stream] = result.broken;
    }
    return { cursors, breaks, denies, handshakeFailures, issuances };
  }

  /** Sends what the webhook has not acknowledged, oldest change first; one delivery at a time across replicas. */
  async deliver(): Promise<void> {
    const webhook = this.#config.webhook;
    if (!webhook || this.#delivering || this.#abort.signal.aborted) return;
    const { store, log } = this.#deps;
    const run = async () => {
      const at = this.#deps.clock.now().toISOString();
      const notified = ((await store.getSetting(NOTIFIED_SETTING)) as Notified | undefined) ?? { since: at, sent: {} };
      const { alerts } = await readRuleAlerts(store);
      // Every change not yet acknowledged, in the order it happened: an alert that fired and resolved while the webhook was down is sent as both.
      const pending: Array<{ alert: RuleAlert; status: RuleAlert['status']; at: string }> = [];
      for (const alert of alerts) {
        const sent = notified.sent[alertId(alert)];
        if (sent === alert.status || (alert.status === 'resolved' && alert.resolvedAt! < notified.since)) continue;
        if (!sent) pending.push({ alert, status: 'firing', at: alert.firstSeen });
        if (alert.status === 'resolved') pending.push({ alert, status: 'resolved', at: alert.resolvedAt! });
      }
      pending.sort((a, b) => a.at.localeCompare(b.at));
      let sent = { ...notified.sent };
      for (const { alert, status } of pending) {
        // In order: if one cannot be sent, the rest wait for the next evaluation.
        if (!(await this.#post(webhook, alert, status))) break;
        sent[alertId(alert)] = status;
      }
      const live = new Set(alerts.map(alertId));
      sent = Object.fromEntries(Object.entries(sent).filter(([id]) => live.has(id)));
      await store.putSetting(NOTIFIED_SETTING, { since: notified.since, sent } satisfies Notified);
    };
    this.#delivering = store
      .runExclusive('alert-webhook', run)
      .then(() => undefined)
      .catch((error: Error) => log.error({ event: 'alert.webhook-failed', err: error.message }, 'alert delivery failed; retrying after the next evaluation'))
      .finally(() => (this.#delivering = undefined));
    await this.#delivering;
  }

  async #post(webhook: NonNullable<AlertsConfig['webhook']>, alert: RuleAlert, status: RuleAlert['status']): Promise<boolean> {
    const body = JSON.stringify(webhookPayload(alert, this.#externalUrl, status));
    let reason = '';
    for (let attempt = 0; attempt <= webhook.retries; attempt++) {
      try {
        if (attempt > 0) await sleep(webhook.backoffMs * 2 ** (attempt - 1), undefined, { signal: this.#abort.signal });
        const response = await fetch(webhook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(webhook.headers ?? {}) },
          body,
          redirect: 'error',
          signal: AbortSignal.any([AbortSignal.timeout(webhook.timeoutMs), this.#abort.signal]),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return true;
        reason = `HTTP ${response.status}`;
      } catch (error) {
        if (this.#abort.signal.aborted) return false;
        const e = error as Error & { cause?: { code?: string } };
        // Only a name or code: fetch's messages may quote the URL.
        reason = e.name === 'TimeoutError' ? `no answer within ${webhook.timeoutMs} ms` : (e.cause?.code ?? e.name);
      }
    }
    this.#deps.metrics?.webhookFailure();
    this.#deps.log.warn(
      { event: 'alert.webhook-failed', code: 'IL_ERR_ALERT_WEBHOOK_FAILED', webhook: redactedUrl(webhook.url), rule: alert.rule, key: alert.key, status, attempts: webhook.retries + 1, reason },
      'the alert webhook did not accept a notification; it is kept and sent again after the next evaluation',
    );
    return false;
  }
}

/**
 * Verifies one chain forward from its cursor (or its latest checkpoint, or
 * record 1, the first time) and visits each record that verifies. The
 * cursor's own record and the checkpointed one are read again, so a rewrite
 * or truncation of what was verified before is seen too.
 */
async function scanChain(
  read: (after: number, limit: number) => Promise<AuditRecord[]>,
  cursor: Cursor | undefined,
  checkpoint: Cursor | undefined,
  visit: (record: AuditRecord) => void,
): Promise<{ cursor?: Cursor; broken?: { seq: number; reason: string } }> {
  const start = cursor ?? checkpoint;
  const same = async (point: Cursor, what: string) => {
    const [record] = await read(point.seq - 1, 1);
    if (!record) return { record, problem: `record ${point.seq} (${what}) is gone: the chain was cut short` };
    // The stored hash may have been left as it was while the content changed: recompute it too.
    const intact = record.hash === point.hash && !recordSchemaProblem(record) && computeRecordHash(record) === record.hash;
    return { record, problem: intact ? undefined : `record ${point.seq} differs from the ${what} (altered or rewritten)` };
  };
  let previous: AuditRecord | undefined;
  if (start) {
    const { record, problem } = await same(start, cursor ? 'last record verified' : 'signed checkpoint');
    if (problem) return { ...(cursor ? { cursor } : {}), broken: { seq: start.seq, reason: problem } };
    previous = record;
  }
  for (let scanned = 0; scanned < MAX_SCAN; ) {
    const page = await read(previous?.seq ?? 0, PAGE);
    const check = verifyRecordChain(page, previous);
    const good = check.ok ? page : page.slice(0, check.count);
    good.forEach(visit);
    previous = good.at(-1) ?? previous;
    const at = previous ? { seq: previous.seq, hash: previous.hash } : undefined;
    if (!check.ok) return { ...(at ? { cursor: at } : {}), broken: { seq: check.badSeq, reason: check.reason } };
    scanned += page.length;
    if (page.length < PAGE) {
      if (checkpoint && checkpoint.seq > (previous?.seq ?? 0)) return { ...(at ? { cursor: at } : {}), broken: { seq: checkpoint.seq, reason: `a signed checkpoint names record ${checkpoint.seq}, past the end of the chain (${previous?.seq ?? 0}): records were removed` } };
      break;
    }
  }
  const at = previous ? { seq: previous.seq, hash: previous.hash } : undefined;
  if (checkpoint && start !== checkpoint && checkpoint.seq <= (previous?.seq ?? 0)) {
    const { problem } = await same(checkpoint, 'signed checkpoint');
    if (problem) return { ...(at ? { cursor: at } : {}), broken: { seq: checkpoint.seq, reason: problem } };
  }
  return at ? { cursor: at } : {};
}

/** Follows the event table for revocations: the latest one is what every gateway must have confirmed. */
async function scanRevocations(store: Store, state: AlertingState): Promise<Pick<AlertingState, 'eventCursor' | 'lastRevocation'>> {
  let after = state.eventCursor ?? Math.max(0, (await store.latestEventId()) - 10_000);
  let lastRevocation = state.lastRevocation;
  for (let pages = 0; pages < 20; pages++) {
    const events = await store.eventsSince(after, 1_000);
    for (const event of events) {
      if (event.type === 'svid.revoked') lastRevocation = { eventId: event.id, at: event.createdAt };
      after = event.id;
    }
    if (events.length < 1_000) break;
  }
  return { eventCursor: after, lastRevocation };
}
