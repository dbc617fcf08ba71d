import type { TLSSocket } from 'node:tls';

/**
 * Open connections grouped by a key (a certificate serial, the key id of
 * the CA that signed the peer), so that revoking a certificate or
 * withdrawing a CA can close every connection that depends on it. Sockets
 * leave the index when they close.
 */
export class SocketIndex {
  readonly #open = new Map<string, Set<TLSSocket>>();

  add(key: string, socket: TLSSocket): void {
    let sockets = this.#open.get(key);
    if (!sockets) this.#open.set(key, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => {
      sockets!.delete(socket);
      if (sockets!.size === 0 && this.#open.get(key) === sockets) this.#open.delete(key);
    });
  }

  /** Destroys every connection under `key`; returns how many. */
  closeAll(key: string): number {
    const sockets = [...(this.#open.get(key) ?? [])];
    for (const socket of sockets) socket.destroy();
    return sockets.length;
  }
}
