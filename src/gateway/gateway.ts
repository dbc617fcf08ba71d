import type { Server } from 'node:https';
import type tls from 'node:tls';
import { createTcpInbound, createTcpOutbound } from './tcp.ts';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../clock.ts';
import { AuditLog } from '../audit/chain-file.ts';
import { loadPolicyFile } from '../policy/pdp.ts';
import { PolicyDecisionPoint } from '../policy/pdp.ts';
import type { Logger } from '../telemetry/logger.ts';
import { splitHostPort, type GatewayConfig } from './config.ts';
import { createInboundServer } from './inbound.ts';
import { createOutboundServer } from './outbound.ts';
import { openIdentitySource, type IdentitySource } from './identity-source.ts';
import { PolicyState } from './policy-state.ts';
import { skipPolicyChecks } from './lab-unsafe.ts';
import { startPolicySync } from './policy-sync.ts';
import { startAdminServer } from './admin.ts';
import { expiryAlerts, startExpiryWatch } from './expiry-watch.ts';
import { GatewayMetrics, type GatewayStateSource } from '../telemetry/gateway-metrics.ts';
import { parseCertificatesPem } from '../pki/x509.ts';
import { expiringItems } from './health.ts';
import { openControlLink, type ControlLink } from './control-link.ts';
import { RevocationList } from './revocations.ts';
import { TrustState } from './trust-state.ts';
import { DenyBurstDetector, SignalReporter } from './signals.ts';
import { AuditShipper } from './audit-shipper.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { normalizeSerial } from '../pki/serial.ts';
import type { TlsIdentity } from './tls-identity.ts';

export interface RunningGateway {
  readonly cluster: string;
  readonly spiffeId: string;
  /** host:port actually bound (port 0 in the config picks a free one). */
  readonly inbound: string;
  readonly outbound: string;
  /** host:port of the L4 (TCP) listeners, if configured. */
  readonly inboundTcp: string | null;
  readonly outboundTcp: string | null;
  /** host:port of the admin (health) listener, if configured. */
  readonly admin: string | null;
  readonly policy: PolicyState;
  close(): Promise<void>;
}

function listen(server: Server | tls.Server, address: string): Promise<string> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const bound = server.address() as AddressInfo;
      resolve(`${host}:${bound.port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // An HTTP/2 server has no closeAllConnections; its sessions end with the process's sockets.
    (server as Partial<Server>).closeAllConnections?.();
  });
}

/**
 * One cluster's gateway: everything is loaded and checked before a port
 * opens, so a bad certificate or policy stops start-up instead of serving.
 */
async function startPolicy(config: GatewayConfig, link: ControlLink | undefined, source: IdentitySource, state: PolicyState, clock: Clock, log: Logger): Promise<() => void> {
  if ('file' in config.policy) {
    state.loadFile(new PolicyDecisionPoint(await loadPolicyFile(config.policy.file), clock));
    return () => undefined;
  }
  const sync = await startPolicySync({
    link: link!,
    identity: source,
    state,
    clock,
    log,
    refreshMs: config.policy.controlPlane.refreshMs,
    reportMs: config.policy.controlPlane.reportMs,
  });
  return () => sync.close();
}

/** The watch-stream link, when the gateway's identity comes from the control plane. */
function controlLinkFor(config: GatewayConfig, source: IdentitySource): ControlLink | undefined {
  if ('cert' in config.identity) return undefined;
  return openControlLink({ server: config.identity.server, ...(config.identity.serverId ? { serverId: config.identity.serverId } : {}), identity: source });
}

/** What the metrics read from the gateway at scrape time. */
function gatewayState(parts: { source: IdentitySource; policy: PolicyState; trust: TrustState; revocations: RevocationList; clock: Clock; shipper: AuditShipper | undefined }): GatewayStateSource {
  const secondsLeft = (notAfter: Date) => (notAfter.getTime() - parts.clock.now().getTime()) / 1000;
  return {
    certificateExpiry: () => {
      const [svid, intermediate] = parseCertificatesPem(parts.source.current.certPem);
      const roots = parseCertificatesPem(parts.trust.rootsPem);
      return {
        ...(svid ? { gateway_svid: secondsLeft(svid.notAfter) } : {}),
        ...(intermediate ? { cluster_ca: secondsLeft(intermediate.notAfter) } : {}),
        ...(roots.length ? { root_ca: Math.min(...roots.map((r) => secondsLeft(r.notAfter))) } : {}),
      };
    },
    policyBundle: () => parts.policy.bundle,
    policyCache: () => parts.policy.cacheStats(),
    revokedSerials: () => parts.revocations.size,
    trustedAuthorities: () => parts.trust.serials().length,
    auditSpoolDepth: () => parts.shipper?.spoolDepth ?? null,
    expiryAlerts: () => expiryAlerts(expiringItems(parts.source, parts.policy, parts.trust), parts.clock.now()).length,
  };
}

export async function startGateway(config: GatewayConfig, options: { log: Logger; clock?: Clock; labUnsafeSkipPolicy?: boolean }): Promise<RunningGateway> {
  const clock = options.clock ?? systemClock;
  const tracing = config.tracing ? startTracing({ serviceName: `interlock-gateway-${config.cluster}`, otlpEndpoint: config.tracing.otlpEndpoint, attributes: { 'interlock.cluster': config.cluster } }) : undefined;
  // The gateway is the only writer of its chain file: appends skip the lock and the tail read.
  const audit = new AuditLog(config.audit.file, clock, { singleWriter: true });
  const source = await openIdentitySource(config, options.log);
  const policy = new PolicyState(config.cluster, clock, options.log);
  if (options.labUnsafeSkipPolicy) skipPolicyChecks(policy, options.log);
  const link = controlLinkFor(config, source);
  const revocations = new RevocationList(options.log);
  const stopRevocations = link ? revocations.follow(link) : () => undefined;
  const stopPolicy = await startPolicy(config, link, source, policy, clock, options.log);
  // Our cluster's CA was rotated: move onto an SVID from the new intermediate now, not at half life.
  link?.on(['ca.rotated'], (event) => {
    if (event.data.cluster !== config.cluster) return;
    source.renewNow().then(
      () => options.log.info({ event: 'gateway.renewed-after-ca-rotation', ca: event.data.current }, 'SVID renewed under the new cluster CA'),
      (error: Error) => options.log.warn({ event: 'gateway.renewal-after-ca-rotation-failed', err: error.message }, 'renewal after CA rotation failed; the SDK retries at half life'),
    );
  });
  const trust = new TrustState(source.current.bundlePem, options.log, config.cluster);
  const trustSync = link ? await trust.follow(link) : undefined;
  // Peers are verified against the roots the control plane publishes now, not
  // those that came with our last SVID: a new root is trusted as soon as it is published.
  const effective = (): TlsIdentity => ({ ...source.current, bundlePem: trust.rootsPem });
  // Our own SVID revoked, or a compromise remediation asks this cluster to re-issue: attest again for a fresh key.
  link?.on(['svid.revoked', 'identity.reissue'], (event) => {
    const ours = event.type === 'svid.revoked' ? normalizeSerial(String(event.data.serial ?? '')) === normalizeSerial(source.serial ?? '') : event.data.cluster === config.cluster || event.data.spiffeId === source.current.spiffeId.id;
    if (!ours) return;
    source.reattest().then(
      () => {
        options.log.info({ event: 'gateway.reattested', reason: event.type, serial: source.serial }, 'attested again for a fresh SVID');
        // Trust events that arrived while our SVID was revoked could not be acted on: catch up now.
        void trustSync?.reload();
      },
      (error: Error & { code?: string }) => options.log.error({ event: 'gateway.reattest-failed', code: error.code, err: error.message }, 'could not attest again; the gateway is serving with a revoked SVID that peers refuse'),
    );
  });
  const identity = effective();
  // The local chain is the spool; records reach the control plane from it in order, exactly once.
  const shipper = link ? new AuditShipper({ path: config.audit.file, stream: config.audit.stream ?? config.cluster, link, log: options.log }) : undefined;
  if (shipper) {
    audit.onAppend((record) => shipper.appended(record));
    shipper.start();
  }
  const signals = new SignalReporter(clock);
  if (link) signals.attach(link);
  const denyBursts = new DenyBurstDetector({ threshold: config.limits.denyBurstThreshold, windowMs: config.limits.denyBurstWindowMs, clock, signals });
  const metrics = new GatewayMetrics(config.cluster, gatewayState({ source, policy, trust, revocations, clock, shipper }));
  const deps = { config, identity, audit, clock, log: options.log, revocations, trust, signals, metrics };
  const inboundListener = createInboundServer({ ...deps, policy, denyBursts });
  const outboundListener = createOutboundServer(deps);
  // L4 listeners for opaque TCP services, when configured (tcp.ts).
  const tcpOutbound = config.outbound.tcpListen ? createTcpOutbound(deps) : undefined;
  const tcpInbound = config.inbound.tcpListen ? createTcpInbound({ ...deps, policy, denyBursts }) : undefined;
  const rotateListeners = () => {
    const next = effective();
    inboundListener.rotate(next);
    outboundListener.rotate(next);
    tcpOutbound?.rotate(next);
    tcpInbound?.rotate(next);
  };
  source.onRotate(rotateListeners);
  trust.onRootsChanged(rotateListeners);
  const inbound = await listen(inboundListener.server, config.inbound.listen);
  const outbound = await listen(outboundListener.server, config.outbound.listen);
  const inboundTcp = tcpInbound ? await listen(tcpInbound.server, config.inbound.tcpListen!) : null;
  const outboundTcp = tcpOutbound ? await listen(tcpOutbound.server, config.outbound.tcpListen!) : null;
  const stopExpiryWatch = startExpiryWatch({ items: () => expiringItems(source, policy, trust), clock, log: options.log });
  const admin = config.admin ? await startAdminServer({ listen: splitHostPort(config.admin.listen), config, policy, identity: source, trust, metrics }) : undefined;
  options.log.info(
    { event: 'gateway.ready', cluster: config.cluster, spiffeId: identity.spiffeId.id, inbound, outbound, inboundTcp, outboundTcp, admin: admin?.address ?? null, policy: policy.describe() },
    'gateway ready',
  );
  return {
    cluster: config.cluster,
    spiffeId: identity.spiffeId.id,
    inbound,
    outbound,
    inboundTcp,
    outboundTcp,
    admin: admin?.address ?? null,
    policy,
    close: async () => {
      stopPolicy();
      stopRevocations();
      trustSync?.stop();
      signals.close();
      shipper?.stop();
      await tracing?.close();
      stopExpiryWatch();
      audit.close();
      link?.close();
      source.close();
      inboundListener.close();
      outboundListener.close();
      await Promise.all([closeServer(inboundListener.server), closeServer(outboundListener.server), tcpInbound?.close(), tcpOutbound?.close(), admin?.close()]);
    },
  };
}
