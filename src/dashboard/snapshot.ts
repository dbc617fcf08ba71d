/**
 * What `GET /v1/dashboard/snapshot` answers: the one contract between the
 * control plane (server/dashboard-service.ts builds it) and the page
 * (dashboard/page/*.ts draws it). Types only, so the page bundle carries none
 * of the server's code. Times are ISO 8601; durations are seconds unless the
 * name says Ms.
 */

/** ok = green, warn = amber, bad = red. */
export type Health = 'ok' | 'warn' | 'bad';

/** One fact behind a health colour, in a short sentence; 'ok' ones are information (e.g. an idle link). */
export interface Reason {
  readonly health: Health;
  readonly text: string;
}

export interface GatewayView {
  readonly spiffeId: string | null;
  /** Newest unrevoked SVID of the gateway identity; null when it has none. */
  readonly svidSerial: string | null;
  readonly svidSecondsLeft: number | null;
  readonly intermediateSecondsLeft: number | null;
  /** Whether the gateway confirmed it holds every CA the control plane publishes (POST /v1/trust/report). */
  readonly trust: 'in-sync' | 'behind' | 'stale' | 'unreported';
  readonly trustReportedAt: string | null;
  /** The gateway's own report of its signed policy bundle (POST /v1/policy/report). */
  readonly policyState: 'fresh' | 'expired' | 'unavailable' | 'stale' | 'unreported';
}

export interface ClusterView {
  readonly name: string;
  readonly trustDomain: string;
  readonly isolated: boolean;
  readonly gateway: GatewayView;
  readonly health: Health;
  /** Why the health is what it is; empty when all is well. */
  readonly reasons: readonly Reason[];
}

export interface LinkView {
  /** `<a>|<b>` with a < b. */
  readonly id: string;
  readonly a: string;
  readonly b: string;
  readonly health: Health;
  /** Both ends' reasons (prefixed with the cluster) and the link's own. */
  readonly reasons: readonly Reason[];
  /** Last call in either direction that reached the peer gateway (the handshake and the hop worked). */
  readonly lastSuccessAt: string | null;
  /** Least time left on the gateway SVIDs and cluster intermediates of both ends. */
  readonly minCertSecondsLeft: number | null;
  readonly requestsPerSecond: number;
  /** Failed calls / calls, both directions, over the window; null without calls. */
  readonly errorRate: number | null;
}

export interface CertificateRow {
  readonly kind: 'root CA' | 'cluster CA' | 'gateway SVID' | 'workload SVID';
  /** The SPIFFE ID for an SVID; the CA's role for a CA. */
  readonly subject: string;
  readonly cluster: string | null;
  readonly serial: string;
  readonly status: 'active' | 'published' | 'retired' | 'valid' | 'revoked';
  readonly notBefore: string;
  readonly notAfter: string;
  readonly secondsLeft: number;
  readonly lifetimeSeconds: number;
  /** Less than 7 days or a third of its lifetime left, whichever is shorter. */
  readonly expiringSoon: boolean;
}

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
}

export interface PolicyCount {
  /** A policy's @id, or `(default deny)` when no policy matched, or the refusal code before policy ran. */
  readonly policy: string;
  readonly allow: number;
  readonly deny: number;
}

/** Traffic in one direction, from the caller's gateway (call.outbound) and the callee's (policy.decision). */
export interface TrafficDirection {
  readonly from: string;
  readonly to: string;
  readonly calls: number;
  readonly requestsPerSecond: number;
  readonly errors: number;
  readonly errorRate: number | null;
  /** End-to-end call time seen by the calling gateway, ms. */
  readonly latencyMs: Percentiles | null;
  readonly allow: number;
  readonly deny: number;
  readonly byPolicy: readonly PolicyCount[];
  /** Per bucket (traffic.bucketStarts): calls per second, failed calls per second, p95 latency ms. */
  readonly series: { readonly requestsPerSecond: readonly number[]; readonly errorsPerSecond: readonly number[]; readonly p95Ms: ReadonlyArray<number | null> };
}

export interface PolicyLatencyView {
  /** The audit stream (the gateway) that decided. */
  readonly stream: string;
  readonly decisions: number;
  readonly ms: (Percentiles & { readonly max: number }) | null;
  readonly p95Series: ReadonlyArray<number | null>;
}

export interface DenyRow {
  readonly time: string;
  readonly stream: string;
  readonly seq: number;
  readonly principal: string;
  readonly resource: string;
  readonly method: string;
  readonly path: string;
  readonly reason: string;
  readonly code: string | null;
  readonly sourceCluster: string | null;
  readonly policyVersion: number | null;
}

export interface GatewayRolloutRow {
  readonly cluster: string;
  readonly gateway: string | null;
  readonly state: 'fresh' | 'expired' | 'unavailable' | 'unreported';
  readonly enforcedVersion: number | null;
  readonly candidateVersion: number | null;
  /** What this gateway does with the candidate: 'dry-run' (evaluates, does not enforce), 'canary' (enforces it), or none. */
  readonly stage: 'dry-run' | 'canary' | 'none';
  readonly evaluated: number;
  readonly disagreements: number;
  readonly allowToDeny: number;
  readonly denyToAllow: number;
  readonly reportedAt: string | null;
  readonly reportStale: boolean;
}

export interface PolicyRolloutView {
  readonly active: number | null;
  readonly rollout: { readonly version: number; readonly stage: string; readonly clusters: readonly string[]; readonly percent: number; readonly by: string; readonly at: string } | null;
  readonly gateways: readonly GatewayRolloutRow[];
}

export interface AlertRow {
  readonly at: string;
  readonly detector: string;
  readonly cluster: string;
  readonly summary: string;
  readonly action: string;
  readonly incident: string | null;
}

export interface IncidentRow {
  readonly id: string;
  readonly status: string;
  readonly reason: string;
  readonly trigger: string;
  readonly scope: string;
  readonly openedAt: string;
  readonly lastStep: string;
  readonly lastStepAt: string;
}

export interface DashboardSnapshot {
  readonly generatedAt: string;
  /** Traffic, latency and link-error figures cover this many seconds before generatedAt. */
  readonly windowSeconds: number;
  readonly clusters: readonly ClusterView[];
  readonly links: readonly LinkView[];
  readonly certificates: { readonly rows: readonly CertificateRow[]; readonly truncated: boolean };
  readonly traffic: { readonly bucketSeconds: number; readonly bucketStarts: readonly number[]; readonly directions: readonly TrafficDirection[] };
  readonly policyLatency: readonly PolicyLatencyView[];
  readonly denies: readonly DenyRow[];
  readonly policy: PolicyRolloutView;
  readonly alerts: readonly AlertRow[];
  readonly incidents: readonly IncidentRow[];
  /** Streams with more records in the window than the snapshot reads: their figures cover only the newest records. */
  readonly sampledStreams: readonly string[];
}
