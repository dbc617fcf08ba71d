import https from 'node:https';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { InterlockError } from '../errors.ts';

/**
 * Where the control plane finds the keys a cluster's API server signs
 * projected service-account tokens with. Three sources, one verification
 * path (attestation.ts):
 *
 * - `jwks`: the JWKS document itself (`kubectl get --raw /openid/v1/jwks`),
 *   for clusters whose API server the control plane cannot reach; updated
 *   with `interlock cluster set-k8s` when the cluster rotates its key;
 * - `jwksUri`: the API server's JWKS endpoint (`/openid/v1/jwks`), fetched
 *   over HTTPS and cached, re-fetched when a token names an unknown key;
 * - `oidcDiscovery`: the issuer's OpenID Connect discovery document
 *   (`<issuer>/.well-known/openid-configuration`, Kubernetes'
 *   ServiceAccountIssuerDiscovery; public for EKS, GKE and AKS issuers),
 *   whose `jwks_uri` is then used as above.
 *
 * A private API server's CA can be given (`caPem`); otherwise the system's
 * roots are used. Fetches are TLS 1.3 only, 5 s at most, and a failing
 * source refuses the token (fail closed), never falls back to another.
 */
export type K8sKeySource =
  | { readonly jwks: JSONWebKeySet }
  | { readonly jwksUri: string; readonly caPem?: string }
  | { readonly oidcDiscovery: true; readonly caPem?: string };

const FETCH_TIMEOUT_MS = 5_000;
const MAX_DOCUMENT_BYTES = 256 * 1024;

function invalid(message: string, field = 'k8s'): InterlockError {
  return new InterlockError('IL_ERR_ATTESTATION_K8S_INVALID', message, { field });
}

function httpsUrl(value: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InterlockError('IL_ERR_REQUEST_INVALID', `${field} is not a URL`, { field });
  }
  if (url.protocol !== 'https:') throw new InterlockError('IL_ERR_REQUEST_INVALID', `${field} must be an https:// URL`, { field });
  return url;
}

/** Checks a source given through the API or a file; the stored form is its JSON. */
export function checkKeySource(source: Record<string, unknown>, issuer: string): K8sKeySource {
  const given = ['jwks', 'jwksUri', 'oidcDiscovery'].filter((k) => source[k] !== undefined && source[k] !== false);
  if (given.length !== 1) throw new InterlockError('IL_ERR_REQUEST_INVALID', 'give exactly one of k8s.jwks, k8s.jwksUri or k8s.oidcDiscovery', { field: 'k8s' });
  const caPem = typeof source.caPem === 'string' ? source.caPem : undefined;
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) throw new InterlockError('IL_ERR_REQUEST_INVALID', 'k8s.caPem must hold PEM certificates', { field: 'k8s.caPem' });
  if (given[0] === 'jwks') {
    const jwks = source.jwks as JSONWebKeySet;
    if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new InterlockError('IL_ERR_REQUEST_INVALID', 'k8s.jwks must be a JWKS with at least one key', { field: 'k8s.jwks' });
    return { jwks };
  }
  if (given[0] === 'jwksUri') {
    httpsUrl(String(source.jwksUri), 'k8s.jwksUri');
    return { jwksUri: String(source.jwksUri), ...(caPem ? { caPem } : {}) };
  }
  httpsUrl(issuer, 'k8s.issuer');
  return { oidcDiscovery: true, ...(caPem ? { caPem } : {}) };
}

/** The stored form (the cluster row's k8sJwks column): a JWKS, or a JSON object naming a remote source. */
export function parseStoredSource(text: string): K8sKeySource {
  const value = JSON.parse(text) as Record<string, unknown>;
  if (Array.isArray(value.keys)) return { jwks: value as unknown as JSONWebKeySet };
  if (typeof value.jwksUri === 'string') return { jwksUri: value.jwksUri, ...(typeof value.caPem === 'string' ? { caPem: value.caPem } : {}) };
  if (value.oidcDiscovery === true) return { oidcDiscovery: true, ...(typeof value.caPem === 'string' ? { caPem: value.caPem } : {}) };
  throw invalid('the stored Kubernetes key source is malformed');
}

export function describeSource(source: K8sKeySource): string {
  if ('jwks' in source) return `JWKS with ${source.jwks.keys.length} key${source.jwks.keys.length === 1 ? '' : 's'}`;
  if ('jwksUri' in source) return `JWKS from ${source.jwksUri}${source.caPem ? ' (private CA)' : ''}`;
  return `OIDC discovery${source.caPem ? ' (private CA)' : ''}`;
}

/** GET over HTTPS (TLS 1.3, verified against `caPem` or the system roots), bounded in time and size. */
function get(url: string, caPem: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { minVersion: 'TLSv1.3', ...(caPem ? { ca: caPem } : {}), headers: { accept: 'application/json', ...headers }, timeout: FETCH_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_DOCUMENT_BYTES) request.destroy(new Error(`answer larger than ${MAX_DOCUMENT_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

/** jose fetches remote key sets with this (so a private CA and TLS 1.3 apply), not the global fetch. */
function fetchWith(caPem: string | undefined) {
  return async (url: string, options: { headers: Headers }): Promise<Response> => {
    const answer = await get(url, caPem, Object.fromEntries(options.headers.entries()));
    return new Response(new Uint8Array(answer.body), { status: answer.status, headers: answer.headers });
  };
}

async function discoverJwksUri(issuer: string, caPem: string | undefined): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const answer = await get(url, caPem);
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
    document = JSON.parse(answer.body.toString('utf8')) as typeof document;
  } catch (error) {
    throw invalid(`OIDC discovery at ${url} failed: ${(error as Error).message}`);
  }
  // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one asked for.
  if (document.issuer !== issuer) throw invalid(`OIDC discovery at ${url} names issuer ${JSON.stringify(document.issuer)}, not ${issuer}`);
  if (typeof document.jwks_uri !== 'string' || !document.jwks_uri.startsWith('https://')) throw invalid(`OIDC discovery at ${url} has no https jwks_uri`);
  return document.jwks_uri;
}

interface CachedKeys {
  readonly key: string;
  readonly getKey: Promise<JWTVerifyGetKey>;
}

/** Key sets per cluster, kept while the cluster's source is unchanged (jose caches the fetched keys inside). */
export class K8sKeySets {
  readonly #byCluster = new Map<string, CachedKeys>();

  /** The verification keys for a cluster's tokens; a failed discovery is forgotten, so the next token tries again. */
  forCluster(cluster: string, issuer: string, stored: string): Promise<JWTVerifyGetKey> {
    const key = `${issuer}\n${stored}`;
    const cached = this.#byCluster.get(cluster);
    if (cached?.key === key) return cached.getKey;
    const getKey = this.#build(issuer, parseStoredSource(stored));
    this.#byCluster.set(cluster, { key, getKey });
    getKey.catch(() => {
      if (this.#byCluster.get(cluster)?.getKey === getKey) this.#byCluster.delete(cluster);
    });
    return getKey;
  }

  async #build(issuer: string, source: K8sKeySource): Promise<JWTVerifyGetKey> {
    if ('jwks' in source) return createLocalJWKSet(source.jwks);
    const uri = 'jwksUri' in source ? source.jwksUri : await discoverJwksUri(issuer, source.caPem);
    return createRemoteJWKSet(new URL(uri), { timeoutDuration: FETCH_TIMEOUT_MS, cooldownDuration: 5_000, cacheMaxAge: 10 * 60_000, [customFetch]: fetchWith(source.caPem) });
  }
}

/** The API's `k8s` object (issuer plus one source) as the cluster row stores it. */
export function k8sAttestationFrom(body: { issuer: string } & Record<string, unknown>): { issuer: string; jwks: string } {
  const source = checkKeySource(body, body.issuer);
  return { issuer: body.issuer, jwks: JSON.stringify('jwks' in source ? source.jwks : source) };
}

/** JSON schema of the API's `k8s` object (Fastify validates it before checkKeySource). */
export const K8S_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer'],
  properties: {
    issuer: { type: 'string', minLength: 1, maxLength: 512 },
    jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', minItems: 1 } } },
    jwksUri: { type: 'string', minLength: 9, maxLength: 2048 },
    oidcDiscovery: { type: 'boolean' },
    caPem: { type: 'string', minLength: 1, maxLength: 65_536 },
  },
} as const;

/** Checks a source in its stored form (what apply and the API both store), so no path stores one the API would refuse. */
export function checkStoredSource(text: string, issuer: string): void {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new InterlockError('IL_ERR_REQUEST_INVALID', 'k8s.jwks is not JSON', { field: 'k8s.jwks' });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InterlockError('IL_ERR_REQUEST_INVALID', 'k8s.jwks must be a JSON object', { field: 'k8s.jwks' });
  checkKeySource('keys' in value ? { jwks: value } : value, issuer);
}

