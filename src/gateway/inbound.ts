import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InterlockError, toInterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { isGatewayId, type SpiffeId } from '../identity/spiffe-id.ts';
import type { PolicyState } from './policy-state.ts';
import type { AuditLog } from '../audit/chain-file.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { GatewayConfig } from './config.ts';
import { IDENTITY_HEADER, verifyIdentityAssertion, workloadKeyFrom } from './identity-assertion.ts';
import { parseTarget } from './routing.ts';
import { canonicalPath } from './request-path.ts';
import { checkPeerCertificateCurrent, closeConnectionOf, retireAgent } from './connection-lifetime.ts';
import { checkDeclaredBodySize, forwardRequest, readBody } from './forward.ts';
import { verifyMessage } from '../signatures/message-signature.ts';
import type { JWK } from 'jose';
import { requestAuthority, sendError } from './http-util.ts';
import { peerSpiffeId, tlsOptions, type TlsIdentity } from './tls-identity.ts';
import { createMutualTlsListener } from './listener.ts';
import type { RevocationList } from './revocations.ts';
import type { TrustState } from './trust-state.ts';
import { verifiedAgent } from './verified-agent.ts';
import { ReplayGuard } from './replay-guard.ts';
import { TRACEPARENT, formatTraceparent, startHop } from '../telemetry/trace-context.ts';
import type { DenyBurstDetector, SignalReporter } from './signals.ts';
import type { Decision, GatewayMetrics } from '../telemetry/gateway-metrics.ts';

/** Headers the inbound gateway sets for the local service, over its own mTLS hop. */
export const CALLER_HEADER = 'interlock-caller';
export const SOURCE_CLUSTER_HEADER = 'interlock-source-cluster';
/** Links a response to the audit record of its decision: `<cluster>:<seq>`. */
export const AUDIT_REF_HEADER = 'interlock-audit-ref';

export interface InboundDeps {
  readonly config: GatewayConfig;
  readonly identity: TlsIdentity;
  readonly policy: PolicyState;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly log: Logger;
  readonly revocations: RevocationList;
  readonly trust: TrustState;
  readonly signals: SignalReporter;
  readonly denyBursts: DenyBurstDetector;
  readonly metrics: GatewayMetrics;
}

interface Upstream {
  readonly url: URL;
  readonly agent: http.Agent;
}

function buildUpstreams(config: GatewayConfig, identity: TlsIdentity, revocations: RevocationList, trust: TrustState): Map<string, Upstream> {
  const upstreams = new Map<string, Upstream>();
  for (const [name, service] of Object.entries(config.services)) {
    const url = new URL(service.upstream);
    if (url.protocol === 'tcp:') continue; // served by the L4 listener (tcp.ts)
    if (url.protocol === 'https:') {
      // Zero trust inside the cluster too: the gateway presents its SVID and
      // checks the service's ID (not revoked, from a trusted CA) when the service speaks mTLS.
      const agent = service.id ? verifiedAgent({ identity, expectedId: service.id, revocations, trust, what: `service ${name}` }) : new https.Agent({ keepAlive: true, timeout: 60_000, ...tlsOptions(identity) });
      upstreams.set(name, { url, agent });
    } else {
      upstreams.set(name, { url, agent: new http.Agent({ keepAlive: true, timeout: 60_000 }) });
    }
  }
  return upstreams;
}

const SIGNATURE_SKEW_SECONDS = 5;

/** Whether a route of a service is critical: `true` for all, or a "METHOD /prefix" entry that matches. */
export function isCritical(critical: boolean | readonly string[] | undefined, method: string, path: string): boolean {
  if (critical === true) return true;
  if (!critical) return false;
  return critical.some((entry) => {
    const [m, prefix] = entry.split(' ');
    return m === method.toUpperCase() && path.startsWith(prefix!);
  });
}

/** Maps a peer gateway's trust domain to the cluster name it is configured under. */
function peerClusters(config: GatewayConfig): Map<string, string> {
  return new Map(Object.entries(config.peers).map(([cluster, peer]) => [peer.trustDomain, cluster]));
}

/** The listener, and how to move it onto a renewed SVID without dropping connections. */
export interface GatewayListener {
  readonly server: https.Server;
  rotate(identity: TlsIdentity): void;
  close(): void;
}

export function createInboundServer(deps: InboundDeps): GatewayListener {
  const { config, identity, policy, audit, clock, log } = deps;
  let upstreams = buildUpstreams(config, identity, deps.revocations, deps.trust);
  const clustersByDomain = peerClusters(config);
  const replays = new ReplayGuard(config.limits.replayGuardCapacity);
  const signatureNonces = new ReplayGuard(config.limits.replayGuardCapacity);
  const maxAgeSeconds = Math.floor(config.limits.assertionMaxAgeMs / 1000);

  /** Reads the body whole and checks the workload's signature over the request; the body to forward, or throws IL_ERR_SIGNATURE_INVALID. */
  const verifySignedRequest = async (req: IncomingMessage, caller: string, jwk: JWK | undefined): Promise<Buffer> => {
    if (!jwk) throw new InterlockError('IL_ERR_SIGNATURE_INVALID', 'this route needs a signed request, and the peer gateway vouched for no workload key', { field: 'signature' });
    const body = await readBody(req, config.limits.maxSignedBodyBytes);
    const now = clock.now().getTime();
    const params = verifyMessage({ method: req.method ?? 'GET', authority: String(requestAuthority(req.headers) ?? ''), path: req.url ?? '/', headers: req.headers }, body, workloadKeyFrom(jwk), {
      signer: caller,
      nowSeconds: Math.floor(now / 1000),
      maxAgeSeconds,
      skewSeconds: SIGNATURE_SKEW_SECONDS,
    });
    try {
      signatureNonces.check(`${caller}#${params.nonce}`, (params.created + maxAgeSeconds) * 1000, now);
    } catch (error) {
      if ((error as InterlockError).code === 'IL_ERR_REPLAY_DETECTED') throw new InterlockError('IL_ERR_SIGNATURE_INVALID', `signed request nonce ${params.nonce} was already used (replay)`, { field: 'signature-input' });
      throw error;
    }
    return body;
  };

  const authenticatePeer = (socket: TLSSocket): { peer: SpiffeId; sourceCluster: string } => {
    const peer = peerSpiffeId(socket);
    const sourceCluster = clustersByDomain.get(peer.trustDomain);
    if (!isGatewayId(peer) || sourceCluster === undefined) {
      throw new InterlockError('IL_ERR_AUTHN_NOT_A_GATEWAY', `${peer.id} is not the gateway of a peer cluster`, { field: 'peerCertificate' });
    }
    return { peer, sourceCluster };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const socket = req.socket as TLSSocket;
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    const hop = startHop('interlock.gateway.inbound', req.headers[TRACEPARENT], { 'interlock.cluster': config.cluster });
    let record: Record<string, unknown> = { method, path, host: requestAuthority(req.headers) ?? '', traceId: hop.ctx.traceId, spanId: hop.ctx.spanId, ...(hop.parent ? { parentSpanId: hop.parent.spanId } : {}) };
    const started = performance.now();
    const outcome: { peer: string; identity: string | null; decision: Decision; code: string | null } = { peer: 'unknown', identity: null, decision: 'deny', code: null };
    try {
      checkDeclaredBodySize(req, config.limits.maxBodyBytes);
      // Policy and critical routes must see the path the service will route on: one canonical form only.
      canonicalPath(req.url);
      checkPeerCertificateCurrent(socket, clock);
      const { peer, sourceCluster } = authenticatePeer(socket);
      outcome.peer = sourceCluster;
      record = { ...record, peer: peer.id, sourceCluster };
      const target = parseTarget(requestAuthority(req.headers));
      if (target.cluster !== config.cluster) {
        throw new InterlockError('IL_ERR_ROUTE_UNKNOWN_CLUSTER', `this is the gateway of ${config.cluster}, not ${target.cluster}`, { field: 'host' });
      }
      const { subject: principal, purpose, serial, jti, expiresAtMs, key: callerKey } = verifyIdentityAssertion(req.headers[IDENTITY_HEADER] as string | undefined, socket, {
        peer,
        ownCluster: config.cluster,
        method,
        target: `${target.authority}${req.url ?? '/'}`,
        maxAgeMs: config.limits.assertionMaxAgeMs,
        clock,
      });
      // Each assertion is good for one request: a captured request sent again is refused while the assertion would still be accepted.
      replays.check(`${peer.id}#${jti}`, expiresAtMs, clock.now().getTime());
      if (deps.revocations.has(serial)) {
        throw new InterlockError('IL_ERR_SVID_REVOKED', `certificate ${serial} of ${principal.id} is revoked`, { field: IDENTITY_HEADER });
      }
      // Critical routes: the calling workload's own signature over method, authority, path and body digest.
      const signedBody = isCritical(config.services[target.service]?.critical, method, path) ? await verifySignedRequest(req, principal.id, callerKey) : undefined;
      const classification = config.services[target.service]?.classification;
      record = { ...record, principal: principal.id, resource: `${config.cluster}/${target.service}`, ...(purpose ? { purpose } : {}), ...(classification ? { classification } : {}) };
      outcome.identity = principal.id;
      const decideStarted = performance.now();
      const decision = policy.decide({
        principal: {
          id: principal.id,
          trustDomain: principal.trustDomain,
          cluster: sourceCluster,
          ...(principal.namespace ? { namespace: principal.namespace } : {}),
          ...(principal.serviceAccount ? { serviceAccount: principal.serviceAccount } : {}),
        },
        resource: { cluster: config.cluster, service: target.service, ...(classification ? { classification } : {}) },
        context: { method, path, sourceCluster, ...(purpose ? { purpose } : {}) },
      });
      const decisionSeconds = (performance.now() - decideStarted) / 1000;
      deps.metrics.policyEvaluation(decisionSeconds);
      const written = audit.append({
        type: 'policy.decision',
        actor: peer.id,
        // decisionMs: how long Cedar took (µs precision), for the dashboard's policy latency panel.
        data: { ...record, decision: decision.allowed ? 'allow' : 'deny', policyVersion: decision.version, policyIds: decision.policyIds, reason: decision.reason, decisionMs: Math.round(decisionSeconds * 1e6) / 1e3, ...(decision.errorCode ? { code: decision.errorCode } : {}) },
      });
      const ref = { [AUDIT_REF_HEADER]: `${config.cluster}:${written.seq}` };
      if (!decision.allowed) {
        outcome.code = decision.errorCode ?? 'IL_ERR_POLICY_DENIED';
        deps.denyBursts.denied(principal.id, serial);
        const message = `${principal.id} may not ${method} ${config.cluster}/${target.service}: ${decision.reason}`;
        sendError(res, new InterlockError(decision.errorCode ?? 'IL_ERR_POLICY_DENIED', message, { field: 'policy' }), ref);
        return;
      }
      const upstream = upstreams.get(target.service);
      if (!upstream) {
        const tcpOnly = config.services[target.service]?.upstream.startsWith('tcp:');
        sendError(res, new InterlockError('IL_ERR_ROUTE_UNKNOWN_SERVICE', tcpOnly ? `${config.cluster}/${target.service} is a TCP service: connect to the L4 listener with SNI ${target.authority}` : `${config.cluster} exports no service ${target.service}`, { field: 'host' }), ref);
        return;
      }
      res.setHeader(AUDIT_REF_HEADER, ref[AUDIT_REF_HEADER]);
      outcome.decision = 'allow';
      const forwarded = await forwardRequest(req, res, {
        protocol: upstream.url.protocol as 'http:' | 'https:',
        host: upstream.url.hostname,
        port: Number(upstream.url.port || (upstream.url.protocol === 'https:' ? 443 : 80)),
        agent: upstream.agent,
        headers: { host: upstream.url.host, [CALLER_HEADER]: principal.id, [SOURCE_CLUSTER_HEADER]: sourceCluster, [TRACEPARENT]: formatTraceparent(hop.ctx) },
        timeoutMs: config.limits.requestTimeoutMs,
        unavailableCode: 'IL_ERR_UPSTREAM_UNAVAILABLE',
        maxBodyBytes: config.limits.maxBodyBytes,
        ...(signedBody ? { body: signedBody } : {}),
      });
      if (forwarded.outcome !== 'ok') outcome.decision = 'error';
    } catch (error) {
      const failure = toInterlockError(error);
      outcome.code = failure.code;
      // Authentication failures are decisions too: who was turned away, and why.
      const written = audit.append({ type: 'policy.decision', actor: String(record.peer ?? 'unauthenticated'), data: { ...record, decision: 'deny', policyIds: [], reason: failure.code } });
      if (failure.code === 'IL_ERR_INTERNAL') log.error({ err: failure.message }, 'inbound request failed');
      req.resume();
      // A connection authenticated by an expired certificate serves nothing more.
      if (failure.code === 'IL_ERR_CERT_EXPIRED') res.once('finish', () => closeConnectionOf(req));
      sendError(res, failure, { [AUDIT_REF_HEADER]: `${config.cluster}:${written.seq}` });
    } finally {
      hop.span.setAttributes({ 'interlock.caller': outcome.identity ?? '', 'interlock.peer_cluster': outcome.peer, 'interlock.decision': outcome.decision, ...(outcome.code ? { 'interlock.code': outcome.code } : {}) });
      hop.span.end();
      deps.metrics.request('inbound', outcome.peer, outcome.identity, outcome.decision, outcome.code, (performance.now() - started) / 1000);
    }
  };

  const server = createMutualTlsListener({ name: 'inbound', identity, limits: config.limits, audit, revocations: deps.revocations, trust: deps.trust, signals: deps.signals, metrics: deps.metrics, handle, http2: true });
  const destroyAgents = (map: Map<string, Upstream>) => map.forEach((u) => u.agent.destroy());
  return {
    server,
    rotate: (next) => {
      // New handshakes use the new certificate; connections already open keep theirs.
      server.setSecureContext(tlsOptions(next));
      const previous = upstreams;
      upstreams = buildUpstreams(config, next, deps.revocations, deps.trust);
      previous.forEach((u) => retireAgent(u.agent));
    },
    close: () => destroyAgents(upstreams),
  };
}
