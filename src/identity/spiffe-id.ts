import { InterlockError } from '../errors.ts';

/**
 * SPIFFE IDs, parsed as the SPIFFE ID specification says (spiffe/standards,
 * SPIFFE-ID.md §2) and as go-spiffe, the reference implementation, enforces:
 *   - scheme is exactly `spiffe`, followed by `://`;
 *   - the trust domain is 1–255 characters of [a-z0-9._-] (lowercase only,
 *     no port, no userinfo, no percent-encoding);
 *   - the path is optional for trust-domain IDs; each segment is non-empty,
 *     of [a-zA-Z0-9._-], and neither `.` nor `..`; no trailing slash;
 *   - no query or fragment; at most 2048 bytes in all.
 */
export interface SpiffeId {
  /** The whole ID, e.g. `spiffe://east.acme.internal/ns/shop/sa/frontend`. */
  readonly id: string;
  readonly trustDomain: string;
  /** The path with its leading slash, or '' for a trust-domain ID. */
  readonly path: string;
  /** Kubernetes namespace when the path follows the `/ns/<ns>/sa/<sa>` convention. */
  readonly namespace?: string;
  /** Kubernetes service account under the same convention. */
  readonly serviceAccount?: string;
}

const SCHEME_PREFIX = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const PATH_SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;

function invalid(value: string, why: string, field: string): InterlockError {
  return new InterlockError('IL_ERR_SPIFFE_ID_INVALID', `invalid SPIFFE ID ${JSON.stringify(value)}: ${why}`, {
    field,
    hint: 'a SPIFFE ID looks like spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>',
  });
}

/** Checks a trust domain name; returns it unchanged or throws IL_ERR_SPIFFE_ID_INVALID. */
export function parseTrustDomain(value: string, field = 'trustDomain'): string {
  return checkTrustDomain(value, value, field);
}

/** `whole` is what the user typed, so the message quotes all of it. */
function checkTrustDomain(trustDomain: string, whole: string, field: string): string {
  if (trustDomain.length === 0) throw invalid(whole, 'trust domain is empty', field);
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) throw invalid(whole, `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`, field);
  if (!TRUST_DOMAIN_CHARS.test(trustDomain)) {
    throw invalid(whole, 'trust domain characters are limited to lowercase letters, digits, dots, dashes and underscores', field);
  }
  return trustDomain;
}

/** Parses a SPIFFE ID or throws IL_ERR_SPIFFE_ID_INVALID naming what is wrong. */
export function parseSpiffeId(value: string, field = 'spiffeId'): SpiffeId {
  // Not String(value): an object from parsed JSON may carry a `toString` member that is not a function.
  if (typeof value !== 'string') throw invalid('', `it is ${value === null ? 'null' : `a ${typeof value}`}, not a string`, field);
  if (value.length === 0) throw invalid(value, 'it is empty', field);
  if (Buffer.byteLength(value, 'utf8') > MAX_ID_BYTES) throw invalid(value, `it is longer than ${MAX_ID_BYTES} bytes`, field);
  if (!value.startsWith(SCHEME_PREFIX)) throw invalid(value, 'scheme must be "spiffe://" (lowercase)', field);
  const rest = value.slice(SCHEME_PREFIX.length);
  if (/[?#]/.test(rest)) throw invalid(value, 'query and fragment are not allowed', field);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (trustDomain.length === 0) throw invalid(value, 'trust domain is missing', field);
  if (trustDomain.includes('@')) throw invalid(value, 'userinfo is not allowed in the trust domain', field);
  if (trustDomain.includes(':')) throw invalid(value, 'a port is not allowed in the trust domain', field);
  checkTrustDomain(trustDomain, value, field);
  if (path !== '') checkPath(value, path, field);
  return withKubernetesParts({ id: value, trustDomain, path });
}

function checkPath(value: string, path: string, field: string): void {
  const segments = path.slice(1).split('/');
  for (const segment of segments) {
    if (segment.length === 0) throw invalid(value, 'path segments must not be empty (no "//" and no trailing "/")', field);
    if (segment === '.' || segment === '..') throw invalid(value, 'path segments "." and ".." are not allowed', field);
    if (!PATH_SEGMENT_CHARS.test(segment)) {
      throw invalid(value, 'path characters are limited to letters, digits, dots, dashes and underscores', field);
    }
  }
}

function withKubernetesParts(base: { id: string; trustDomain: string; path: string }): SpiffeId {
  const match = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(base.path);
  if (!match) return base;
  return { ...base, namespace: match[1], serviceAccount: match[2] };
}

/** A workload SVID must name a workload, not the trust domain itself (X509-SVID §2). */
export function parseWorkloadSpiffeId(value: string, field = 'spiffeId'): SpiffeId {
  const parsed = parseSpiffeId(value, field);
  if (parsed.path === '') throw invalid(value, 'a workload ID needs a path after the trust domain', field);
  return parsed;
}

export function spiffeIdFor(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${SCHEME_PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The ID every Interlock gateway of a cluster carries, so peers can tell gateways from workloads. */
export const GATEWAY_NAMESPACE = 'interlock-system';
export const GATEWAY_SERVICE_ACCOUNT = 'interlock-gateway';

export function gatewaySpiffeId(trustDomain: string): string {
  return spiffeIdFor(trustDomain, GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT);
}

export function isGatewayId(id: SpiffeId): boolean {
  return id.namespace === GATEWAY_NAMESPACE && id.serviceAccount === GATEWAY_SERVICE_ACCOUNT;
}
