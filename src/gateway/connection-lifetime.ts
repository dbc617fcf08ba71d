import type http from 'node:http';
import type https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';

/**
 * A TLS connection is authenticated once, by the certificates of its
 * handshake; a kept-alive connection would go on serving after they expire.
 * Two rules keep expiry meaning what it says without failing requests:
 *
 * - the gateway's own pooled connections (to peer gateways and services)
 *   are retired before the earlier of the two certificates expires: an idle
 *   one is closed, a busy one when its request ends, so the next request
 *   opens a connection with current certificates and none is cut mid-way;
 * - a listener refuses a request on a connection whose client certificate
 *   has expired (IL_ERR_CERT_EXPIRED) and closes it: what an honest client
 *   never meets, since it renews and reconnects first (the SDK does).
 *
 * Planned CA withdrawal only comes after every certificate of the old CA has
 * expired, so it finds these connections already retired.
 */

/** Pooled connections are retired this long before expiry, for clock skew between the two ends. */
const RETIRE_MARGIN_MS = 5_000;
/** setTimeout's limit (about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function notAfterMs(cert: { valid_to?: string } | null | undefined): number {
  const parsed = cert?.valid_to ? Date.parse(cert.valid_to) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : Number.POSITIVE_INFINITY;
}

const peerNotAfter = new WeakMap<TLSSocket, number>();
/** When the peer's certificate on this connection expires (ms since the epoch); read once per connection. */
export function peerCertificateNotAfter(socket: TLSSocket): number {
  let at = peerNotAfter.get(socket);
  if (at === undefined) {
    at = notAfterMs(socket.getPeerCertificate());
    peerNotAfter.set(socket, at);
  }
  return at;
}

/** Refuses a request on a connection whose client certificate has expired (the caller closes the connection). */
export function checkPeerCertificateCurrent(socket: TLSSocket, clock: Clock): void {
  const at = peerCertificateNotAfter(socket);
  if (clock.now().getTime() >= at) {
    throw new InterlockError('IL_ERR_CERT_EXPIRED', `the client certificate of this connection expired at ${new Date(at).toISOString()}; renew it and connect again`, { field: 'peerCertificate' });
  }
}

function isIdle(agent: https.Agent, socket: TLSSocket): boolean {
  return Object.values(agent.freeSockets).some((list) => list?.includes(socket as never));
}

const retiring = new WeakSet<TLSSocket>();

/** Makes `agent` close each pooled connection before either certificate on it expires, never under a request. */
export function retireBeforeExpiry(agent: https.Agent): (socket: TLSSocket) => void {
  // Before the agent's own handler, which would pool the socket or hand it to a waiting request: a
  // destroyed socket is no longer writable, so the agent drops it and opens a new one for any waiting request.
  agent.prependListener('free', (socket: TLSSocket) => {
    if (retiring.has(socket)) socket.destroy();
  });
  return (socket) => {
    const expires = Math.min(peerCertificateNotAfter(socket), notAfterMs(socket.getCertificate() as { valid_to?: string } | null));
    if (!Number.isFinite(expires)) return;
    let timer: NodeJS.Timeout;
    const arm = () => {
      const wait = expires - RETIRE_MARGIN_MS - Date.now();
      timer = setTimeout(
        () => {
          if (wait > MAX_TIMER_MS) return arm();
          retiring.add(socket);
          if (isIdle(agent, socket)) socket.destroy();
        },
        Math.max(0, Math.min(wait, MAX_TIMER_MS)),
      );
      timer.unref();
    };
    arm();
    socket.once('close', () => clearTimeout(timer));
  };
}

/**
 * Retires a whole pool (after an SVID rotation, new requests use a new one):
 * idle connections close now, busy ones as soon as their request ends, so a
 * long stream in flight is not cut the way agent.destroy() would cut it.
 */
export function retireAgent(agent: http.Agent): void {
  agent.prependListener('free', (socket: Socket) => socket.destroy());
  for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) socket.destroy();
}

/** Closes the connection a request came on: for HTTP/2 the whole session (`req.socket` is only a proxy that resets the stream). */
export function closeConnectionOf(req: http.IncomingMessage): void {
  const session = (req as unknown as { stream?: { session?: { destroy(): void } } }).stream?.session;
  if (session) session.destroy();
  else req.socket.destroy();
}

