import type { TLSSocket } from 'node:tls';
import { apiRequest } from '../client/api.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ControlLink } from './control-link.ts';
import { normalizeSerial } from '../pki/serial.ts';
import { SocketIndex } from './socket-index.ts';

/**
 * The serials this gateway refuses, and the open connections that use them.
 * A revocation pushed on the watch stream takes effect at once: new
 * handshakes and requests with that certificate are refused, and every
 * connection already open with it is closed, kept-alive ones included.
 * Entries leave the list when the certificate expires; expiry refuses it then.
 */
export class RevocationList {
  readonly #revoked = new Map<string, number>();
  readonly #open = new SocketIndex();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  static normalize(serial: string): string {
    return normalizeSerial(serial);
  }

  has(serial: string | undefined): boolean {
    return serial !== undefined && this.#revoked.has(RevocationList.normalize(serial));
  }

  get size(): number {
    return this.#revoked.size;
  }

  /** Remembers an open connection so a later revocation can close it. */
  track(socket: TLSSocket, serial: string): void {
    this.#open.add(RevocationList.normalize(serial), socket);
  }

  revoke(serial: string, notAfter?: string): number {
    const key = RevocationList.normalize(serial);
    this.#revoked.set(key, notAfter ? Date.parse(notAfter) : Number.POSITIVE_INFINITY);
    return this.#open.closeAll(key);
  }

  prune(now: number): void {
    for (const [serial, notAfter] of this.#revoked) if (notAfter <= now) this.#revoked.delete(serial);
  }

  /** Follows the control plane: the full list at start and after every reconnect, single revocations as they happen. */
  follow(link: ControlLink): () => void {
    const load = async () => {
      try {
        const { body } = await apiRequest<{ revoked: Array<{ serial: string; notAfter: string }> }>(link.connection(), 'GET', '/v1/revocations');
        for (const entry of body.revoked) this.revoke(entry.serial, entry.notAfter);
      } catch (error) {
        this.#log.warn({ event: 'gateway.revocations-refresh-failed', err: (error as Error).message }, 'could not load the revocation list; keeping the last one');
      }
    };
    link.on(['svid.revoked'], (event) => {
      const serial = String(event.data.serial ?? '');
      if (!serial) return;
      const closed = this.revoke(serial, typeof event.data.notAfter === 'string' ? event.data.notAfter : undefined);
      this.#log.info({ event: 'gateway.svid-revoked', serial, spiffeId: event.data.spiffeId, connectionsClosed: closed }, 'revocation applied');
    });
    link.onReconnect(() => void load());
    void load();
    const timer = setInterval(() => this.prune(Date.now()), 60_000);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/** The serial of a TLS peer's certificate, normalised; read once per connection (getPeerCertificate builds a new object every call). */
const peerSerials = new WeakMap<TLSSocket, string | undefined>();
export function peerSerial(socket: TLSSocket): string | undefined {
  if (peerSerials.has(socket)) return peerSerials.get(socket);
  const raw = socket.getPeerCertificate()?.serialNumber;
  const serial = raw ? RevocationList.normalize(raw) : undefined;
  peerSerials.set(socket, serial);
  return serial;
}
