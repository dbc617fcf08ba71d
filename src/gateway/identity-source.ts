import { InterlockError } from '../errors.ts';
import { parseWorkloadSpiffeId } from '../identity/spiffe-id.ts';
import { WorkloadIdentity, type SvidMaterial } from '../workload/identity.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { GatewayConfig } from './config.ts';
import { loadTlsIdentity, type TlsIdentity } from './tls-identity.ts';
import { readKeyMaterial } from '../util/files.ts';

const readSecretFile = (p: string, f: string) => readKeyMaterial(p, f).toString('utf8').trim();

/**
 * Where the gateway's own SVID comes from: files issued by `interlock svid
 * issue` (fixed for the process's life), or the control plane, through
 * attestation and renewal at half life by the workload SDK.
 */
export interface IdentitySource {
  readonly current: TlsIdentity;
  onRotate(listener: (identity: TlsIdentity) => void): void;
  /** Renews now (control-plane identities only); resolves with the new identity. */
  renewNow(): Promise<TlsIdentity>;
  /** Attests again for a fresh key and SVID (after revocation); Kubernetes attestation only. */
  reattest(): Promise<TlsIdentity>;
  /** Serial of the current SVID. */
  readonly serial: string | undefined;
  close(): void;
}

function toTlsIdentity(svid: SvidMaterial): TlsIdentity {
  return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: svid.bundlePem, spiffeId: parseWorkloadSpiffeId(svid.spiffeId) };
}

export async function openIdentitySource(config: GatewayConfig, log: Logger): Promise<IdentitySource> {
  const identity = config.identity;
  if ('cert' in identity) {
    const fixed = loadTlsIdentity(identity);
    return {
      current: fixed,
      onRotate: () => undefined,
      renewNow: () => Promise.reject(new InterlockError('IL_ERR_USAGE', 'this gateway uses certificate files; issue new ones with interlock svid issue', { field: 'identity' })),
      reattest: () => Promise.reject(new InterlockError('IL_ERR_USAGE', 'this gateway uses certificate files; issue new ones with interlock svid issue', { field: 'identity' })),
      serial: undefined,
      close: () => undefined,
    };
  }
  const workload = await WorkloadIdentity.attest({
    server: identity.server,
    bundlePem: readSecretFile(identity.bundle, 'identity.bundle'),
    ...(identity.serverId ? { serverId: identity.serverId } : {}),
    attestation: identity.joinTokenFile
      ? { kind: 'join-token', token: readSecretFile(identity.joinTokenFile, 'identity.joinTokenFile') }
      : { kind: 'k8s', cluster: config.cluster, token: () => readSecretFile(identity.k8sTokenFile!, 'identity.k8sTokenFile') },
  });
  let current = toTlsIdentity(workload.current);
  if (current.spiffeId.trustDomain !== config.trustDomain) {
    workload.close();
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `attested identity ${current.spiffeId.id} is not in trust domain ${config.trustDomain}`, { field: 'trustDomain' });
  }
  const listeners: Array<(identity: TlsIdentity) => void> = [];
  workload.on('rotated', (svid) => {
    current = toTlsIdentity(svid);
    log.info({ event: 'gateway.svid-rotated', serial: svid.serial, notAfter: svid.notAfter.toISOString() }, 'gateway SVID renewed');
    for (const listener of listeners) listener(current);
  });
  workload.on('renewal-failed', (error, { retryInMs }) => log.warn({ event: 'gateway.svid-renewal-failed', code: error.code, retryInMs }, error.message));
  return {
    get current() {
      return current;
    },
    onRotate: (listener) => listeners.push(listener),
    renewNow: async () => {
      await workload.renewNow();
      return current;
    },
    reattest: async () => {
      await workload.reattest();
      return current;
    },
    get serial() {
      return workload.current.serial;
    },
    close: () => workload.close(),
  };
}
