import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { ERRORS, InterlockError, toInterlockError, type ErrorCode } from '../errors.ts';
import { gatewaySpiffeId, isGatewayId } from '../identity/spiffe-id.ts';
import { splitHostPort } from '../config/host-port.ts';
import { bindIdentityAssertion, checkIdentityAssertion, openIdentityAssertion } from './identity-assertion.ts';
import { parseTarget } from './routing.ts';
import { peerSpiffeId, mutualTlsServerOptions, tlsOptions, type TlsIdentity } from './tls-identity.ts';
import { installAdmission } from './listener.ts';
import { peerSerial } from './revocations.ts';
import { ReplayGuard } from './replay-guard.ts';
import { serverCheck, trackServer } from './verified-agent.ts';
import type { OutboundDeps } from './outbound.ts';
import type { InboundDeps } from './inbound.ts';

/**
 * L4 mode for opaque TCP services (databases, gRPC without inspection):
 * policy per connection instead of per request.
 *
 *   workload ──mTLS, SNI <service>.<cluster>.interlock──▶ outbound tcpListen
 *   outbound ──mTLS──▶ peer inbound tcpListen: one line, the signed identity
 *                      assertion (method CONNECT, target the SNI name)
 *   inbound: assertion checked (peer key, age, replay), Cedar decides for
 *            action "call" with method CONNECT; answers "OK" or "DENY <code>"
 *            on one line, then bytes flow both ways untouched.
 *
 * Each side records the connection in its audit chain with the decision,
 * bytes each way and duration.
 */
const PREAMBLE_MAX = 16 * 1024;
const PREAMBLE_TIMEOUT_MS = 5_000;

/** Reads one newline-terminated line (bounded); what follows it is pushed back into the socket. */
function readLine(socket: TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new InterlockError('IL_ERR_UPSTREAM_TIMEOUT', 'no preamble line in time', { field: 'preamble' })), PREAMBLE_TIMEOUT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('end', onEnd);
    };
    const fail = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onEnd = () => fail(new InterlockError('IL_ERR_PEER_UNAVAILABLE', 'the connection closed before its preamble', { field: 'preamble' }));
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline === -1) {
        if (buffered.length > PREAMBLE_MAX) fail(new InterlockError('IL_ERR_REQUEST_INVALID', 'preamble line too long', { field: 'preamble' }));
        return;
      }
      cleanup();
      socket.pause();
      const rest = buffered.subarray(newline + 1);
      if (rest.length) socket.unshift(rest);
      resolve(buffered.subarray(0, newline).toString('utf8'));
    };
    socket.on('data', onData);
    socket.once('error', fail);
    socket.once('end', onEnd);
  });
}

/** Pipes two sockets both ways; resolves with the bytes each way once both are closed. */
function splice(a: net.Socket, b: net.Socket): Promise<{ sent: number; received: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    a.on('data', (c: Buffer) => (sent += c.length));
    b.on('data', (c: Buffer) => (received += c.length));
    a.pipe(b);
    b.pipe(a);
    let closed = 0;
    const done = () => {
      if (++closed === 2) resolve({ sent, received });
    };
    for (const s of [a, b]) {
      s.once('close', done);
      s.once('error', () => s.destroy());
    }
    a.once('close', () => b.destroy());
    b.once('close', () => a.destroy());
    a.resume();
    b.resume();
  });
}

export interface TcpListener {
  readonly server: tls.Server;
  rotate(identity: TlsIdentity): void;
  /** Stops accepting and cuts every open tunnel. */
  close(): Promise<void>;
}

/** Tunnels stay open as long as their ends want; closing the gateway cuts them. */
function trackTunnels(server: tls.Server): () => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      for (const socket of open) socket.destroy();
    });
}

export function createTcpOutbound(deps: OutboundDeps): TcpListener {
  const { config, audit, clock } = deps;
  let identity = deps.identity;
  const server = tls.createServer({ ...mutualTlsServerOptions(identity) });
  installAdmission(server, { ...deps, name: 'outbound-tcp', limits: config.limits });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.destroyed) return; // refused by admission
    void (async () => {
      const started = performance.now();
      let caller = 'unauthenticated';
      let targetName = String(socket.servername ?? '');
      let outcome = 'deny';
      let code: string | undefined;
      let bytes = { sent: 0, received: 0 };
      try {
        const id = peerSpiffeId(socket);
        caller = id.id;
        if (id.trustDomain !== config.trustDomain || isGatewayId(id)) throw new InterlockError('IL_ERR_AUTHN_NOT_LOCAL', `${id.id} is not a workload of ${config.trustDomain}`, { field: 'peerCertificate' });
        const target = parseTarget(socket.servername || undefined);
        targetName = target.authority;
        const peer = config.peers[target.cluster];
        if (!peer?.tcpAddress) throw new InterlockError('IL_ERR_ROUTE_UNKNOWN_CLUSTER', `no L4 route to cluster ${target.cluster}`, { field: 'servername' });
        if (deps.trust.isIsolated(target.cluster)) throw new InterlockError('IL_ERR_PEER_ISOLATED', `cluster ${target.cluster} is isolated after a compromise`, { field: 'servername' });
        const serial = peerSerial(socket);
        const { host, port } = splitHostPort(peer.tcpAddress);
        const upstream = tls.connect({ host, port, ...tlsOptions(identity), checkServerIdentity: serverCheck(gatewaySpiffeId(peer.trustDomain), deps.revocations, deps.trust, `the gateway of ${target.cluster}`) as tls.ConnectionOptions['checkServerIdentity'] });
        await new Promise<void>((resolve, reject) => {
          upstream.once('secureConnect', resolve);
          upstream.once('error', (error) => reject(new InterlockError('IL_ERR_PEER_UNAVAILABLE', `${peer.tcpAddress} unreachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`, { field: 'servername' })));
        });
        trackServer(upstream, deps.revocations, deps.trust);
        const assertion = bindIdentityAssertion(upstream, { issuer: identity.spiffeId.id, subject: id.id, audience: target.cluster, method: 'CONNECT', target: target.authority, ...(serial ? { serial } : {}) }, clock, Math.floor(config.limits.assertionMaxAgeMs / 1000));
        upstream.write(`${assertion}\n`);
        const answer = await readLine(upstream);
        if (answer !== 'OK') {
          upstream.destroy();
          const denied = answer.split(' ')[1] ?? '';
          const deniedCode = (denied in ERRORS ? denied : 'IL_ERR_POLICY_DENIED') as ErrorCode;
          throw new InterlockError(deniedCode, `the gateway of ${target.cluster} refused the connection: ${answer.slice(0, 200)}`, { field: 'servername' });
        }
        outcome = 'allow';
        bytes = await splice(socket, upstream);
      } catch (error) {
        code = toInterlockError(error).code;
        socket.destroy();
      } finally {
        audit.append({ type: 'connection.outbound', actor: caller, data: { protocol: 'tcp', target: targetName, outcome, ...(code ? { code } : {}), bytesSent: bytes.sent, bytesReceived: bytes.received, durationMs: Math.round(performance.now() - started) } });
      }
    })();
  });
  const close = trackTunnels(server);
  return {
    server,
    rotate: (next) => {
      identity = next;
      server.setSecureContext(tlsOptions(next));
    },
    close,
  };
}

export function createTcpInbound(deps: InboundDeps): TcpListener {
  const { config, audit, clock, policy } = deps;
  const clustersByDomain = new Map(Object.entries(config.peers).map(([cluster, peer]) => [peer.trustDomain, cluster]));
  const replays = new ReplayGuard(config.limits.replayGuardCapacity);
  const server = tls.createServer({ ...mutualTlsServerOptions(deps.identity) });
  installAdmission(server, { ...deps, name: 'inbound-tcp', limits: config.limits });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.destroyed) return;
    void (async () => {
      const started = performance.now();
      const record: Record<string, unknown> = { protocol: 'tcp', method: 'CONNECT' };
      let decision = 'deny';
      let code: string | undefined;
      let bytes = { sent: 0, received: 0 };
      try {
        const peer = peerSpiffeId(socket);
        const sourceCluster = clustersByDomain.get(peer.trustDomain);
        if (!isGatewayId(peer) || sourceCluster === undefined) throw new InterlockError('IL_ERR_AUTHN_NOT_A_GATEWAY', `${peer.id} is not the gateway of a peer cluster`, { field: 'peerCertificate' });
        Object.assign(record, { peer: peer.id, sourceCluster });
        const token = await readLine(socket);
        // The target is in the assertion: open it (its MAC binds it to this connection), then check it against that target.
        const claims = openIdentityAssertion(token, socket);
        const target = parseTarget(claims.htu);
        if (target.cluster !== config.cluster) throw new InterlockError('IL_ERR_ROUTE_UNKNOWN_CLUSTER', `this is the gateway of ${config.cluster}, not ${target.cluster}`, { field: 'preamble' });
        const { subject: principal, jti, expiresAtMs, serial } = checkIdentityAssertion(claims, {
          peer,
          ownCluster: config.cluster,
          method: 'CONNECT',
          target: target.authority,
          maxAgeMs: config.limits.assertionMaxAgeMs,
          clock,
        });
        replays.check(`${peer.id}#${jti}`, expiresAtMs, clock.now().getTime());
        if (deps.revocations.has(serial)) throw new InterlockError('IL_ERR_SVID_REVOKED', `certificate ${serial} of ${principal.id} is revoked`, { field: 'preamble' });
        const service = config.services[target.service];
        if (!service?.upstream.startsWith('tcp:')) throw new InterlockError('IL_ERR_ROUTE_UNKNOWN_SERVICE', `${config.cluster} exports no TCP service ${target.service}`, { field: 'preamble' });
        Object.assign(record, { principal: principal.id, resource: `${config.cluster}/${target.service}` });
        const verdict = policy.decide({
          principal: { id: principal.id, trustDomain: principal.trustDomain, cluster: sourceCluster, ...(principal.namespace ? { namespace: principal.namespace } : {}), ...(principal.serviceAccount ? { serviceAccount: principal.serviceAccount } : {}) },
          resource: { cluster: config.cluster, service: target.service, ...(service.classification ? { classification: service.classification } : {}) },
          context: { method: 'CONNECT', path: '/', sourceCluster },
        });
        Object.assign(record, { policyVersion: verdict.version, policyIds: verdict.policyIds, reason: verdict.reason });
        if (!verdict.allowed) throw new InterlockError(verdict.errorCode ?? 'IL_ERR_POLICY_DENIED', `${principal.id} may not connect to ${config.cluster}/${target.service}: ${verdict.reason}`, { field: 'policy' });
        const url = new URL(service.upstream);
        const upstream = net.connect({ host: url.hostname, port: Number(url.port) });
        await new Promise<void>((resolve, reject) => {
          upstream.once('connect', resolve);
          upstream.once('error', (error) => reject(new InterlockError('IL_ERR_UPSTREAM_UNAVAILABLE', `${url.host} unreachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`, { field: 'upstream' })));
        });
        decision = 'allow';
        socket.write('OK\n');
        bytes = await splice(socket, upstream);
      } catch (error) {
        const failure = toInterlockError(error);
        code = failure.code;
        if (!socket.destroyed) socket.end(`DENY ${failure.code}\n`);
      } finally {
        audit.append({ type: 'policy.decision', actor: String(record.peer ?? 'unauthenticated'), data: { ...record, decision, ...(code ? { code } : {}), bytesIn: bytes.sent, bytesOut: bytes.received, durationMs: Math.round(performance.now() - started) } });
      }
    })();
  });
  return { server, rotate: (next) => server.setSecureContext(tlsOptions(next)), close: trackTunnels(server) };
}
