import { apiRequest } from '../client/api.ts';
import type { ControlLink } from './control-link.ts';
import { toInterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { verifyPolicyBundle } from '../policy/bundle-verify.ts';
import { parseCertificatesPem } from '../pki/x509.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { IdentitySource } from './identity-source.ts';
import type { PolicyState } from './policy-state.ts';

/**
 * Keeps the gateway's policy in step with the control plane: fetches the
 * signed bundle at start, whenever the watch stream says policy changed, and
 * on a timer (so the expiry keeps moving forward while the control plane is
 * reachable); verifies every bundle before use; reports what it enforces.
 */
export interface PolicySyncOptions {
  readonly link: ControlLink;
  readonly identity: IdentitySource;
  readonly state: PolicyState;
  readonly clock: Clock;
  readonly log: Logger;
  readonly refreshMs: number;
  readonly reportMs: number;
}

const POLICY_EVENTS = new Set(['policy.activated', 'policy.rollout', 'bundle.changed']);

export async function startPolicySync(options: PolicySyncOptions): Promise<{ refresh(): Promise<void>; close(): void }> {
  const { state, log, link } = options;
  const connection = () => link.connection();

  let inFlight: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    inFlight ??= (async () => {
      try {
        const { body } = await apiRequest<{ jws: string }>(connection(), 'GET', '/v1/policy/bundle');
        const roots = parseCertificatesPem(options.identity.current.bundlePem);
        const current = state.bundle;
        const bundle = await verifyPolicyBundle(body.jws, roots, options.clock.now(), current ? { version: current.version, digest: current.digest } : undefined);
        const changed = current?.version !== bundle.version || current?.candidate?.version !== bundle.candidate?.version;
        state.loadBundle(bundle);
        if (changed) log.info({ event: 'gateway.policy-loaded', version: bundle.version, candidate: bundle.candidate?.version ?? null, stage: bundle.candidate?.stage ?? null, expiresAt: bundle.expiresAt }, 'policy bundle loaded');
      } catch (error) {
        const failure = toInterlockError(error);
        log.warn({ event: 'gateway.policy-refresh-failed', code: failure.code, policyState: state.health() }, failure.message);
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  const report = async () => {
    try {
      const d = state.describe();
      await apiRequest(connection(), 'POST', '/v1/policy/report', {
        enforcedVersion: d.enforcedVersion,
        candidateVersion: d.candidateVersion,
        candidateMode: d.candidateMode,
        state: d.state,
        expiresAt: d.expiresAt,
        evaluated: d.evaluated,
        disagreements: d.disagreements,
        allowToDeny: d.allowToDeny,
        denyToAllow: d.denyToAllow,
      });
    } catch {
      /* reports are best effort; the next one carries the totals */
    }
  };

  await refresh();
  void report();
  link.on([...POLICY_EVENTS], () => void refresh().then(report));
  // Reconnecting may mean we missed events while away: fetch the bundle again.
  link.onReconnect(() => void refresh());
  const refreshTimer = setInterval(() => void refresh(), options.refreshMs);
  const reportTimer = setInterval(() => void report(), options.reportMs);
  refreshTimer.unref();
  reportTimer.unref();
  return {
    refresh,
    close: () => {
      clearInterval(refreshTimer);
      clearInterval(reportTimer);
    },
  };
}
