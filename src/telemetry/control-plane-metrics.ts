import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { oneOf } from './bounded-label.ts';
import { EVENT_TYPES, LABEL, METRIC } from './names.ts';

/**
 * The control plane's metrics, served on a separate plain-HTTP listener
 * (server config `metrics.listen`, loopback or a pod-local address) so that
 * scraping needs no admin token and the API port stays mTLS only. State
 * gauges (CA expiry, open incidents) are read at scrape time.
 */
export interface ControlPlaneStateSource {
  authorities(): Promise<Array<{ kind: string; cluster: string | null; status: string; notAfter: string }>>;
  openIncidents(): Promise<number>;
  /** Firing alerts by rule, every rule present (server/alerting.ts). */
  firingAlerts?(): Promise<Record<string, number>>;
  /** Audit chains whose last verification by the alert evaluator failed. */
  brokenAuditChains?(): Promise<number>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Routes that issue an SVID when they answer 201, and the method they record. */
const ISSUING_ROUTES: Record<string, string> = { '/v1/attest/join-token': 'join-token', '/v1/attest/k8s': 'k8s-sat', '/v1/svid/renew': 'renewal' };

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<string>;
  readonly #duration: Histogram<string>;
  readonly #issued: Counter<string>;
  readonly #attestationFailures: Counter<string>;
  readonly #events: Counter<string>;
  readonly #alerts: Counter<string>;
  readonly #alertTransitions: Counter<string>;
  readonly #webhookFailures: Counter<string>;
  readonly watchStreams: Gauge<string>;

  constructor(source: ControlPlaneStateSource) {
    const registers = [this.registry];
    this.#requests = new Counter({ name: METRIC.apiRequests, help: 'API requests by route, method and status class', labelNames: [LABEL.route, LABEL.method, LABEL.statusClass], registers });
    this.#duration = new Histogram({ name: METRIC.apiRequestDuration, help: 'API request latency', labelNames: [LABEL.route, LABEL.method], buckets: LATENCY_BUCKETS, registers });
    this.#issued = new Counter({ name: METRIC.svidsIssued, help: 'X.509-SVIDs issued, by method', labelNames: [LABEL.method], registers });
    this.#attestationFailures = new Counter({ name: METRIC.attestationFailures, help: 'Attestations and renewals refused, by error code', labelNames: [LABEL.code], registers });
    this.#events = new Counter({ name: METRIC.events, help: 'Events fanned out to watch streams, by type (svid.revoked counts revocations)', labelNames: [LABEL.type], registers });
    this.#alerts = new Counter({ name: METRIC.alerts, help: 'Detector findings, by detector', labelNames: [LABEL.detector], registers });
    this.#alertTransitions = new Counter({ name: METRIC.alertTransitions, help: 'Alert rule alerts that fired or resolved, by rule and status', labelNames: [LABEL.rule, LABEL.status], registers });
    this.#webhookFailures = new Counter({ name: METRIC.alertWebhookFailures, help: 'Alert notifications the webhook did not accept after every retry (kept and sent again later)', registers });
    if (source.firingAlerts) {
      const firing = source.firingAlerts.bind(source);
      new Gauge({
        name: METRIC.alertsFiring,
        help: 'Alerts firing now, by rule',
        labelNames: [LABEL.rule],
        registers,
        async collect() {
          this.reset();
          for (const [rule, count] of Object.entries(await firing())) this.set({ rule }, count);
        },
      });
    }
    if (source.brokenAuditChains) {
      const broken = source.brokenAuditChains.bind(source);
      new Gauge({
        name: METRIC.auditChainsBroken,
        help: 'Audit chains (control plane and gateway streams) whose last verification failed',
        registers,
        async collect() {
          this.set(await broken());
        },
      });
    }
    this.watchStreams = new Gauge({ name: METRIC.watchStreams, help: 'Open watch streams (gateways and following workloads)', registers });
    new Gauge({
      name: METRIC.caExpiry,
      help: 'Seconds until each trusted CA certificate expires, by kind, cluster and status',
      labelNames: [LABEL.kind, LABEL.cluster, 'status'],
      registers,
      async collect() {
        // Several CAs of one kind, cluster and status (during a rotation): report the soonest to expire.
        const soonest = new Map<string, { labels: Record<string, string>; seconds: number }>();
        for (const a of await source.authorities()) {
          if (a.status === 'retired') continue;
          const labels = { kind: a.kind, cluster: a.cluster ?? 'none', status: a.status };
          const key = `${labels.kind}/${labels.cluster}/${labels.status}`;
          const seconds = (Date.parse(a.notAfter) - Date.now()) / 1000;
          if (!soonest.has(key) || seconds < soonest.get(key)!.seconds) soonest.set(key, { labels, seconds });
        }
        this.reset();
        for (const { labels, seconds } of soonest.values()) this.set(labels, seconds);
      },
    });
    new Gauge({
      name: METRIC.incidentsOpen,
      help: 'Compromise incidents not yet resolved',
      registers,
      async collect() {
        this.set(await source.openIncidents());
      },
    });
  }

  request(route: string, method: string, status: number, seconds: number, errorCode: string | undefined): void {
    this.#requests.inc({ route, method, status_class: `${Math.floor(status / 100)}xx` });
    this.#duration.observe({ route, method }, seconds);
    const issuing = ISSUING_ROUTES[route];
    if (issuing && status === 201) this.#issued.inc({ method: issuing });
    if (issuing && status >= 400) this.#attestationFailures.inc({ code: errorCode ?? 'unknown' });
  }

  event(type: string): void {
    this.#events.inc({ type: oneOf(type, EVENT_TYPES) });
  }

  alert(detector: string): void {
    this.#alerts.inc({ detector });
  }

  alertTransition(rule: string, status: 'firing' | 'resolved'): void {
    this.#alertTransitions.inc({ rule, status });
  }

  webhookFailure(): void {
    this.#webhookFailures.inc();
  }
}

/** The plain-HTTP /metrics listener. */
export function startMetricsServer(metrics: ControlPlaneMetrics, listen: { host: string; port: number }): Promise<{ address: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    void metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      resolve({ address: `${listen.host}:${(server.address() as AddressInfo).port}`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
