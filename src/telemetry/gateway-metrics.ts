import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundedLabel, oneOf } from './bounded-label.ts';
import { HANDSHAKE_REASONS, LABEL, METRIC } from './names.ts';

/**
 * A gateway's metrics, served on its admin port at /metrics. Counters and
 * histograms are updated on the request path; the state gauges (time to
 * expiry, bundle age, list sizes) are read from the gateway at scrape time
 * through `source`, so they are never stale.
 */
export interface GatewayStateSource {
  /** Seconds until expiry by certificate kind (gateway_svid, cluster_ca, root_ca: the soonest root). */
  certificateExpiry(): Record<string, number>;
  policyBundle(): { issuedAt: string; expiresAt: string } | null;
  policyCache(): { hits: number; misses: number };
  revokedSerials(): number;
  trustedAuthorities(): number;
  expiryAlerts(): number;
  /** Audit records not yet acknowledged by the control plane; null without one. */
  auditSpoolDepth(): number | null;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const POLICY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];
const MAX_IDENTITIES = 500;

export type Direction = 'inbound' | 'outbound';
export type Decision = 'allow' | 'deny' | 'error';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #identities = new BoundedLabel(MAX_IDENTITIES);
  readonly #requests: Counter<string>;
  readonly #duration: Histogram<string>;
  readonly #connections: Counter<string>;
  readonly #handshakeFailures: Counter<string>;
  readonly #policyDuration: Histogram<string>;

  constructor(cluster: string, source: GatewayStateSource) {
    this.registry.setDefaultLabels({ cluster });
    const registers = [this.registry];
    this.#requests = new Counter({
      name: METRIC.gatewayRequests,
      help: 'Requests through the gateway, by direction, peer cluster, caller identity (capped), decision and error code',
      labelNames: [LABEL.direction, LABEL.peerCluster, LABEL.identity, LABEL.decision, LABEL.code],
      registers,
    });
    this.#duration = new Histogram({
      name: METRIC.gatewayRequestDuration,
      help: 'Time from the request reaching the gateway to the end of the answer',
      labelNames: [LABEL.direction, LABEL.peerCluster, LABEL.decision],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#connections = new Counter({ name: METRIC.gatewayConnections, help: 'TLS connections admitted, by listener', labelNames: [LABEL.listener], registers });
    this.#handshakeFailures = new Counter({ name: METRIC.gatewayHandshakeFailures, help: 'Connections refused during or right after the TLS handshake, by listener and reason', labelNames: [LABEL.listener, LABEL.reason], registers });
    this.#policyDuration = new Histogram({ name: METRIC.policyEvaluationDuration, help: 'Time to reach a policy decision (cache hits included)', buckets: POLICY_BUCKETS, registers });
    // Cache counters follow the decision points' own counts (policy-state.ts keeps them across bundles); only growth is added.
    let seenHits = 0;
    let seenMisses = 0;
    new Counter({
      name: METRIC.policyCacheHits,
      help: 'Policy decisions answered from the decision cache',
      registers,
      collect() {
        const { hits } = source.policyCache();
        this.inc(Math.max(0, hits - seenHits));
        seenHits = Math.max(seenHits, hits);
      },
    });
    new Counter({
      name: METRIC.policyCacheMisses,
      help: 'Policy decisions that needed a Cedar evaluation',
      registers,
      collect() {
        const { misses } = source.policyCache();
        this.inc(Math.max(0, misses - seenMisses));
        seenMisses = Math.max(seenMisses, misses);
      },
    });
    new Gauge({
      name: METRIC.certificateExpiry,
      help: 'Seconds until the certificate expires (negative once expired), by kind',
      labelNames: [LABEL.certificate],
      registers,
      collect() {
        for (const [certificate, seconds] of Object.entries(source.certificateExpiry())) this.set({ certificate }, seconds);
      },
    });
    new Gauge({
      name: METRIC.policyBundleAge,
      help: 'Seconds since the policy bundle in force was signed',
      registers,
      collect() {
        const bundle = source.policyBundle();
        if (bundle) this.set((Date.now() - Date.parse(bundle.issuedAt)) / 1000);
      },
    });
    new Gauge({
      name: METRIC.policyBundleExpiry,
      help: 'Seconds until the policy bundle in force expires and the gateway fails closed',
      registers,
      collect() {
        const bundle = source.policyBundle();
        if (bundle) this.set((Date.parse(bundle.expiresAt) - Date.now()) / 1000);
      },
    });
    new Gauge({ name: METRIC.revokedSerials, help: 'Revoked, unexpired certificate serials the gateway refuses', registers, collect() { this.set(source.revokedSerials()); } });
    new Gauge({ name: METRIC.trustedAuthorities, help: 'CAs in the trust document the gateway holds', registers, collect() { this.set(source.trustedAuthorities()); } });
    new Gauge({
      name: METRIC.auditSpoolDepth,
      help: 'Audit records kept in the local spool, not yet acknowledged by the control plane',
      registers,
      collect() {
        const depth = source.auditSpoolDepth();
        if (depth !== null) this.set(depth);
      },
    });
    new Gauge({ name: METRIC.expiryAlerts, help: 'Certificates or bundles with a third or less of their life left (renewal failing)', registers, collect() { this.set(source.expiryAlerts()); } });
  }

  request(direction: Direction, peerCluster: string, identity: string | null, decision: Decision, code: string | null, seconds: number): void {
    const peer = peerCluster || 'unknown';
    this.#requests.inc({ direction, peer_cluster: peer, identity: identity ? this.#identities.value(identity) : 'unknown', decision, code: code ?? 'none' });
    this.#duration.observe({ direction, peer_cluster: peer, decision }, seconds);
  }

  connection(listener: string): void {
    this.#connections.inc({ listener });
  }

  handshakeFailure(listener: string, reason: string): void {
    this.#handshakeFailures.inc({ listener, reason: oneOf(reason, HANDSHAKE_REASONS) });
  }

  policyEvaluation(seconds: number): void {
    this.#policyDuration.observe(seconds);
  }
}
