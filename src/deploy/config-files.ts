import { isIP } from 'node:net';
import { stringify as toYaml } from 'yaml';
import { z } from 'zod';
import { parseConfig } from '../config/load.ts';
import { InterlockError } from '../errors.ts';
import { gatewayConfigSchema, type GatewayConfig } from '../gateway/config.ts';
import { spiffeIdFor } from '../identity/spiffe-id.ts';
import { serverConfigSchema, type ServerConfig } from '../server/config.ts';
import { CONTROL_PLANE, GATEWAY_PATHS, SERVER_PATHS } from './layout.ts';
import { gatewayTrustDomain, type GatewayValues, type Values } from './values.ts';

/**
 * The configuration files the pods run with, built from the values and
 * checked here against the very schemas `interlock server` and `interlock
 * gateway` load them with, so a rendered manifest cannot carry a config the
 * program would refuse at start.
 */

// Inside a pod every listener binds all addresses: the kubelet probes and the Services reach the pod IP.
const ANY = '0.0.0.0';

export type ServerConfigInput = z.input<typeof serverConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;

/** The names the control plane's certificate must carry: its Service's in-cluster names, localhost (port-forward), and what gateways dial. */
function controlPlaneNames(values: Values): { dnsNames: string[]; ipAddresses: string[] } {
  const service = [CONTROL_PLANE, `${CONTROL_PLANE}.${values.namespace}`, `${CONTROL_PLANE}.${values.namespace}.svc`, `${CONTROL_PLANE}.${values.namespace}.svc.cluster.local`];
  const dialed = values.gateways.map((g) => new URL(g.controlPlaneUrl).hostname.replace(/^\[|\]$/g, ''));
  const names = [...service, 'localhost', ...values.controlPlane.tls.dnsNames, ...dialed.filter((h) => isIP(h) === 0)];
  const ips = ['127.0.0.1', ...values.controlPlane.tls.ipAddresses, ...dialed.filter((h) => isIP(h) !== 0)];
  return { dnsNames: [...new Set(names)], ipAddresses: [...new Set(ips)] };
}

export function serverConfigFor(values: Values): ServerConfigInput {
  const cp = values.controlPlane;
  const secretFile = `${SERVER_PATHS.caSecretDir}/${cp.caKeySecret.key}`;
  return {
    listen: `${ANY}:${cp.port}`,
    // The password is not here: the pod gets it from a Secret as $INTERLOCK_STORE_PASSWORD (server/config.ts).
    store: cp.postgres.url,
    organization: values.organization,
    domain: values.domain,
    secret: cp.caKeySecret.kind === 'passphrase' ? { passphraseFile: secretFile } : { keyFile: secretFile },
    tls: controlPlaneNames(values),
    ...(cp.policy ? { policy: cp.policy } : {}),
    ...(cp.detectors ? { detectors: cp.detectors } : {}),
    ...(cp.metricsPort ? { metrics: { listen: `${ANY}:${cp.metricsPort}` } } : {}),
  };
}

function upstreamFor(values: Values, gateway: GatewayValues, service: GatewayValues['services'][number]) {
  const id = service.protocol === 'https' ? (service.id ?? spiffeIdFor(gatewayTrustDomain(values, gateway), service.namespace, service.name)) : undefined;
  return {
    upstream: `${service.protocol}://${service.upstream}`,
    ...(id ? { id } : {}),
    ...(service.classification ? { classification: service.classification } : {}),
    ...(service.critical !== undefined ? { critical: service.critical } : {}),
  };
}

export function gatewayConfigFor(values: Values, gateway: GatewayValues): GatewayConfigInput {
  const peers = values.gateways.filter((g) => g.cluster !== gateway.cluster);
  return {
    cluster: gateway.cluster,
    trustDomain: gatewayTrustDomain(values, gateway),
    identity: {
      server: gateway.controlPlaneUrl,
      bundle: GATEWAY_PATHS.trustFile,
      ...(gateway.controlPlaneId ? { serverId: gateway.controlPlaneId } : {}),
      // A projected service-account token (audience "interlock"), refreshed by the kubelet.
      k8sTokenFile: GATEWAY_PATHS.tokenFile,
    },
    inbound: { listen: `${ANY}:${gateway.eastWestPort}` },
    outbound: { listen: `${ANY}:${gateway.outboundPort}` },
    peers: Object.fromEntries(peers.map((p) => [p.cluster, { address: p.address, trustDomain: gatewayTrustDomain(values, p) }])),
    services: Object.fromEntries(gateway.services.map((s) => [s.name, upstreamFor(values, gateway, s)])),
    policy: { controlPlane: {} },
    admin: { listen: `${ANY}:${gateway.adminPort}` },
    ...(gateway.tracing ? { tracing: gateway.tracing } : {}),
    // The stream is stamped with the pod's name at start (gateway-manifests.ts): each pod ships its own chain.
    audit: { file: GATEWAY_PATHS.auditFile, stream: gateway.cluster },
    ...(gateway.limits ? { limits: gateway.limits } : {}),
  };
}

/** YAML text of a config file, after the program's own schema accepted it. */
export function configFileText(kind: 'server' | 'gateway', config: ServerConfigInput | GatewayConfigInput, field: string): string {
  checkConfig(kind, config, field);
  return toYaml(config, { lineWidth: 0 });
}

function checkConfig(kind: 'server' | 'gateway', config: ServerConfigInput | GatewayConfigInput, field: string): ServerConfig | GatewayConfig {
  try {
    return kind === 'server' ? parseConfig(config, serverConfigSchema, `rendered ${kind} config`) : parseConfig(config, gatewayConfigSchema, `rendered ${kind} config`);
  } catch (error) {
    if (!(error instanceof InterlockError)) throw error;
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${error.message} (the values under ${field} render a config interlock ${kind} would refuse)`, { field: `${field} → ${error.field}` });
  }
}
