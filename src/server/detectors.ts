import type { Clock } from '../clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Store } from '../store/types.ts';
import type { IncidentService } from './incidents.ts';
import { alertViews, type AlertView } from './alert-views.ts';
import { readRuleAlerts } from './alerting.ts';

/**
 * The control plane's detectors, fed by gateway signals (gateway/signals.ts):
 *
 *   svid-in-two-clusters  an SVID presented at a gateway of a cluster other
 *                         than the one it was issued to: the credential is in
 *                         use in two places, so its key has leaked
 *   deny-burst            one identity denied by policy over a threshold:
 *                         probing, or a compromised workload
 *   unknown-ca            a certificate from a CA not in the trust bundle; if
 *                         it claims one of our trust domains, someone can mint
 *                         certificates that look like ours
 *
 * Each finding is an alert in the audit chain; with action 'remediate' (the
 * default for the first two) it also opens a compromise incident for the
 * identity (revoke, re-issue), unless one is already open for it. An unknown
 * CA has no credential of ours to revoke, so it is an alert, with the advice
 * to rotate the root if the certificate claimed one of our trust domains.
 */
export type DetectorAction = 'remediate' | 'alert';

export interface DetectorSettings {
  readonly svidInTwoClusters: DetectorAction;
  readonly denyBurst: DetectorAction;
}

export interface Alert {
  readonly at: string;
  readonly detector: 'svid-in-two-clusters' | 'deny-burst' | 'unknown-ca';
  readonly reportedBy: string;
  readonly cluster: string;
  readonly summary: string;
  readonly action: 'incident-opened' | 'incident-already-open' | 'alert-only';
  readonly incident: string | null;
  readonly details: Record<string, unknown>;
  /** How urgent (alert-rules.ts); absent on findings stored before it existed. */
  readonly severity?: 'warning' | 'critical';
}

export type IncomingSignal = { kind: string; at?: string } & Record<string, unknown>;

const ALERTS_SETTING = 'alerts';

/**
 * Gateways report serials without leading zeros (pki/serial.ts); the store
 * keeps them as the certificate encodes them, which may start with zeros.
 */
async function findSvid(store: Store, serial: string) {
  for (const zeros of ['', '0', '00', '000']) {
    const svid = await store.getSvid(zeros + serial.toLowerCase());
    if (svid) return svid;
  }
  return undefined;
}
const MAX_ALERTS = 500;

export class DetectorService {
  readonly #store: Store;
  readonly #incidents: IncidentService;
  readonly #settings: DetectorSettings;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onAlert: (detector: string) => void;

  constructor(store: Store, incidents: IncidentService, settings: DetectorSettings, clock: Clock, log: Logger, onAlert: (detector: string) => void = () => undefined) {
    this.#store = store;
    this.#incidents = incidents;
    this.#settings = settings;
    this.#clock = clock;
    this.#log = log;
    this.#onAlert = onAlert;
  }

  /** The findings as stored, oldest first (the alert evaluator's input). */
  async findings(): Promise<Alert[]> {
    return ((await this.#store.getSetting(ALERTS_SETTING)) as Alert[] | undefined) ?? [];
  }

  /** GET /v1/alerts: the findings, each with the status of its alert, and the alert rules' alerts (alerting.ts). */
  async alerts(): Promise<AlertView[]> {
    return alertViews(await this.findings(), await readRuleAlerts(this.#store));
  }

  async ingest(reporter: { gateway: string; cluster: string }, signals: readonly IncomingSignal[]): Promise<number> {
    let alerts = 0;
    for (const signal of signals) {
      const alert = await this.#evaluate(reporter, signal);
      if (!alert) continue;
      alerts++;
      await this.#store.transaction(async (tx) => {
        const all = ((await tx.getSetting(ALERTS_SETTING)) as Alert[] | undefined) ?? [];
        await tx.putSetting(ALERTS_SETTING, [...all, alert].slice(-MAX_ALERTS));
        await tx.appendAudit({ type: 'detector.alert', actor: reporter.gateway, data: { ...alert } }, alert.at);
      });
      this.#onAlert(alert.detector);
      this.#log.warn({ event: 'detector.alert', detector: alert.detector, cluster: alert.cluster, action: alert.action, incident: alert.incident }, alert.summary);
    }
    return alerts;
  }

  async #evaluate(reporter: { gateway: string; cluster: string }, signal: IncomingSignal): Promise<Alert | undefined> {
    const at = this.#clock.now().toISOString();
    const base = { at, reportedBy: reporter.gateway, cluster: reporter.cluster };
    if (signal.kind === 'foreign-svid' && typeof signal.serial === 'string') {
      const svid = await findSvid(this.#store, signal.serial);
      // Not ours, revoked already, or at home: nothing in two places.
      if (!svid || svid.revokedAt || svid.cluster === reporter.cluster) return undefined;
      const summary = `SVID ${svid.serial} of ${svid.spiffeId}, issued to cluster ${svid.cluster}, was presented in cluster ${reporter.cluster}`;
      return { ...base, detector: 'svid-in-two-clusters', severity: 'critical', summary, ...(await this.#act(this.#settings.svidInTwoClusters, svid.spiffeId, summary, 'svid-in-two-clusters')), details: { serial: svid.serial, spiffeId: svid.spiffeId, home: svid.cluster } };
    }
    if (signal.kind === 'deny-burst' && typeof signal.spiffeId === 'string') {
      const summary = `${signal.spiffeId} was denied ${String(signal.count)} times within ${Math.round(Number(signal.windowMs) / 1000)} s at the gateway of ${reporter.cluster}`;
      return { ...base, detector: 'deny-burst', severity: 'warning', summary, ...(await this.#act(this.#settings.denyBurst, signal.spiffeId, summary, 'deny-burst')), details: { spiffeId: signal.spiffeId, count: signal.count, windowMs: signal.windowMs } };
    }
    if (signal.kind === 'unknown-ca') {
      const claimed = typeof signal.spiffeId === 'string' ? signal.spiffeId : null;
      const ours = claimed ? (await this.#store.listClusters()).find((c) => claimed.startsWith(`spiffe://${c.trustDomain}/`)) : undefined;
      const summary = ours
        ? `a certificate for ${claimed} (cluster ${ours.name}) from a CA not in the trust bundle was presented at the ${String(signal.listener)} listener of ${reporter.cluster}; if it chains to our root, rotate the root (interlock ca rotate-root)`
        : `a certificate from a foreign CA (${String(signal.issuer)}) was presented at the ${String(signal.listener)} listener of ${reporter.cluster}`;
      return { ...base, detector: 'unknown-ca', severity: ours ? 'critical' : 'warning', summary, action: 'alert-only', incident: null, details: { reason: signal.reason, subject: signal.subject, issuer: signal.issuer, spiffeId: claimed, fingerprint: signal.fingerprint } };
    }
    return undefined;
  }

  async #act(action: DetectorAction, spiffeId: string, summary: string, detector: string): Promise<Pick<Alert, 'action' | 'incident'>> {
    if (action === 'alert') return { action: 'alert-only', incident: null };
    const open = await this.#incidents.openFor({ spiffeId });
    if (open) return { action: 'incident-already-open', incident: open.id };
    const incident = await this.#incidents.compromise({ scope: { spiffeId }, reason: summary, trigger: `detector:${detector}` }, `detector:${detector}`);
    return { action: 'incident-opened', incident: incident.id };
  }
}
