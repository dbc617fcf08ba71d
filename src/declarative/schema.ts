/**
 * One schema for the declarative files, per kind, and one for the
 * normalised desired state the API takes. Unknown keys are refused
 * everywhere (strict objects), as for every other configuration file.
 */
import { z } from 'zod';
import { parseTrustDomain, parseWorkloadSpiffeId } from '../identity/spiffe-id.ts';
import { SVID_TTL_DEFAULT_MS, SVID_TTL_MAX_MS, SVID_TTL_MIN_MS } from '../pki/certificates.ts';
import type { AdminRole } from '../store/types.ts';
import { API_VERSION, KINDS, type Kind } from './types.ts';

export const ROLE_NAMES: readonly AdminRole[] = ['policy-author', 'policy-approver', 'key-custodian', 'auditor', 'operator'];
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted'] as const;

/** RFC 1123 label: cluster, namespace and service names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsLabel = z.string().regex(DNS_LABEL, 'must be a DNS label: lowercase letters, digits and dashes, at most 63 characters');
const clusterName = dnsLabel.refine((name) => name !== 'root', '"root" is reserved (it names the root CA in rotations)');
const adminName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be lowercase letters, digits, ".", "_" or "-", at most 63 characters');
/** Labels for entries and policies: a DNS subdomain. */
const objectName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be lowercase letters, digits, "." and "-", starting and ending with a letter or digit');
const serviceAccount = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a Kubernetes service-account name');

/** Reuses the SPIFFE ID and trust-domain parsers, so a file is judged exactly as the API would judge it. */
function checkedBy(parse: (value: string) => unknown) {
  return (value: string, ctx: z.RefinementCtx) => {
    try {
      parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  };
}
const trustDomain = z.string().superRefine(checkedBy((v) => parseTrustDomain(v)));
const spiffeId = z.string().superRefine(checkedBy((v) => parseWorkloadSpiffeId(v)));

/**
 * How the control plane gets the cluster's service-account token keys
 * (server/k8s-keys.ts): the JWKS itself, its https URL, or the issuer's
 * OIDC discovery document; `caPem` for a private API server.
 */
const k8s = z
  .strictObject({
    issuer: z.string().min(1).max(512),
    /** The cluster's service-account token signing keys, as a JWKS document (RFC 7517 §5). */
    jwks: z.looseObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1, 'a JWKS needs at least one key') }).optional(),
    jwksUri: z.string().regex(/^https:\/\/\S+$/, 'must be an https:// URL').max(2048).optional(),
    oidcDiscovery: z.literal(true).optional(),
    caPem: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must hold PEM certificates' }).max(65_536).optional(),
  })
  .refine((v) => [v.jwks, v.jwksUri, v.oidcDiscovery].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of jwks, jwksUri or oidcDiscovery' })
  .refine((v) => !v.jwks || v.caPem === undefined, { message: 'caPem goes with jwksUri or oidcDiscovery', path: ['caPem'] });

/** The form the control plane stores: the JWKS itself, or the remote source naming where to fetch it. */
const storedK8s = z.strictObject({ issuer: z.string().min(1).max(512), jwks: z.looseObject({}) });

/** A Cluster's k8s section as stored (and compared): { issuer, jwks: <JWKS or remote source> }. */
export function storedK8sOf(spec: z.infer<typeof k8s>): { issuer: string; jwks: Record<string, unknown> } {
  if (spec.jwks) return { issuer: spec.issuer, jwks: spec.jwks };
  const source = spec.jwksUri ? { jwksUri: spec.jwksUri } : { oidcDiscovery: true };
  return { issuer: spec.issuer, jwks: { ...source, ...(spec.caPem ? { caPem: spec.caPem } : {}) } };
}

const critical = z.union([
  z.boolean(),
  z.array(z.string().regex(/^[A-Z]+ \/\S*$/, 'must be "METHOD /path-prefix", e.g. "POST /invoices"')),
], { error: 'must be true, false, or a list of "METHOD /path-prefix"' });

const ttlSeconds = z.number().int().min(SVID_TTL_MIN_MS / 1000).max(SVID_TTL_MAX_MS / 1000);
const roles = z.array(z.enum(ROLE_NAMES as [AdminRole, ...AdminRole[]])).min(1).refine((list) => new Set(list).size === list.length, 'roles must not repeat');

/** What a document's `spec` holds, per kind. */
export const SPEC_SCHEMAS = {
  Cluster: z.strictObject({ trustDomain: trustDomain.optional(), k8s: k8s.optional() }),
  Entry: z.strictObject({
    cluster: clusterName,
    spiffeId,
    namespace: dnsLabel.optional(),
    serviceAccount: serviceAccount.optional(),
    ttlSeconds: ttlSeconds.default(SVID_TTL_DEFAULT_MS / 1000),
    gateway: z.boolean().default(false),
  }),
  Service: z.strictObject({
    cluster: clusterName,
    namespace: dnsLabel,
    classification: z.enum(CLASSIFICATIONS),
    critical: critical.default(false),
  }),
  Policy: z.strictObject({
    /** A .cedar file, relative to the YAML file that names it. */
    file: z.string().min(1).optional(),
    text: z.string().min(1).max(1_000_000).optional(),
  }).refine((p) => (p.file === undefined) !== (p.text === undefined), 'give exactly one of file or text'),
  Admin: z.strictObject({ roles, disabled: z.boolean().default(false) }),
} as const satisfies Record<Kind, z.ZodType>;

/** metadata.name, per kind. */
export const NAME_SCHEMAS: Record<Kind, z.ZodType<string>> = {
  Cluster: clusterName,
  Entry: objectName,
  Service: dnsLabel,
  Policy: objectName,
  Admin: adminName,
};

/** The envelope every document shares; `spec` is checked against its kind's schema afterwards. */
export const DOCUMENT_SCHEMA = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: `must be ${API_VERSION}` }),
  kind: z.enum(KINDS, { error: `must be one of ${KINDS.join(', ')}` }),
  metadata: z.strictObject({ name: z.string().min(1) }),
  spec: z.unknown().optional(),
});

/** The normalised desired state, as the API takes it (declarative/types.ts DesiredState). */
export const DESIRED_STATE_SCHEMA = z.strictObject({
  clusters: z.array(z.strictObject({ name: clusterName, trustDomain: trustDomain.nullable(), k8s: storedK8s.nullable() })).max(1000),
  entries: z.array(z.strictObject({
    name: objectName,
    cluster: clusterName,
    spiffeId,
    namespace: dnsLabel.nullable(),
    serviceAccount: serviceAccount.nullable(),
    ttlSeconds,
    gateway: z.boolean(),
  })).max(100_000),
  services: z.array(z.strictObject({ name: dnsLabel, cluster: clusterName, namespace: dnsLabel, classification: z.enum(CLASSIFICATIONS), critical })).max(100_000),
  policies: z.array(z.strictObject({ name: objectName, text: z.string().min(1).max(1_000_000) })).max(100),
  admins: z.array(z.strictObject({ name: adminName, roles, disabled: z.boolean() })).max(10_000),
});

/** The keys a strict object schema knows at `path` (array indexes skipped), for a did-you-mean hint. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current = unwrap(schema);
  for (const part of path) {
    if (current instanceof z.ZodArray) current = unwrap(current.element);
    if (typeof part === 'number') continue;
    if (!(current instanceof z.ZodObject)) return [];
    current = unwrap((current.shape as Record<string, unknown>)[String(part)]);
  }
  if (current instanceof z.ZodArray) current = unwrap(current.element);
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/** Through optional, default and pipe wrappers to the schema that holds the shape. */
function unwrap(schema: unknown): unknown {
  let current = schema as { def?: { innerType?: unknown; in?: unknown } } | undefined;
  while (current?.def?.innerType || current?.def?.in) current = (current.def.innerType ?? current.def.in) as typeof current;
  return current;
}
