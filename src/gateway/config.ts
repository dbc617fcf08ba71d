import { z } from 'zod';
import { loadConfigFile, resolveFrom } from '../config/load.ts';
import { splitHostPort } from '../config/host-port.ts';
import { clusterNameField, trustDomainField } from '../config/fields.ts';
import { InterlockError } from '../errors.ts';

/**
 * The gateway's configuration: one cluster's edge. Relative file paths are
 * resolved against the config file's folder.
 */
const hostPort = z
  .string()
  .regex(/^(127(?:\.\d{1,3}){3}|\[::1\]|localhost|[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\]):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8443')
  .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535, 'port must be 0–65535');

const clusterName = clusterNameField;
const trustDomain = trustDomainField;

export const gatewayConfigSchema = z.strictObject({
  cluster: clusterName,
  trustDomain,
  identity: z.union([
    z.strictObject({
      /** PEM: the gateway's SVID followed by its cluster intermediate. */
      cert: z.string().min(1),
      /** PEM PKCS#8 private key of the SVID. */
      key: z.string().min(1),
      /** PEM trust bundle (roots) that every peer must chain to. */
      bundle: z.string().min(1),
    }),
    z.strictObject({
      /** The control plane to attest to and renew from, e.g. https://interlock.example:8443. */
      server: z.url({ protocol: /^https$/ }),
      /** PEM roots to verify the control plane with (distributed out of band). */
      bundle: z.string().min(1),
      /** Expected SPIFFE ID of the control plane; default: host-name verification. */
      serverId: z.string().startsWith('spiffe://').optional(),
      /** A file holding a single-use join token, or… */
      joinTokenFile: z.string().min(1).optional(),
      /** …a projected Kubernetes service-account token file (audience "interlock"). */
      k8sTokenFile: z.string().min(1).optional(),
    }).refine((i) => Boolean(i.joinTokenFile) !== Boolean(i.k8sTokenFile), 'give exactly one of joinTokenFile or k8sTokenFile'),
  ]),
  /** tcpListen: the L4 listener for opaque TCP services (TLS SNI names the target; policy per connection). */
  inbound: z.strictObject({ listen: hostPort, tcpListen: hostPort.optional() }),
  outbound: z.strictObject({ listen: hostPort, tcpListen: hostPort.optional() }),
  peers: z.record(clusterName, z.strictObject({ address: hostPort, tcpAddress: hostPort.optional(), trustDomain })).default({}),
  services: z
    .record(
      z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'service names are DNS labels'),
      z.strictObject({
        /** http://host:port for a plain local service, https://host:port for one that takes the gateway's SVID, tcp://host:port for an opaque TCP service (L4). */
        upstream: z.url({ protocol: /^(https?|tcp)$/ }),
        /** The SPIFFE ID the upstream must present when upstream is https. */
        id: z.string().startsWith('spiffe://').optional(),
        /** Data classification, given to policies as resource.classification. */
        classification: z.enum(['public', 'internal', 'confidential', 'restricted']).optional(),
        /**
         * Critical routes: requests need an HTTP Message Signature by the calling workload (RFC 9421 +
         * Content-Digest), verified here before forwarding. true for every route, or "METHOD /path-prefix" entries.
         */
        critical: z.union([z.boolean(), z.array(z.string().regex(/^[A-Z]+ \/\S*$/, 'must be "METHOD /path-prefix", e.g. "POST /invoices"'))]).optional(),
      }),
    )
    .default({}),
  policy: z.union([
    /** A local Cedar file: no signature, no expiry; for development and the offline CA flow. */
    z.strictObject({ file: z.string().min(1) }),
    /** Signed bundles from the control plane named in `identity` (which must then be attested). */
    z.strictObject({
      controlPlane: z
        .strictObject({
          /** Re-fetch the bundle this often even without a watch event, so its expiry keeps moving. */
          refreshMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
          /** How often to report enforced versions and dry-run disagreements. */
          reportMs: z.number().int().min(1_000).max(3_600_000).default(15_000),
        })
        .default({ refreshMs: 60_000, reportMs: 15_000 }),
    }),
  ]),
  /** Health and readiness over plain HTTP; bind to loopback or a pod-local address. */
  admin: z.strictObject({ listen: hostPort }).optional(),
  /** Export spans over OTLP/HTTP (e.g. http://otel-collector:4318/v1/traces); none by default. */
  tracing: z.strictObject({ otlpEndpoint: z.url({ protocol: /^https?$/ }) }).optional(),
  audit: z.strictObject({
    file: z.string().min(1),
    /** Name of this gateway's chain at the control plane: the cluster name (default), or <cluster>/<name> when a cluster runs several gateways. */
    stream: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\/[a-z0-9][-a-z0-9]{0,62})?$/, 'must be <cluster> or <cluster>/<name>').optional(),
  }),
  limits: z
    .strictObject({
      /** Whole-request deadline, from first byte to last byte of the answer. */
      requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
      /** Idle keep-alive connections are closed after this long. */
      keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
      /** How long an identity assertion from a peer gateway stays acceptable. */
      assertionMaxAgeMs: z.number().int().min(1_000).max(300_000).default(60_000),
      /** Consecutive connection failures to a peer gateway before its circuit opens. */
      peerFailureThreshold: z.number().int().min(1).max(1_000).default(5),
      /** How long an open circuit fails requests fast before one probe is let through. */
      peerCooldownMs: z.number().int().min(100).max(600_000).default(5_000),
      /** Policy denials of one identity within denyBurstWindowMs that make a deny-burst signal for the control plane's detector. */
      denyBurstThreshold: z.number().int().min(2).max(100_000).default(20),
      denyBurstWindowMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
      /** Unexpired identity assertions the inbound side remembers to refuse replays; full means new ones are refused. */
      replayGuardCapacity: z.number().int().min(1_000).max(50_000_000).default(1_000_000),
      /** Request line and headers together; larger is refused with 431 before any work is done. */
      maxHeaderBytes: z.number().int().min(1_024).max(1_048_576).default(16_384),
      /** Request body; larger is refused with 413 (at once if Content-Length says so, else when it is reached). */
      maxBodyBytes: z.number().int().min(1_024).max(64 * 1_073_741_824).default(1_073_741_824),
      /** Time a client has to send the request headers: a slow client cannot hold a connection open doing nothing. */
      headersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
      /** Open connections one peer (a workload, or a peer gateway) may hold on a listener. */
      maxConnectionsPerPeer: z.number().int().min(1).max(100_000).default(1_000),
      /** Body of a signed (critical) request: read whole to check its digest before forwarding. */
      maxSignedBodyBytes: z.number().int().min(1_024).max(64 * 1_048_576).default(1_048_576),
    })
    .default({
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      assertionMaxAgeMs: 60_000,
      peerFailureThreshold: 5,
      peerCooldownMs: 5_000,
      denyBurstThreshold: 20,
      denyBurstWindowMs: 60_000,
      replayGuardCapacity: 1_000_000,
      maxHeaderBytes: 16_384,
      maxBodyBytes: 1_073_741_824,
      headersTimeoutMs: 10_000,
      maxConnectionsPerPeer: 1_000,
      maxSignedBodyBytes: 1_048_576,
    }),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

export function loadGatewayConfig(path: string): GatewayConfig {
  const config = loadConfigFile(path, gatewayConfigSchema.transform((c) => withResolvedPaths(c, path)));
  if ('controlPlane' in config.policy && 'cert' in config.identity) {
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${path}: policy from the control plane needs identity from the control plane (server, bundle, joinTokenFile or k8sTokenFile)`, { field: 'policy.controlPlane' });
  }
  return config;
}

function withResolvedPaths(config: GatewayConfig, path: string): GatewayConfig {
  return {
    ...config,
    identity:
      'cert' in config.identity
        ? { cert: resolveFrom(path, config.identity.cert), key: resolveFrom(path, config.identity.key), bundle: resolveFrom(path, config.identity.bundle) }
        : {
            ...config.identity,
            bundle: resolveFrom(path, config.identity.bundle),
            ...(config.identity.joinTokenFile ? { joinTokenFile: resolveFrom(path, config.identity.joinTokenFile) } : {}),
            ...(config.identity.k8sTokenFile ? { k8sTokenFile: resolveFrom(path, config.identity.k8sTokenFile) } : {}),
          },
    policy: 'file' in config.policy ? { file: resolveFrom(path, config.policy.file) } : config.policy,
    audit: { ...config.audit, file: resolveFrom(path, config.audit.file) },
  };
}

export { splitHostPort };
