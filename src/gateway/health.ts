import tls from 'node:tls';
import { gatewaySpiffeId } from '../identity/spiffe-id.ts';
import { parseCertificatesPem } from '../pki/x509.ts';
import type { GatewayConfig } from './config.ts';
import { splitHostPort } from './config.ts';
import type { IdentitySource } from './identity-source.ts';
import type { PolicyState } from './policy-state.ts';
import type { TrustState } from './trust-state.ts';
import { expiryAlerts, type ExpiringItem } from './expiry-watch.ts';
import { expectServerId, tlsOptions } from './tls-identity.ts';

/**
 * The facts `interlock check` and the admin port report about a gateway:
 * its SVID and trust bundle lifetimes, its policy bundle, its clock, and on
 * request a real mTLS handshake to every peer gateway (verifying the peer's
 * SPIFFE ID, exactly as traffic would).
 */
export interface PeerProbe {
  readonly cluster: string;
  readonly address: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

function probePeer(cluster: string, address: string, trustDomain: string, identity: IdentitySource, rootsPem: string, timeoutMs: number): Promise<PeerProbe> {
  const started = performance.now();
  const { host, port } = splitHostPort(address);
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, ...tlsOptions({ ...identity.current, bundlePem: rootsPem }), checkServerIdentity: expectServerId(gatewaySpiffeId(trustDomain)) });
    const done = (error?: string) => {
      socket.destroy();
      resolve({ cluster, address, ok: !error, ms: Math.round((performance.now() - started) * 10) / 10, ...(error ? { error } : {}) });
    };
    socket.once('secureConnect', () => done());
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.setTimeout(timeoutMs, () => done('timeout'));
  });
}

/** What the gateway holds that expires: its SVID and intermediate, the roots, the policy bundle. */
export function expiringItems(identity: IdentitySource, policy: PolicyState, trust: TrustState): ExpiringItem[] {
  const [svid, intermediate] = parseCertificatesPem(identity.current.certPem);
  const items: ExpiringItem[] = [];
  if (svid) items.push({ what: 'gateway SVID', notBefore: svid.notBefore, notAfter: svid.notAfter });
  if (intermediate) items.push({ what: 'cluster intermediate CA', notBefore: intermediate.notBefore, notAfter: intermediate.notAfter });
  for (const root of parseCertificatesPem(trust.rootsPem)) items.push({ what: `root CA ${root.serialNumber}`, notBefore: root.notBefore, notAfter: root.notAfter });
  const bundle = policy.bundle;
  if (bundle) items.push({ what: `policy bundle v${bundle.version}`, notBefore: new Date(bundle.issuedAt), notAfter: new Date(bundle.expiresAt) });
  return items;
}

export async function gatewayHealth(options: { config: GatewayConfig; identity: IdentitySource; policy: PolicyState; trust: TrustState; probePeers: boolean }) {
  const [svid, intermediate] = parseCertificatesPem(options.identity.current.certPem);
  const roots = parseCertificatesPem(options.trust.rootsPem);
  const peers = options.probePeers
    ? await Promise.all(Object.entries(options.config.peers).map(([cluster, peer]) => probePeer(cluster, peer.address, peer.trustDomain, options.identity, options.trust.rootsPem, 3_000)))
    : undefined;
  return {
    cluster: options.config.cluster,
    // Read after the probes, so a slow peer does not look like clock skew.
    time: new Date().toISOString(),
    identity: {
      spiffeId: options.identity.current.spiffeId.id,
      serial: svid?.serialNumber ?? null,
      /** Serial of the cluster CA that signed it: changes after a CA rotation. */
      issuerSerial: intermediate?.serialNumber ?? null,
      notBefore: svid?.notBefore.toISOString() ?? null,
      notAfter: svid?.notAfter.toISOString() ?? null,
    },
    trustBundle: { roots: roots.length, earliestExpiry: roots.length ? new Date(Math.min(...roots.map((r) => r.notAfter.getTime()))).toISOString() : null },
    trust: options.trust.describe(),
    /** Anything with less than a third of its life left: renewal has been failing (gateway/expiry-watch.ts). */
    alerts: expiryAlerts(expiringItems(options.identity, options.policy, options.trust), new Date()),
    policy: options.policy.describe(),
    ...(peers ? { peers } : {}),
  };
}
