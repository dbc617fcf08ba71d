import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../clock.ts';
import { AuditLog } from '../audit/chain-file.ts';
import { loadPolicyFile } from '../policy/pdp.ts';
import { PolicyDecisionPoint } from '../policy/pdp.ts';
import type { Logger } from '../telemetry/logger.ts';
import { splitHostPort, type GatewayConfig } from './config.ts';
import { createInboundServer } from './inbound.ts';
import { createOutboundServer } from './outbound.ts';
import { openIdentitySource } from './identity-source.ts';

export interface RunningGateway {
  readonly cluster: string;
  readonly spiffeId: string;
  /** host:port actually bound (port 0 in the config picks a free one). */
  readonly inbound: string;
  readonly outbound: string;
  close(): Promise<void>;
}

function listen(server: Server, address: string): Promise<string> {
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
    server.closeAllConnections();
  });
}

/**
 * One cluster's gateway: everything is loaded and checked before a port
 * opens, so a bad certificate or policy stops start-up instead of serving.
 */
export async function startGateway(config: GatewayConfig, options: { log: Logger; clock?: Clock }): Promise<RunningGateway> {
  const clock = options.clock ?? systemClock;
  const pdp = new PolicyDecisionPoint(await loadPolicyFile(config.policy.file), clock);
  const audit = new AuditLog(config.audit.file, clock);
  const source = await openIdentitySource(config, options.log);
  const identity = source.current;
  const deps = { config, identity, audit, clock, log: options.log };
  const inboundListener = createInboundServer({ ...deps, pdp });
  const outboundListener = createOutboundServer(deps);
  source.onRotate((next) => {
    inboundListener.rotate(next);
    outboundListener.rotate(next);
  });
  const inbound = await listen(inboundListener.server, config.inbound.listen);
  const outbound = await listen(outboundListener.server, config.outbound.listen);
  options.log.info({ event: 'gateway.ready', cluster: config.cluster, spiffeId: identity.spiffeId.id, inbound, outbound }, 'gateway ready');
  return {
    cluster: config.cluster,
    spiffeId: identity.spiffeId.id,
    inbound,
    outbound,
    close: async () => {
      source.close();
      inboundListener.close();
      outboundListener.close();
      await Promise.all([closeServer(inboundListener.server), closeServer(outboundListener.server)]);
    },
  };
}
