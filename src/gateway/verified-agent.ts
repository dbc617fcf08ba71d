import https from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { InterlockError } from '../errors.ts';
import { expectServerId, tlsOptions, type TlsIdentity } from './tls-identity.ts';
import { peerSerial, type RevocationList } from './revocations.ts';
import { peerAuthorityKeyId, type TrustState } from './trust-state.ts';
import { authorityKeyIdOf } from './certificate-facts.ts';
import { retireBeforeExpiry } from './connection-lifetime.ts';

/**
 * A keep-alive pool for the gateway's own outgoing mTLS connections (to a
 * peer gateway, or to a local service): the server must be `expectedId`,
 * its SVID not revoked and its CA still trusted, and every pooled
 * connection is known to the revocation list and the trust state, so a
 * later revocation or CA withdrawal closes it, not only new handshakes.
 */
class TrackedAgent extends https.Agent {
  readonly #onSecure: (socket: TLSSocket) => void;

  constructor(options: https.AgentOptions, onSecure: (socket: TLSSocket) => void) {
    super(options);
    this.#onSecure = onSecure;
  }

  override createConnection(...args: Parameters<https.Agent['createConnection']>): ReturnType<https.Agent['createConnection']> {
    const socket = super.createConnection(...args) as unknown as TLSSocket;
    socket.once('secureConnect', () => this.#onSecure(socket));
    return socket as unknown as ReturnType<https.Agent['createConnection']>;
  }
}

/** The server check for the gateway's own outgoing connections: the expected SPIFFE ID, not revoked, from a CA still trusted. */
export function serverCheck(expectedId: string, revocations: RevocationList, trust: TrustState, what: string) {
  const expectId = expectServerId(expectedId);
  return (hostname: string, cert: PeerCertificate): Error | undefined => {
    const wrongId = expectId(hostname, cert);
    if (wrongId) return wrongId;
    if (revocations.has(cert.serialNumber)) return new InterlockError('IL_ERR_SVID_REVOKED', `${what} presented revoked certificate ${cert.serialNumber}`);
    const refusal = trust.refusal(authorityKeyIdOf(cert.raw));
    return refusal ? new InterlockError('IL_ERR_CERT_UNTRUSTED', `${what}: ${refusal}`) : undefined;
  };
}

/** Makes an open outgoing connection known to the revocation list and trust state, so either can close it later. */
export function trackServer(socket: TLSSocket, revocations: RevocationList, trust: TrustState): void {
  const serial = peerSerial(socket);
  const signer = peerAuthorityKeyId(socket);
  if (serial) revocations.track(socket, serial);
  if (signer) trust.track(socket, signer);
}

/**
 * With an agent timeout set, Node's agent also honours the server's
 * `Keep-Alive: timeout=N` hint and closes an idle pooled connection a second
 * before the server would, so a request never goes out on a connection the
 * server is closing; without one it ignores the hint.
 */
const IDLE_CEILING_MS = 60_000;

export function verifiedAgent(options: { identity: TlsIdentity; expectedId: string; revocations: RevocationList; trust: TrustState; what: string }): https.Agent {
  const { revocations, trust, what } = options;
  const checkServerIdentity = serverCheck(options.expectedId, revocations, trust, what);
  let retire: (socket: TLSSocket) => void = () => undefined;
  // No client-side session resumption: Node runs checkServerIdentity only on a full handshake, and a
  // resumed TLS 1.3 session shows no peer certificate at all, so a peer revoked, expired or signed by a
  // withdrawn CA since could be resumed unchecked and untracked. Pooled keep-alive connections make
  // new handshakes rare; the listeners still resume sessions for their own clients.
  const agent = new TrackedAgent({ keepAlive: true, timeout: IDLE_CEILING_MS, maxCachedSessions: 0, ...tlsOptions(options.identity), checkServerIdentity: checkServerIdentity as https.AgentOptions['checkServerIdentity'] }, (socket) => {
    trackServer(socket, revocations, trust);
    retire(socket);
  });
  retire = retireBeforeExpiry(agent);
  return agent;
}
