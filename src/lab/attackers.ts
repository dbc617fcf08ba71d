import tls from 'node:tls';
import { systemClock } from '../clock.ts';
import { createClusterCa, createRootCa, signLeafCertificate, issueX509Svid, type ClusterCa } from '../pki/certificates.ts';
import { certificatesToPem, exportPrivateKeyPem, generateKeyPair } from '../pki/x509.ts';

/** PEM material of a would-be intruder. */
export interface Credentials {
  readonly certPem: string;
  readonly keyPem: string;
}

/** An SVID from a CA that no one federated with: a stranger's credentials. */
export async function foreignCredentials(): Promise<Credentials> {
  const root = await createRootCa({ organization: 'Stranger', clock: systemClock });
  const ca = await createClusterCa(root, { cluster: 'evil', trustDomain: 'evil.example', organization: 'Stranger', clock: systemClock });
  const keys = await generateKeyPair();
  const cert = await issueX509Svid(ca, { spiffeId: 'spiffe://evil.example/ns/interlock-system/sa/interlock-gateway', publicKey: keys.publicKey, clock: systemClock });
  return { certPem: certificatesToPem([cert, ca.cert]), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/**
 * What a compromised cluster CA could mint: an identity in another trust
 * domain. Signed with no policy checks; only the name constraint stops it.
 */
export async function forgedCrossDomainCredentials(compromised: ClusterCa, spiffeId: string): Promise<Credentials> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await signLeafCertificate(compromised, { uri: spiffeId, publicKey: keys.publicKey, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
  return { certPem: certificatesToPem([cert, compromised.cert]), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

export interface HandshakeOutcome {
  readonly connected: boolean;
  /** OpenSSL's or Node's reason when the handshake failed. */
  readonly reason?: string;
}

/**
 * Tries a TLS handshake and a one-byte round trip. With TLS 1.3 the server
 * checks the client certificate after the client thinks it is done, so a
 * rejection shows up as an alert on the first read, not in connect().
 */
export function tryHandshake(options: {
  host: string;
  port: number;
  credentials?: Credentials;
  bundlePem: string;
  maxVersion?: tls.SecureVersion;
}): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      ...(options.credentials ? { cert: options.credentials.certPem, key: options.credentials.keyPem } : {}),
      ca: options.bundlePem,
      minVersion: 'TLSv1.2',
      maxVersion: options.maxVersion ?? 'TLSv1.3',
      // The server's identity is not what this probe tests.
      checkServerIdentity: () => undefined,
    });
    let settled = false;
    const done = (outcome: HandshakeOutcome) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(outcome);
    };
    socket.once('secureConnect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: probe.invalid\r\n\r\n');
    });
    socket.once('data', () => done({ connected: true }));
    socket.once('error', (error: NodeJS.ErrnoException) => done({ connected: false, reason: error.code ?? error.message }));
    socket.once('close', () => done({ connected: false, reason: 'connection closed by server' }));
    socket.setTimeout(5_000, () => done({ connected: false, reason: 'timeout' }));
  });
}
