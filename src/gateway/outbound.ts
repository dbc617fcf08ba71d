import https from 'node:https';
import type { JWK } from 'jose';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InterlockError, toInterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { gatewaySpiffeId, isGatewayId } from '../identity/spiffe-id.ts';
import type { AuditLog } from '../audit/chain-file.ts';
import type { Logger } from '../telemetry/logger.ts';
import { splitHostPort, type GatewayConfig } from './config.ts';
import { IDENTITY_HEADER, PURPOSE_HEADER, bindIdentityAssertion, parsePurpose } from './identity-assertion.ts';
import { parseTarget } from './routing.ts';
import { canonicalPath } from './request-path.ts';
import { checkPeerCertificateCurrent, closeConnectionOf, retireAgent } from './connection-lifetime.ts';
import { TRACEPARENT, formatTraceparent, startHop } from '../telemetry/trace-context.ts';
import { checkDeclaredBodySize, forwardRequest } from './forward.ts';
import { requestAuthority, sendError } from './http-util.ts';
import { peerSpiffeId, tlsOptions, type TlsIdentity } from './tls-identity.ts';
import { createMutualTlsListener } from './listener.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { peerSerial, type RevocationList } from './revocations.ts';
import type { TrustState } from './trust-state.ts';
import { verifiedAgent } from './verified-agent.ts';
import type { SignalReporter } from './signals.ts';
import type { Decision, GatewayMetrics } from '../telemetry/gateway-metrics.ts';
import type { GatewayListener } from './inbound.ts';

export interface OutboundDeps {
  readonly config: GatewayConfig;
  readonly identity: TlsIdentity;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly log: Logger;
  readonly revocations: RevocationList;
  readonly trust: TrustState;
  readonly signals: SignalReporter;
  readonly metrics: GatewayMetrics;
}

interface PeerRoute {
  readonly host: string;
  readonly port: number;
  /** One keep-alive pool per peer gateway (full handshakes only: see verified-agent.ts). */
  readonly agent: https.Agent;
}

function buildPeerRoutes(config: GatewayConfig, identity: TlsIdentity, revocations: RevocationList, trust: TrustState): Map<string, PeerRoute> {
  const routes = new Map<string, PeerRoute>();
  for (const [cluster, peer] of Object.entries(config.peers)) {
    const { host, port } = splitHostPort(peer.address);
    // The remote side must be that cluster's gateway, proven by its SVID, not revoked, from a CA still trusted.
    const agent = verifiedAgent({ identity, expectedId: gatewaySpiffeId(peer.trustDomain), revocations, trust, what: `the gateway of ${cluster}` });
    routes.set(cluster, { host, port, agent });
  }
  return routes;
}

/** The calling workload's public key as a JWK, once per connection (for the identity assertion's cnf). */
const callerKeys = new WeakMap<TLSSocket, JWK>();
function callerKey(socket: TLSSocket): JWK {
  let jwk = callerKeys.get(socket);
  if (!jwk) {
    jwk = socket.getPeerX509Certificate()!.publicKey.export({ format: 'jwk' }) as JWK;
    callerKeys.set(socket, jwk);
  }
  return jwk;
}

export function createOutboundServer(deps: OutboundDeps): GatewayListener {
  const { config, audit, clock, log } = deps;
  let identity = deps.identity;
  let routes = buildPeerRoutes(config, identity, deps.revocations, deps.trust);
  // Breakers outlive SVID rotations: a peer that is down stays known as down.
  const breakers = new Map(Object.keys(config.peers).map((cluster) => [cluster, new CircuitBreaker({ failureThreshold: config.limits.peerFailureThreshold, cooldownMs: config.limits.peerCooldownMs }, clock)]));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const socket = req.socket as TLSSocket;
    const started = performance.now();
    const outcome: { peer: string; identity: string | null; decision: Decision; code: string | null } = { peer: 'unknown', identity: null, decision: 'deny', code: null };
    const hop = startHop('interlock.gateway.outbound', req.headers[TRACEPARENT], { 'interlock.cluster': config.cluster });
    let target: ReturnType<typeof parseTarget> | undefined;
    let transfer: { status: number | null; requestBytes: number; responseBytes: number } | undefined;
    try {
      checkDeclaredBodySize(req, config.limits.maxBodyBytes);
      checkPeerCertificateCurrent(socket, clock);
      const caller = peerSpiffeId(socket);
      const callerSerial = peerSerial(socket);
      if (deps.revocations.has(callerSerial)) {
        socket.destroy();
        throw new InterlockError('IL_ERR_SVID_REVOKED', `certificate ${callerSerial} of ${caller.id} is revoked`, { field: 'peerCertificate' });
      }
      if (caller.trustDomain !== config.trustDomain || isGatewayId(caller)) {
        // An SVID of another cluster in use here: it is in two places at once (detectors.ts decides what that means).
        if (caller.trustDomain !== config.trustDomain && callerSerial) deps.signals.report({ kind: 'foreign-svid', serial: callerSerial, spiffeId: caller.id });
        throw new InterlockError('IL_ERR_AUTHN_NOT_LOCAL', `${caller.id} is not a workload of ${config.trustDomain}`, { field: 'peerCertificate' });
      }
      outcome.identity = caller.id;
      // Refused here already, with the reason, rather than by the peer's gateway.
      canonicalPath(req.url);
      target = parseTarget(requestAuthority(req.headers));
      const route = routes.get(target.cluster);
      if (route) outcome.peer = target.cluster;
      if (!route) {
        const known = [...routes.keys()];
        throw new InterlockError('IL_ERR_ROUTE_UNKNOWN_CLUSTER', `no peer cluster ${target.cluster}`, {
          field: 'host',
          ...(known.length ? { hint: `peers: ${known.join(', ')}` } : {}),
        });
      }
      if (deps.trust.isIsolated(target.cluster)) {
        throw new InterlockError('IL_ERR_PEER_ISOLATED', `cluster ${target.cluster} is isolated after a compromise; its links stay cut until the incident is resolved`, { field: 'host' });
      }
      const breaker = breakers.get(target.cluster)!;
      if (!breaker.allow()) {
        throw new InterlockError('IL_ERR_PEER_CIRCUIT_OPEN', `the gateway of ${target.cluster} failed repeatedly; not trying again for ${Math.ceil(breaker.retryInMs / 1000)} s`, { field: 'host' });
      }
      const purpose = parsePurpose(req.headers[PURPOSE_HEADER]);
      const claims = { issuer: identity.spiffeId.id, subject: caller.id, audience: target.cluster, method: req.method ?? 'GET', target: `${target.authority}${req.url ?? '/'}`, ...(purpose ? { purpose } : {}), ...(callerSerial ? { serial: callerSerial } : {}), key: callerKey(socket) };
      const ttlSeconds = Math.floor(config.limits.assertionMaxAgeMs / 1000);
      const forwarded = await forwardRequest(req, res, {
        protocol: 'https:',
        host: route.host,
        port: route.port,
        agent: route.agent,
        headers: { host: target.authority, [TRACEPARENT]: formatTraceparent(hop.ctx) },
        connectionHeaders: (peerSocket) => ({ [IDENTITY_HEADER]: bindIdentityAssertion(peerSocket, claims, clock, ttlSeconds) }),
        timeoutMs: config.limits.requestTimeoutMs,
        unavailableCode: 'IL_ERR_PEER_UNAVAILABLE',
        trustAnswerHeaders: true,
        maxBodyBytes: config.limits.maxBodyBytes,
      });
      // A request refused for its own size says nothing about the peer's health.
      if (forwarded.outcome === 'ok') breaker.success();
      else if (forwarded.outcome === 'failed') breaker.failure();
      outcome.decision = forwarded.outcome === 'ok' ? 'allow' : 'error';
      transfer = { status: forwarded.status, requestBytes: forwarded.requestBytes, responseBytes: forwarded.responseBytes };
    } catch (error) {
      const failure = toInterlockError(error);
      outcome.code = failure.code;
      if (failure.code === 'IL_ERR_INTERNAL') log.error({ err: failure.message }, 'outbound request failed');
      req.resume();
      // A connection authenticated by an expired certificate serves nothing more.
      if (failure.code === 'IL_ERR_CERT_EXPIRED') res.once('finish', () => closeConnectionOf(req));
      sendError(res, failure);
    } finally {
      deps.metrics.request('outbound', outcome.peer, outcome.identity, outcome.decision, outcome.code, (performance.now() - started) / 1000);
      // The calling side's record of the call: with the inbound side's decision record it shares the trace id.
      audit.append({
        type: 'call.outbound',
        actor: outcome.identity ?? 'unauthenticated',
        data: { target: target ? `${target.cluster}/${target.service}` : String(requestAuthority(req.headers) ?? ''), method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, outcome: outcome.decision, ...(outcome.code ? { code: outcome.code } : {}), ...(transfer ?? {}), durationMs: Math.round((performance.now() - started) * 10) / 10, traceId: hop.ctx.traceId, spanId: hop.ctx.spanId },
      });
      hop.span.setAttributes({ 'interlock.caller': outcome.identity ?? '', 'interlock.peer_cluster': outcome.peer, 'interlock.outcome': outcome.decision, ...(outcome.code ? { 'interlock.code': outcome.code } : {}) });
      hop.span.end();
    }
  };

  const server = createMutualTlsListener({ name: 'outbound', identity, limits: config.limits, audit, revocations: deps.revocations, trust: deps.trust, signals: deps.signals, metrics: deps.metrics, handle, http2: true });
  const destroyAgents = (map: Map<string, PeerRoute>) => map.forEach((route) => route.agent.destroy());
  return {
    server,
    rotate: (next) => {
      server.setSecureContext(tlsOptions(next));
      const previous = routes;
      identity = next;
      routes = buildPeerRoutes(config, next, deps.revocations, deps.trust);
      // Requests in flight finish on the old pool; new ones use the new SVID.
      previous.forEach((route) => retireAgent(route.agent));
    },
    close: () => destroyAgents(routes),
  };
}
