/**
 * The TLS settings every Interlock listener and client uses, read from the
 * code that builds them (gateway/tls-identity.ts: tlsOptions and
 * mutualTlsServerOptions) and from the Node.js defaults they leave alone
 * (cipher suites and key-exchange groups). These are the settings of this
 * build of Interlock; running gateways are not asked, so a gateway on
 * another version could differ (the inventory says so).
 */
import tls from 'node:tls';
import { mutualTlsServerOptions, tlsOptions, type TlsIdentity } from '../gateway/tls-identity.ts';

export interface TlsSettings {
  readonly minVersion: string;
  readonly maxVersion: string;
  /** TLS 1.3 cipher suites offered (RFC 8446 §B.4 names). */
  readonly cipherSuites: readonly string[];
  /** Key-exchange groups (OpenSSL's list, or "auto"). */
  readonly groups: string;
  /** Whether listeners ask for a client certificate (mutual TLS). */
  readonly clientCertificateRequested: boolean;
  readonly source: string;
}

// Only the option shapes are read: no certificate or key is parsed.
const PLACEHOLDER: TlsIdentity = { certPem: '', keyPem: '', bundlePem: '', spiffeId: { id: 'spiffe://report.invalid/x', trustDomain: 'report.invalid', path: '/x' } };

export function interlockTlsSettings(): TlsSettings {
  const client = tlsOptions(PLACEHOLDER) as ReturnType<typeof tlsOptions> & { ciphers?: string; ecdhCurve?: string };
  const server = mutualTlsServerOptions(PLACEHOLDER);
  const ciphers = client.ciphers ?? tls.DEFAULT_CIPHERS;
  return {
    minVersion: client.minVersion,
    maxVersion: client.maxVersion,
    // TLS 1.3 suites are the TLS_* entries; the rest of the list only applies to TLS 1.2 and below, which are refused.
    cipherSuites: ciphers.split(':').filter((c) => c.startsWith('TLS_')),
    groups: client.ecdhCurve ?? tls.DEFAULT_ECDH_CURVE,
    clientCertificateRequested: server.requestCert,
    source: `gateway/tls-identity.ts (tlsOptions, mutualTlsServerOptions) with the defaults of Node.js ${process.version} (OpenSSL ${process.versions.openssl})`,
  };
}
