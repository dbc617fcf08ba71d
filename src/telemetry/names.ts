/**
 * Every metric name and label Interlock exports, in one place (DESIGN.md
 * style rule 7). Prometheus conventions: `interlock_` prefix, base units
 * (seconds, bytes), `_total` on counters only. Label values are bounded:
 * clusters come from configuration, codes from the error registry, reasons
 * from a fixed list, identities through a capped label (bounded-label.ts).
 */
export const METRIC = {
  // Gateway.
  gatewayRequests: 'interlock_gateway_requests_total',
  gatewayRequestDuration: 'interlock_gateway_request_duration_seconds',
  gatewayConnections: 'interlock_gateway_connections_total',
  gatewayHandshakeFailures: 'interlock_gateway_handshake_failures_total',
  policyEvaluationDuration: 'interlock_policy_evaluation_duration_seconds',
  policyCacheHits: 'interlock_policy_cache_hits_total',
  policyCacheMisses: 'interlock_policy_cache_misses_total',
  policyBundleAge: 'interlock_policy_bundle_age_seconds',
  policyBundleExpiry: 'interlock_policy_bundle_expiry_seconds',
  certificateExpiry: 'interlock_certificate_expiry_seconds',
  revokedSerials: 'interlock_gateway_revoked_serials',
  trustedAuthorities: 'interlock_gateway_trusted_authorities',
  expiryAlerts: 'interlock_gateway_expiry_alerts',
  auditSpoolDepth: 'interlock_gateway_audit_spool_depth',
  // Control plane.
  apiRequests: 'interlock_api_requests_total',
  apiRequestDuration: 'interlock_api_request_duration_seconds',
  svidsIssued: 'interlock_svids_issued_total',
  attestationFailures: 'interlock_attestation_failures_total',
  events: 'interlock_events_total',
  watchStreams: 'interlock_watch_streams',
  caExpiry: 'interlock_ca_expiry_seconds',
  incidentsOpen: 'interlock_incidents_open',
  alerts: 'interlock_alerts_total',
  alertsFiring: 'interlock_alerts_firing',
  alertTransitions: 'interlock_alert_transitions_total',
  alertWebhookFailures: 'interlock_alert_webhook_failures_total',
  auditChainsBroken: 'interlock_audit_chains_broken',
} as const;

export const LABEL = {
  direction: 'direction',
  peerCluster: 'peer_cluster',
  decision: 'decision',
  code: 'code',
  identity: 'identity',
  listener: 'listener',
  reason: 'reason',
  certificate: 'certificate',
  route: 'route',
  method: 'method',
  statusClass: 'status_class',
  type: 'type',
  kind: 'kind',
  cluster: 'cluster',
  detector: 'detector',
  rule: 'rule',
  status: 'status',
} as const;

/** Handshake failure reasons kept as label values; anything else is counted as "other". */
export const HANDSHAKE_REASONS = [
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'NO_PEER_CERTIFICATE',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ECONNRESET',
  'IL_ERR_SVID_REVOKED',
  'IL_ERR_CERT_UNTRUSTED',
  'IL_ERR_CERT_NAME_CONSTRAINT',
  'IL_ERR_PEER_ISOLATED',
  'IL_ERR_PEER_CONNECTION_LIMIT',
] as const;

/** Watch event types counted by type; anything else is "other". */
export const EVENT_TYPES = ['bundle.changed', 'trust.changed', 'ca.rotated', 'svid.revoked', 'identity.reissue', 'policy.activated', 'policy.rollout', 'entry.deleted'] as const;
