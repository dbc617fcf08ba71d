/**
 * The second way to see a revocation arrive: a connection opened with the
 * SVID before it is revoked and left open (HTTP keep-alive after one
 * request). A gateway that applies a revocation closes every open
 * connection of that certificate in the same step that adds it to its list
 * (src/gateway/revocations.ts), so the moment this socket closes is when
 * that gateway applied the revocation — with no polling in between.
 */
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';

export interface HeldConnection {
  /** performance.now() at which the gateway closed it. */
  readonly closed: Promise<number>;
  readonly openedAt: number;
  destroy(): void;
}

/** Resolves once the gateway has admitted the connection and answered one request on it. */
export function holdConnection(gateway: { host: string; port: number }, creds: { certPem: string; keyPem: string; bundlePem: string }): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...gateway,
      cert: creds.certPem,
      key: creds.keyPem,
      ca: creds.bundlePem,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined, // the gateway's identity is not what this measures
    });
    const closed = new Promise<number>((resolveClosed) => socket.once('close', () => resolveClosed(performance.now())));
    let answered = false;
    socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: probe.invalid\r\n\r\n'));
    socket.once('data', () => {
      answered = true;
      resolve({ closed, openedAt: performance.now(), destroy: () => socket.destroy() });
    });
    socket.on('error', () => undefined); // a reset is how the gateway cuts it; `closed` reports it
    void closed.then(() => {
      if (!answered) reject(new Error(`gateway ${gateway.host}:${gateway.port} refused the connection before revocation`));
    });
  });
}
