import { z } from 'zod';
import { closest, loadConfigFile, parseConfig } from '../config/load.ts';
import { InterlockError } from '../errors.ts';
import { clusterNameField, trustDomainField } from '../config/fields.ts';
import { serverConfigSchema } from '../server/config.ts';
import { gatewayConfigSchema } from '../gateway/config.ts';
import { K8S_AUDIENCE } from '../server/attestation.ts';

/**
 * The values file of `interlock deploy render`: everything an operator
 * chooses about a Kubernetes install, with a default for every key, so an
 * empty file renders the control plane. Unknown keys are rejected with a
 * did-you-mean hint, like every other Interlock configuration.
 */

// Kubernetes object names: RFC 1123 labels (Services, namespaces) and subdomains (Secrets, ConfigMaps).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsLabel = z.string().regex(DNS_LABEL, 'must be a DNS label (lowercase letters, digits, dashes, at most 63)');
const objectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a Kubernetes object name (lowercase DNS subdomain)');
const dataKey = z.string().max(253).regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret or ConfigMap key (letters, digits, -, _ and .)');
const port = z.number().int().min(1).max(65535);
const nodePort = z.number().int().min(30000).max(32767);
// A non-negative Kubernetes quantity (k8s.io/apimachinery resource.Quantity), e.g. 250m, 1, 512Mi.
const quantity = z.string().regex(/^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'must be a Kubernetes quantity, e.g. 250m or 512Mi');
const hostPort = z
  .string()
  .regex(/^([a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\]):\d{1,5}$/, 'must be host:port, e.g. billing.billing.svc:8080')
  .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535, 'port must be 1–65535');
const clusterName = clusterNameField;
const trustDomain = trustDomainField;

function resources(defaults: { cpu: string; memory: string; memoryLimit: string; cpuLimit: string }) {
  return z
    .strictObject({
      requests: z.strictObject({ cpu: quantity.default(defaults.cpu), memory: quantity.default(defaults.memory) }).prefault({}),
      limits: z.strictObject({ cpu: quantity.default(defaults.cpuLimit), memory: quantity.default(defaults.memoryLimit) }).prefault({}),
    })
    .prefault({});
}

function secretRef(name: string, key: string) {
  return z.strictObject({ name: objectName.default(name), key: dataKey.default(key) }).prefault({});
}

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// URL')
  .refine((value) => {
    try {
      return new URL(value).password === '';
    } catch {
      return false;
    }
  }, 'must be a postgres:// URL without a password: the password comes from passwordSecret');

const controlPlaneSchema = z
  .strictObject({
    /** Several replicas share one PostgreSQL store (docs/store.md). */
    replicas: z.number().int().min(1).max(50).default(2),
    port: port.default(8443),
    serviceType: z.enum(['ClusterIP', 'LoadBalancer', 'NodePort']).default('ClusterIP'),
    nodePort: nodePort.optional(),
    /** Annotations for the Service, e.g. a cloud load balancer's settings. */
    serviceAnnotations: z.record(z.string(), z.string()).default({}),
    postgres: z
      .strictObject({
        /** Host, user, database and options; the password is not part of it. */
        url: postgresUrl.default('postgres://interlock@postgres.interlock-system.svc:5432/interlock'),
        /** The Secret whose key holds the database password ($INTERLOCK_STORE_PASSWORD). */
        passwordSecret: secretRef('interlock-postgres', 'password'),
      })
      .prefault({}),
    /** The Secret that unseals the CA keys: a passphrase, or a key file from `interlock ca keygen`. */
    caKeySecret: z
      .strictObject({ name: objectName.default('interlock-ca-key'), key: dataKey.default('passphrase'), kind: z.enum(['passphrase', 'keyFile']).default('passphrase') })
      .prefault({}),
    /** Extra names in the server certificate; the Service's names and the hosts of every gateway's controlPlaneUrl are added. */
    tls: z
      .strictObject({
        dnsNames: z.array(z.string().regex(/^[a-zA-Z0-9*.-]+$/, 'must be a DNS name')).default([]),
        ipAddresses: z.array(z.ipv4().or(z.ipv6())).default([]),
      })
      .prefault({}),
    /** On an empty store, create admin "admin" and write its token to /var/run/interlock/bootstrap/admin.token in the pod. */
    bootstrapAdmin: z.boolean().default(true),
    /** Serve Prometheus metrics on this port (plain HTTP); none by default. */
    metricsPort: port.optional(),
    policy: serverConfigSchema.shape.policy.unwrap().optional(),
    detectors: serverConfigSchema.shape.detectors.unwrap().optional(),
    resources: resources({ cpu: '100m', memory: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' }),
  })
  .superRefine((cp, ctx) => {
    if (cp.nodePort !== undefined && cp.serviceType !== 'NodePort') ctx.addIssue({ code: 'custom', path: ['nodePort'], message: 'nodePort needs serviceType NodePort' });
    if (cp.metricsPort === cp.port) ctx.addIssue({ code: 'custom', path: ['metricsPort'], message: 'metricsPort must differ from port' });
  });

const exportedServiceSchema = z.strictObject({
  /** The name remote workloads use: <name>.<cluster>.interlock. */
  name: dnsLabel,
  /** The service's Kubernetes namespace; with protocol https it also gives the default expected SPIFFE ID. */
  namespace: dnsLabel,
  /** host:port of the service inside the cluster, e.g. billing.billing.svc:8080. */
  upstream: hostPort,
  /** https: the service takes the gateway's SVID (mTLS) and must present its own SPIFFE ID. */
  protocol: z.enum(['http', 'https']).default('http'),
  /** The SPIFFE ID an https upstream must present (default spiffe://<trust domain>/ns/<namespace>/sa/<name>). */
  id: z.string().startsWith('spiffe://').optional(),
  classification: z.enum(['public', 'internal', 'confidential', 'restricted']).optional(),
  critical: z.union([z.boolean(), z.array(z.string().regex(/^[A-Z]+ \/\S*$/, 'must be "METHOD /path-prefix", e.g. "POST /invoices"'))]).optional(),
});

const gatewaySchema = z
  .strictObject({
    cluster: clusterName,
    /** Default <cluster>.<domain>, as `interlock cluster add` assigns it. */
    trustDomain: trustDomain.optional(),
    /** host:port where the other clusters' gateways reach this one's east-west port (the load balancer's name, or a node address with the node port). */
    address: hostPort,
    eastWestPort: port.default(15443),
    /** Where local workloads reach remote services (a ClusterIP Service). */
    outboundPort: port.default(15001),
    /** Health, readiness and metrics (plain HTTP); reachable only by the kubelet, not by other pods. */
    adminPort: port.default(15021),
    serviceType: z.enum(['LoadBalancer', 'NodePort']).default('LoadBalancer'),
    nodePort: nodePort.optional(),
    serviceAnnotations: z.record(z.string(), z.string()).default({}),
    /** The control plane's URL as seen from this cluster. */
    controlPlaneUrl: z.url({ protocol: /^https$/ }),
    /** Expected SPIFFE ID of the control plane; default: its certificate must name the URL's host. */
    controlPlaneId: z.string().startsWith('spiffe://').optional(),
    /** The ConfigMap holding the control plane's trust bundle (`interlock server bundle`). */
    trustBundle: z.strictObject({ configMap: objectName.default('interlock-trust-bundle'), key: dataKey.default('bundle.pem') }).prefault({}),
    services: z.array(exportedServiceSchema).default([]),
    replicas: z.number().int().min(1).max(50).default(2),
    resources: resources({ cpu: '250m', memory: '256Mi', cpuLimit: '2', memoryLimit: '1Gi' }),
    limits: gatewayConfigSchema.shape.limits.unwrap().optional(),
    tracing: gatewayConfigSchema.shape.tracing,
  })
  .superRefine((gateway, ctx) => {
    if (gateway.nodePort !== undefined && gateway.serviceType !== 'NodePort') ctx.addIssue({ code: 'custom', path: ['nodePort'], message: 'nodePort needs serviceType NodePort' });
    const ports = [['eastWestPort', gateway.eastWestPort], ['outboundPort', gateway.outboundPort], ['adminPort', gateway.adminPort]] as const;
    for (const [i, [name, value]] of ports.entries()) {
      if (ports.slice(0, i).some(([, other]) => other === value)) ctx.addIssue({ code: 'custom', path: [name], message: `port ${value} is already used by another listener` });
    }
    for (const [i, service] of gateway.services.entries()) {
      if (gateway.services.slice(0, i).some((s) => s.name === service.name)) ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: `service ${service.name} is exported twice` });
      if (service.id && service.protocol !== 'https') ctx.addIssue({ code: 'custom', path: ['services', i, 'id'], message: 'id applies only to protocol https' });
    }
  });

export const valuesSchema = z
  .strictObject({
    image: z
      .strictObject({
        repository: z.string().regex(/^[a-z0-9]+([._\-/:][a-z0-9]+)*$/, 'must be an image repository, e.g. ghcr.io/acme/interlock').default('interlock'),
        tag: z.string().regex(/^[\w][\w.-]{0,127}$/, 'must be an image tag').default('0.1.0'),
        /** sha256:… pins the image; it then wins over the tag. */
        digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex digits>').optional(),
        pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
      })
      .prefault({}),
    imagePullSecrets: z.array(objectName).default([]),
    namespace: dnsLabel.default('interlock-system'),
    organization: serverConfigSchema.shape.organization,
    domain: serverConfigSchema.shape.domain,
    /** The projected token each gateway attests with (Kubernetes TokenRequest: at least 10 minutes). */
    serviceAccountToken: z
      .strictObject({
        /** The control plane accepts only this audience (server/attestation.ts). */
        audience: z.literal(K8S_AUDIENCE).default(K8S_AUDIENCE),
        expirationSeconds: z.number().int().min(600).max(86_400).default(3600),
      })
      .prefault({}),
    controlPlane: controlPlaneSchema.prefault({}),
    gateways: z.array(gatewaySchema).default([]),
  })
  .superRefine((values, ctx) => {
    for (const [i, gateway] of values.gateways.entries()) {
      if (values.gateways.slice(0, i).some((g) => g.cluster === gateway.cluster)) ctx.addIssue({ code: 'custom', path: ['gateways', i, 'cluster'], message: `cluster ${gateway.cluster} has two gateways` });
    }
  });

export type Values = z.infer<typeof valuesSchema>;
export type GatewayValues = Values['gateways'][number];
export type ExportedService = GatewayValues['services'][number];

export function loadValues(path: string): Values {
  try {
    return withArrayHints(() => loadConfigFile(path, valuesSchema));
  } catch (error) {
    // loadConfigFile names --config for an unreadable or non-YAML file; here the file came from --values.
    if (error instanceof InterlockError && error.field === '--config') throw new InterlockError(error.code, error.message, { field: '--values' });
    throw error;
  }
}

export function parseValues(raw: unknown, source = 'values'): Values {
  return withArrayHints(() => parseConfig(raw ?? {}, valuesSchema, source));
}

/** The trust domain a gateway's cluster has: given, or <cluster>.<domain> as the control plane assigns it. */
export function gatewayTrustDomain(values: Values, gateway: GatewayValues): string {
  return gateway.trustDomain ?? `${gateway.cluster}.${values.domain}`;
}

// config/load.ts finds did-you-mean hints through objects and records only;
// values have lists of objects (gateways, services), so their typos get a hint here.
function withArrayHints<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof InterlockError) || error.code !== 'IL_ERR_CONFIG_UNKNOWN_KEY' || error.hint || !error.field) throw error;
    const path = error.field.split('.');
    const key = path.pop()!;
    const known = knownKeysAt(valuesSchema, path);
    const suggestion = closest(key, known);
    const hint = suggestion ? `did you mean ${JSON.stringify(suggestion)}?` : known.length ? `known keys: ${known.join(', ')}` : undefined;
    throw new InterlockError(error.code, error.message, { field: error.field, ...(hint ? { hint } : {}) });
  }
}

function knownKeysAt(schema: z.ZodType, path: readonly string[]): string[] {
  let current: unknown = unwrap(schema);
  for (const part of path) {
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, unknown>)[part];
    else if (current instanceof z.ZodArray && /^\d+$/.test(part)) current = current.element;
    else if (current instanceof z.ZodRecord) current = current.def.valueType;
    else return [];
    current = unwrap(current);
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { def?: { innerType?: unknown; in?: unknown; schema?: unknown } } | undefined;
  while (current?.def?.innerType || current?.def?.in) current = (current.def.innerType ?? current.def.in) as typeof current;
  return current;
}
