import type { gatewayHealth } from './health.ts';

/**
 * `interlock check`'s verdicts on one gateway's health report: pure, so the
 * thresholds are tested without a gateway. A certificate or bundle is
 * flagged before it runs out, not after.
 */
export type GatewayHealth = Awaited<ReturnType<typeof gatewayHealth>>;

export interface CheckResult {
  readonly cluster: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export const MAX_CLOCK_SKEW_MS = 5_000;
/** Warn when less than this share of an SVID's life is left: renewal at half life should have happened long before. */
const SVID_MIN_LIFE_LEFT = 0.25;
const BUNDLE_MIN_LEFT_MS = 30 * 86_400_000;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 120) return `${s}s`;
  if (Math.abs(s) < 7200) return `${Math.round(s / 60)}m`;
  if (Math.abs(s) < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function evaluateGateway(health: GatewayHealth, now: number): CheckResult[] {
  const cluster = health.cluster;
  const result = (name: string, ok: boolean, detail: string): CheckResult => ({ cluster, name, ok, detail });
  const checks: CheckResult[] = [];

  const notBefore = Date.parse(health.identity.notBefore ?? '');
  const notAfter = Date.parse(health.identity.notAfter ?? '');
  const left = notAfter - now;
  const life = notAfter - notBefore;
  checks.push(
    result('gateway SVID', left > 0 && left / life >= SVID_MIN_LIFE_LEFT, `${health.identity.spiffeId} expires in ${duration(left)} (${Math.round((100 * left) / life)}% of its life left)`),
  );

  const bundleLeft = Date.parse(health.trustBundle.earliestExpiry ?? '') - now;
  checks.push(result('trust bundle', health.trustBundle.roots > 0 && bundleLeft > BUNDLE_MIN_LEFT_MS, `${health.trustBundle.roots} root(s), first expires in ${duration(bundleLeft)}`));

  const policy = health.policy;
  const policyDetail =
    policy.state === 'fresh'
      ? policy.expiresAt
        ? `version ${policy.enforcedVersion} in force, bundle expires in ${duration(Date.parse(policy.expiresAt) - now)}`
        : 'local policy file in force (no expiry)'
      : `policy ${policy.state}: the gateway denies every call`;
  checks.push(result('policy bundle', policy.state === 'fresh', policyDetail));

  const trust = health.trust;
  if (trust.checksIntermediates) {
    const synced = trust.syncedAt ? `synced ${duration(now - Date.parse(trust.syncedAt))} ago` : 'never synced';
    const isolated = trust.isolated.length ? `; isolated: ${trust.isolated.join(', ')}` : '';
    checks.push(result('trust document', trust.syncedAt !== null, `${trust.authorities.length} CAs trusted, ${synced}${isolated}`));
  }
  for (const alert of health.alerts) checks.push(result(`expiry: ${alert.what}`, false, alert.message));

  const skew = Date.parse(health.time) - now;
  checks.push(result('clock skew', Math.abs(skew) <= MAX_CLOCK_SKEW_MS, `${skew >= 0 ? '+' : ''}${skew} ms against this machine`));

  for (const peer of health.peers ?? []) {
    checks.push(result(`mTLS to ${peer.cluster}`, peer.ok, peer.ok ? `handshake with ${peer.address} in ${peer.ms} ms, peer ID verified` : `${peer.address}: ${peer.error}`));
  }
  return checks;
}
