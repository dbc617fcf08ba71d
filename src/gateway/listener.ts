import https from 'node:https';
import http2 from 'node:http2';
import type tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/chain-file.ts';
import type { GatewayConfig } from './config.ts';
import { guardMutualTls, mutualTlsServerOptions, type TlsIdentity } from './tls-identity.ts';
import { peerSerial, type RevocationList } from './revocations.ts';
import { peerAuthorityKeyId, type TrustState } from './trust-state.ts';
import type { Signal, SignalReporter } from './signals.ts';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.ts';

/** OpenSSL's verdicts for a chain that does not lead to our roots, and ours for a CA missing from the trust bundle. */
const UNKNOWN_CA = new Set(['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_SIGNATURE_FAILURE']);

function isUnknownCa(reason: string): boolean {
  return UNKNOWN_CA.has(reason) || reason.startsWith('IL_ERR_CERT_UNTRUSTED');
}

function unknownCaSignal(reason: string, socket: TLSSocket, listener: string): Signal {
  const cert = socket.getPeerCertificate();
  const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(cert?.subjectaltname ?? '')?.[1] ?? null;
  const name = (n: unknown) => (n && typeof n === 'object' ? Object.entries(n).map(([k, v]) => `${k}=${String(v)}`).join(',') : '');
  return { kind: 'unknown-ca', reason, subject: name(cert?.subject), issuer: name(cert?.issuer), spiffeId: uri, fingerprint: cert?.fingerprint256 ?? 'none', listener };
}

export interface AdmissionOptions {
  /** The listener's name in audit records and metrics. */
  name: string;
  limits: GatewayConfig['limits'];
  audit: AuditLog;
  revocations: RevocationList;
  trust: TrustState;
  signals: SignalReporter;
  metrics: GatewayMetrics;
}

/**
 * Who may connect to any of the gateway's TLS listeners: a verified client
 * SVID that is not revoked, signed by a CA still trusted, from a peer under
 * its connection limit. Every refusal is audited with its reason, counted,
 * and reported when the CA is unknown; admitted connections are tracked so
 * a later revocation or CA withdrawal closes them.
 */
export function installAdmission(server: tls.Server, options: AdmissionOptions): void {
  const perPeer = new PeerConnections(options.limits.maxConnectionsPerPeer);
  guardMutualTls(
    server,
    (reason, socket) => {
      options.metrics.handshakeFailure(options.name, reason);
      if (isUnknownCa(reason)) options.signals.report(unknownCaSignal(reason, socket, options.name));
      options.audit.append({
        type: 'connection.rejected',
        actor: 'unauthenticated',
        data: { listener: options.name, remoteAddress: socket.remoteAddress ?? '', reason },
      });
    },
    (socket) => {
      const serial = peerSerial(socket);
      if (!serial) return 'NO_PEER_CERTIFICATE';
      if (options.revocations.has(serial)) return `IL_ERR_SVID_REVOKED: serial ${serial}`;
      const signer = peerAuthorityKeyId(socket);
      const refusal = options.trust.refusal(signer);
      if (refusal) return refusal;
      const peer = socket.getPeerCertificate()?.subjectaltname ?? serial;
      if (!perPeer.admit(peer, socket)) return `IL_ERR_PEER_CONNECTION_LIMIT: ${options.limits.maxConnectionsPerPeer} connections already open from this peer`;
      options.revocations.track(socket, serial);
      if (signer) options.trust.track(socket, signer);
      options.metrics.connection(options.name);
      return undefined;
    },
  );
}

/**
 * One of the gateway's two HTTP listeners: TLS 1.3, a verified client SVID
 * required (installAdmission), keep-alive and request deadlines from the config.
 */
export function createMutualTlsListener(options: AdmissionOptions & {
  name: 'inbound' | 'outbound';
  identity: TlsIdentity;
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Also speak HTTP/2 (ALPN h2, with http/1.1 for older clients). */
  http2?: boolean;
}): https.Server {
  if (options.http2) {
    // One TLS connection carries many concurrent requests from a workload; HTTP/1.1 clients still work (allowHTTP1).
    const server = http2.createSecureServer(
      {
        ...mutualTlsServerOptions(options.identity),
        allowHTTP1: true,
        maxSessionMemory: 64,
        settings: { maxHeaderListSize: options.limits.maxHeaderBytes },
        maxSendHeaderBlockLength: options.limits.maxHeaderBytes,
      },
      (req, res) => void options.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse),
    );
    server.setTimeout(options.limits.requestTimeoutMs);
    // HTTP/1.1 connections get the http.Server's keep-alive handling: idle ones close after this, and
    // answers carry `Keep-Alive: timeout=…`, so clients retire idle connections first instead of
    // reusing one the gateway is closing (the ECONNRESET race). Node's HTTP/2 server sets neither.
    (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = options.limits.keepAliveTimeoutMs;
    installAdmission(server, options);
    enforceHttp1Deadlines(server, options.limits);
    return server as unknown as https.Server;
  }
  const server = https.createServer(
    {
      ...mutualTlsServerOptions(options.identity),
      keepAliveTimeout: options.limits.keepAliveTimeoutMs,
      requestTimeout: options.limits.requestTimeoutMs,
      headersTimeout: Math.min(options.limits.headersTimeoutMs, options.limits.requestTimeoutMs),
      // Node answers 431 itself when the request line and headers exceed this.
      maxHeaderSize: options.limits.maxHeaderBytes,
    },
    (req, res) => void options.handle(req, res),
  );
  installAdmission(server, options);
  return server;
}

/**
 * Node 20's HTTP/2 server hands HTTP/1.1 connections (allowHTTP1) to the
 * HTTP/1 parser without the headers deadline an http.Server enforces, and
 * its idle timeout is reset by every byte: a client sending one header line
 * every few hundred milliseconds would keep its connection, and a socket,
 * forever (slowloris). So: the request headers must be complete within
 * `headersTimeoutMs` of the connection (or of the last answer plus
 * `keepAliveTimeoutMs` on a kept-alive one), or the connection is closed.
 */
export function enforceHttp1Deadlines(server: http2.Http2SecureServer, limits: GatewayConfig['limits']): void {
  const deadlines = new WeakMap<TLSSocket, { timer?: NodeJS.Timeout; inFlight: number }>();
  const arm = (socket: TLSSocket, ms: number) => {
    const state = deadlines.get(socket);
    if (!state) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => socket.destroy(), ms);
    state.timer.unref();
  };
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2' || socket.destroyed) return;
    deadlines.set(socket, { inFlight: 0 });
    arm(socket, limits.headersTimeoutMs);
    socket.once('close', () => clearTimeout(deadlines.get(socket)?.timer));
  });
  server.on('request', (req: http2.Http2ServerRequest | IncomingMessage, res: http2.Http2ServerResponse | ServerResponse) => {
    if (req.httpVersionMajor >= 2) return;
    const socket = req.socket as TLSSocket;
    const state = deadlines.get(socket);
    if (!state) return;
    // The headers are in; the body and the answer have their own deadlines (requestTimeoutMs upstream).
    state.inFlight++;
    clearTimeout(state.timer);
    res.once('close', () => {
      if (--state.inFlight === 0) arm(socket, limits.keepAliveTimeoutMs + limits.headersTimeoutMs);
    });
  });
}

/** Open connections per peer (by the identity in its certificate), so one peer cannot take every socket. */
class PeerConnections {
  readonly #open = new Map<string, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  admit(peer: string, socket: TLSSocket): boolean {
    const count = this.#open.get(peer) ?? 0;
    if (count >= this.#max) return false;
    this.#open.set(peer, count + 1);
    socket.once('close', () => {
      const left = (this.#open.get(peer) ?? 1) - 1;
      if (left <= 0) this.#open.delete(peer);
      else this.#open.set(peer, left);
    });
    return true;
  }
}
