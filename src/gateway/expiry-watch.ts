import type { Clock } from '../clock.ts';
import type { Logger } from '../telemetry/logger.ts';

/**
 * Alerts before anything the gateway depends on expires. Everything is
 * renewed or refreshed long before its end (SVIDs at half life, policy
 * bundles on every refresh), so less than a third of a lifetime left means
 * renewal has been failing, most likely because the control plane is
 * unreachable; the alert fires then, while there is still time to act,
 * not when traffic starts failing.
 */
export interface ExpiringItem {
  readonly what: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface ExpiryAlert {
  readonly what: string;
  readonly expiresAt: string;
  readonly leftMs: number;
  readonly message: string;
}

export const ALERT_FRACTION = 1 / 3;

export function expiryAlerts(items: readonly ExpiringItem[], now: Date): ExpiryAlert[] {
  const alerts: ExpiryAlert[] = [];
  for (const item of items) {
    const lifetime = item.notAfter.getTime() - item.notBefore.getTime();
    const left = item.notAfter.getTime() - now.getTime();
    if (lifetime <= 0 || left > lifetime * ALERT_FRACTION) continue;
    const message =
      left <= 0
        ? `${item.what} expired at ${item.notAfter.toISOString()}`
        : `${item.what} expires in ${Math.ceil(left / 1000)} s (${item.notAfter.toISOString()}) and has not been renewed: is the control plane reachable?`;
    alerts.push({ what: item.what, expiresAt: item.notAfter.toISOString(), leftMs: Math.max(0, left), message });
  }
  return alerts;
}

/** Logs each alert once when it starts (event gateway.expiry-alert) and once when it clears. */
export function startExpiryWatch(options: { items: () => readonly ExpiringItem[]; clock: Clock; log: Logger; intervalMs?: number }): () => void {
  let active = new Set<string>();
  const check = () => {
    const alerts = expiryAlerts(options.items(), options.clock.now());
    const now = new Set(alerts.map((a) => a.what));
    for (const alert of alerts) if (!active.has(alert.what)) options.log.warn({ event: 'gateway.expiry-alert', what: alert.what, expiresAt: alert.expiresAt, leftMs: alert.leftMs }, alert.message);
    for (const what of active) if (!now.has(what)) options.log.info({ event: 'gateway.expiry-alert-cleared', what }, `${what} renewed`);
    active = now;
  };
  const timer = setInterval(check, options.intervalMs ?? 1_000);
  timer.unref();
  return () => clearInterval(timer);
}
