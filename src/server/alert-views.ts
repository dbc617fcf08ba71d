import { createHash } from 'node:crypto';
import { DETECTOR_RULES, type RuleAlert, type Severity } from './alert-rules.ts';

/**
 * What leaves the rule engine (alert-rules.ts): an alert's identity, the
 * webhook message, and the merged view of rule alerts and detector findings
 * that `GET /v1/alerts`, `interlock check` and the dashboard read.
 */

/** One alert's identity across its life (a key that fires again later is a new alert). */
export function alertId(alert: Pick<RuleAlert, 'key' | 'firstSeen'>): string {
  return `${alert.key}@${alert.firstSeen}`;
}

/**
 * The body POSTed to the webhook, in Alertmanager's webhook format (version 4,
 * https://prometheus.io/docs/alerting/latest/configuration/#webhook_config),
 * one alert per message, so receivers written for Alertmanager read it as is.
 */
export function webhookPayload(alert: RuleAlert, externalUrl: string, status: RuleAlert['status'] = alert.status): Record<string, unknown> {
  const labels: Record<string, string> = { alertname: alert.rule, rule: alert.rule, key: alert.key, severity: alert.severity, ...(alert.cluster ? { cluster: alert.cluster } : {}), source: 'interlock' };
  const annotations = { summary: alert.summary, details: JSON.stringify(alert.details) };
  return {
    version: '4',
    groupKey: `interlock:${alert.key}`,
    truncatedAlerts: 0,
    status,
    receiver: 'interlock',
    groupLabels: { alertname: alert.rule },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: externalUrl,
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt: alert.firstSeen,
        // Alertmanager's "no end yet".
        endsAt: status === 'resolved' ? alert.resolvedAt : '0001-01-01T00:00:00Z',
        generatorURL: `${externalUrl}/v1/alerts`,
        fingerprint: createHash('sha256').update(alertId(alert)).digest('hex').slice(0, 16),
      },
    ],
  };
}

/** What a detector finding is about: the key part that makes repeats of it one alert. */
export function detectorSubject(finding: { detector: string; details: Record<string, unknown> }): string {
  const field = finding.detector === 'svid-in-two-clusters' ? 'serial' : finding.detector === 'deny-burst' ? 'spiffeId' : 'fingerprint';
  return String(finding.details[field] ?? '');
}

/** A detector finding as detectors.ts stores it. */
interface StoredFinding {
  readonly at: string;
  readonly detector: string;
  readonly reportedBy: string;
  readonly cluster: string;
  readonly summary: string;
  readonly action: string;
  readonly incident: string | null;
  readonly details: Record<string, unknown>;
  readonly severity?: Severity;
}

/** One entry of GET /v1/alerts: a detector finding's fields (the original shape, kept), and every alert's status fields. */
export interface AlertView extends Required<StoredFinding> {
  readonly source: 'detector' | 'rule';
  readonly rule: string;
  readonly key: string;
  readonly status: RuleAlert['status'];
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly resolvedAt: string | null;
}

/**
 * Detector findings and rule alerts as one list, oldest first. A finding
 * keeps its fields and gets the status of the alert it is part of (its key,
 * and not resolved before it); one the evaluator has not seen yet is
 * firing, one it saw without alerting (older than detectorWindowMs) resolved.
 * A rule alert takes the finding's shape: `at` is its lastSeen, `detector` its rule.
 */
export function alertViews(findings: readonly StoredFinding[], doc: { readonly evaluatedAt: string | null; readonly alerts: readonly RuleAlert[] }): AlertView[] {
  const detectorRules = new Set<string>(DETECTOR_RULES);
  const views: AlertView[] = findings.map((f) => {
    const key = `${f.detector}:${f.cluster}:${detectorSubject(f)}`;
    const alert = doc.alerts.filter((a) => a.key === key && (a.resolvedAt === null || a.resolvedAt >= f.at)).sort((a, b) => a.firstSeen.localeCompare(b.firstSeen))[0];
    const unseen = doc.evaluatedAt === null || f.at > doc.evaluatedAt;
    return {
      ...f,
      severity: f.severity ?? alert?.severity ?? 'warning',
      source: 'detector',
      rule: f.detector,
      key,
      status: alert?.status ?? (unseen ? 'firing' : 'resolved'),
      firstSeen: alert?.firstSeen ?? f.at,
      lastSeen: alert?.lastSeen ?? f.at,
      resolvedAt: alert?.resolvedAt ?? null,
    };
  });
  for (const a of doc.alerts) {
    if (detectorRules.has(a.rule)) continue;
    const { rule, key, severity, status, firstSeen, lastSeen, resolvedAt, summary, details } = a;
    views.push({ at: lastSeen, detector: rule, reportedBy: 'control-plane', cluster: a.cluster ?? '', summary, action: 'alert-only', incident: null, details, severity, source: 'rule', rule, key, status, firstSeen, lastSeen, resolvedAt });
  }
  return views.sort((x, y) => x.at.localeCompare(y.at));
}
