import type { TLSSocket } from 'node:tls';
import { InterlockError } from '../errors.ts';
import { checkNameConstraints, checkSvidLeaf } from '../pki/verify.ts';
import { x509 } from '../pki/x509.ts';
import { svidIdOf } from './certificate-facts.ts';
import type { SpiffeId } from '../identity/spiffe-id.ts';
import { readKeyMaterial } from '../util/files.ts';

const readPem = (p: string, f: string) => readKeyMaterial(p, f).toString('utf8');

/** The files that make up one SVID holder's TLS identity. */
export interface TlsIdentity {
  /** PEM chain: SVID, then its cluster intermediate. */
  readonly certPem: string;
  readonly keyPem: string;
  /** PEM trust bundle: the roots peers must chain to. */
  readonly bundlePem: string;
  readonly spiffeId: SpiffeId;
}

export function loadTlsIdentity(files: { cert: string; key: string; bundle: string }): TlsIdentity {
  const certPem = readPem(files.cert, 'identity.cert');
  const keyPem = readPem(files.key, 'identity.key');
  const bundlePem = readPem(files.bundle, 'identity.bundle');
  if (!bundlePem.includes('BEGIN CERTIFICATE')) {
    throw new InterlockError('IL_ERR_CERT_MALFORMED', `${files.bundle} holds no PEM certificate`, { field: 'identity.bundle' });
  }
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(certPem);
  } catch {
    throw new InterlockError('IL_ERR_CERT_MALFORMED', `${files.cert} holds no PEM certificate`, { field: 'identity.cert' });
  }
  return { certPem, keyPem, bundlePem, spiffeId: checkSvidLeaf(leaf) };
}

/**
 * TLS 1.3 only (RFC 8446), peers always verified against the bundle. These
 * options are shared by every listener and client Interlock builds.
 */
export function tlsOptions(identity: TlsIdentity) {
  return {
    cert: identity.certPem,
    key: identity.keyPem,
    ca: identity.bundlePem,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
  };
}

const peerIds = new WeakMap<TLSSocket, SpiffeId>();

/**
 * The SPIFFE ID of a verified TLS peer. OpenSSL has already verified the
 * chain, validity and name constraints during the handshake; this applies the
 * X509-SVID leaf rules on top and caches the result for the connection's life.
 */
export function peerSpiffeId(socket: TLSSocket): SpiffeId {
  const cached = peerIds.get(socket);
  if (cached) return cached;
  if (!socket.authorized) {
    throw new InterlockError('IL_ERR_CERT_UNTRUSTED', `peer certificate not verified: ${String(socket.authorizationError ?? 'none presented')}`, {
      field: 'peerCertificate',
    });
  }
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) throw new InterlockError('IL_ERR_SVID_INVALID', 'peer presented no certificate', { field: 'peerCertificate' });
  const id = svidIdOf(raw);
  peerIds.set(socket, id);
  return id;
}

/**
 * Client-side server check: SPIFFE peers are authenticated by their SPIFFE
 * ID, not a DNS name (X509-SVID §5.2), so the default hostname check is
 * replaced by an exact ID match.
 */
export function expectServerId(expectedId: string) {
  return (_host: string, cert: { raw?: Buffer }): Error | undefined => {
    try {
      if (!cert.raw) return new Error('server presented no certificate');
      const id = svidIdOf(cert.raw);
      return id.id === expectedId ? undefined : new Error(`server is ${id.id}, expected ${expectedId}`);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
}

/**
 * Server options for a listener that requires a verified client SVID.
 *
 * Node's own `rejectUnauthorized` drops a bad client silently: the reason
 * (unknown CA, name-constraint violation, expired) is lost, and the audit
 * record would only say ECONNRESET. So verification stays on (OpenSSL still
 * verifies the chain) but the decision to drop is taken here, first thing on
 * 'secureConnection', where the reason is known and can be recorded. The
 * request path checks `socket.authorized` again (peerSpiffeId), so a socket
 * that slipped past this guard could still not be served.
 */
export function mutualTlsServerOptions(identity: TlsIdentity) {
  return { ...tlsOptions(identity), requestCert: true, rejectUnauthorized: false };
}

export function guardMutualTls(
  server: import('node:tls').Server,
  onReject: (reason: string, socket: TLSSocket) => void,
  /** Further checks on a verified peer (e.g. revocation); a returned reason refuses it. */
  admit: (socket: TLSSocket) => string | undefined = () => undefined,
): void {
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const reason = socket.authorized ? admit(socket) : explainRejection(socket);
    if (reason === undefined) return;
    onReject(reason, socket);
    socket.destroy();
  });
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => onReject(error.code ?? error.message, socket));
}

/**
 * OpenSSL's reason for a refused client, made precise where Node reports
 * only UNSPECIFIED: Node has no name for X509_V_ERR_PERMITTED_VIOLATION, the
 * error a name-constraint breach raises, so that case is re-checked here.
 * Runs only for refused connections, never on the request path.
 */
function explainRejection(socket: TLSSocket): string {
  const reason = String(socket.authorizationError ?? 'NO_PEER_CERTIFICATE');
  if (reason !== 'UNSPECIFIED') return reason;
  try {
    const path: x509.X509Certificate[] = [];
    let current = socket.getPeerCertificate(true) as import('node:tls').DetailedPeerCertificate | undefined;
    while (current?.raw && path.length < 5) {
      path.push(new x509.X509Certificate(new Uint8Array(current.raw)));
      current = current.issuerCertificate === current ? undefined : current.issuerCertificate;
    }
    const leaf = path[0];
    if (leaf) checkNameConstraints(checkSvidLeaf(leaf), path);
  } catch (error) {
    if (error instanceof InterlockError) return `${error.code}: ${error.message}`;
  }
  return reason;
}
