/**
 * Two ways to see a revocation reach a gateway, both with the revoked SVID
 * against the gateway's outbound listener, both stopping at the TLS
 * admission step:
 *
 *   admissionProbe   a new TLS handshake, then one line that is not HTTP.
 *                    An admitted connection gets Node's "400 Bad Request"
 *                    from the HTTP parser; once the gateway has the
 *                    revocation it destroys the connection right after the
 *                    handshake (src/gateway/listener.ts), so no byte comes.
 *   holdConnection   a connection opened before the revocation and left
 *                    open. A gateway closes every open connection of a
 *                    certificate in the same step that adds it to its list
 *                    (src/gateway/revocations.ts): the close is the moment
 *                    it applied the revocation, with no polling.
 *
 * Neither sends a valid HTTP request, on purpose: src/lab/attackers.ts's
 * tryHandshake sends a GET, which reaches the outbound handler, and a
 * workload SVID of another cluster there is reported to the control
 * plane's svid-in-two-clusters detector, which opens a compromise incident
 * and revokes the identity itself. The benchmark would then time the
 * detector, and lose the next rounds' SVIDs of that identity.
 */
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';

export interface Gateway {
  readonly host: string;
  readonly port: number;
}

export interface ProbeCredentials {
  readonly certPem: string;
  readonly keyPem: string;
  readonly bundlePem: string;
}

function connect(gateway: Gateway, creds: ProbeCredentials): tls.TLSSocket {
  return tls.connect({
    ...gateway,
    cert: creds.certPem,
    key: creds.keyPem,
    ca: creds.bundlePem,
    minVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined, // the gateway's identity is not what this measures
  });
}

/** True if the gateway admitted the handshake (it answered), false if it cut the connection. */
export function admissionProbe(gateway: Gateway, creds: ProbeCredentials, timeoutMs = 10_000): Promise<{ admitted: boolean; reason: string }> {
  return new Promise((resolve) => {
    const socket = connect(gateway, creds);
    let settled = false;
    const done = (admitted: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ admitted, reason });
    };
    socket.once('secureConnect', () => socket.write('PROBE\r\n\r\n'));
    socket.once('data', () => done(true, 'answered'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(false, error.code ?? error.message));
    socket.once('close', () => done(false, 'connection closed by server'));
    socket.setTimeout(timeoutMs, () => done(false, 'timeout'));
  });
}

export interface HeldConnection {
  /** performance.now() at which the connection closed. */
  readonly closed: Promise<number>;
  isOpen(): boolean;
  destroy(): void;
}

/** Resolves once the handshake is done; whether the gateway admitted it shows by it staying open. */
export function holdConnection(gateway: Gateway, creds: ProbeCredentials): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(gateway, creds);
    let open = true;
    const closed = new Promise<number>((resolveClosed) =>
      socket.once('close', () => {
        open = false;
        resolveClosed(performance.now());
      }),
    );
    socket.on('error', () => undefined); // a reset is how the gateway cuts it; `closed` reports it
    socket.once('secureConnect', () => resolve({ closed, isOpen: () => open, destroy: () => socket.destroy() }));
    void closed.then(() => reject(new Error(`gateway ${gateway.host}:${gateway.port} closed the connection during the handshake`)));
  });
}
