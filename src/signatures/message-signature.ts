import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { InterlockError } from '../errors.ts';

/**
 * HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530), in the
 * profile Interlock uses for critical routes: one signature labelled
 * `sig1`, algorithm ecdsa-p256-sha256 (§3.3.4: r‖s, 64 bytes), covering at
 * least "@method" "@authority" "@path" and "content-digest", with the
 * parameters `created`, `nonce` and `keyid` (the signer's SPIFFE ID). The
 * workload SDK signs with its SVID key; the inbound gateway verifies with
 * the key the calling side's gateway vouched for in the identity assertion.
 */
export const REQUIRED_COMPONENTS = ['@method', '@authority', '@path', 'content-digest'] as const;
export const SIGNATURE_LABEL = 'sig1';
const ALGORITHM = 'ecdsa-p256-sha256';

export interface SignableRequest {
  readonly method: string;
  readonly authority: string;
  /** Path and query, as sent. */
  readonly path: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface SignatureParams {
  readonly components: readonly string[];
  readonly created: number;
  readonly nonce: string;
  readonly keyid: string;
}

const invalid = (message: string, field = 'signature') => new InterlockError('IL_ERR_SIGNATURE_INVALID', message, { field });

/** RFC 9530 §2: `sha-256=:<base64>:` of the body bytes. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

function componentValue(request: SignableRequest, name: string): string {
  switch (name) {
    case '@method':
      return request.method.toUpperCase();
    case '@authority':
      return request.authority.toLowerCase();
    case '@path':
      return request.path.split('?')[0] || '/';
    case '@query': {
      const q = request.path.indexOf('?');
      return q === -1 ? '?' : request.path.slice(q);
    }
    default: {
      if (name.startsWith('@')) throw invalid(`component ${name} is not supported`);
      // Own members only: "constructor" or "__proto__" would otherwise name Object.prototype's.
      const value = Object.hasOwn(request.headers, name) ? request.headers[name] : undefined;
      if (value === undefined) throw invalid(`covered header ${name} is missing from the request`, name);
      // §2.1: multiple values are joined with ", ", leading and trailing spaces trimmed.
      return (Array.isArray(value) ? value.join(', ') : value).trim();
    }
  }
}

export function serializeParams(params: SignatureParams): string {
  const list = params.components.map((c) => `"${c}"`).join(' ');
  return `(${list});created=${params.created};keyid="${params.keyid}";nonce="${params.nonce}";alg="${ALGORITHM}"`;
}

/** §2.5: the signature base. */
export function signatureBase(request: SignableRequest, params: SignatureParams): string {
  const lines = params.components.map((name) => `"${name}": ${componentValue(request, name)}`);
  lines.push(`"@signature-params": ${serializeParams(params)}`);
  return lines.join('\n');
}

export function signMessage(request: SignableRequest, params: SignatureParams, key: KeyObject): { 'signature-input': string; signature: string } {
  const signature = cryptoSign('sha256', Buffer.from(signatureBase(request, params)), { key, dsaEncoding: 'ieee-p1363' });
  return { 'signature-input': `${SIGNATURE_LABEL}=${serializeParams(params)}`, signature: `${SIGNATURE_LABEL}=:${signature.toString('base64')}:` };
}

const INPUT = new RegExp(`^${SIGNATURE_LABEL}=\\(((?:"[a-z0-9@._-]+"\\s*)*)\\)((?:;[a-z]+=(?:"[^"]*"|\\d+))*)$`);
// RFC 8941 §3.3.5 byte sequence: base64 (RFC 4648 §4) with padding only at the end, so one signature has
// one spelling (a lenient decoder would accept `…Q=Q==` for `…Q==`, the same bytes under another header value).
const SIG = new RegExp(`^${SIGNATURE_LABEL}=:((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?):$`);

/** Parses Signature-Input (our profile of RFC 9421 §4.1; RFC 8941 inner list with parameters). */
export function parseSignatureInput(value: string | string[] | undefined): SignatureParams {
  if (typeof value !== 'string') throw invalid('the request carries no Signature-Input header', 'signature-input');
  const match = INPUT.exec(value.trim());
  if (!match) throw invalid(`Signature-Input is not ${SIGNATURE_LABEL}=(<components>);created=…;keyid="…";nonce="…"`, 'signature-input');
  const components = [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  const params = new Map([...match[2]!.matchAll(/;([a-z]+)=(?:"([^"]*)"|(\d+))/g)].map((m) => [m[1]!, m[2] ?? m[3]!]));
  for (const required of REQUIRED_COMPONENTS) if (!components.includes(required)) throw invalid(`the signature must cover ${required}`, 'signature-input');
  const created = Number(params.get('created'));
  const nonce = params.get('nonce');
  const keyid = params.get('keyid');
  if (!Number.isInteger(created) || !nonce || !keyid) throw invalid('Signature-Input needs created, nonce and keyid', 'signature-input');
  const alg = params.get('alg');
  if (alg !== undefined && alg !== ALGORITHM) throw invalid(`algorithm ${alg} is not accepted; use ${ALGORITHM}`, 'signature-input');
  return { components, created, nonce, keyid };
}

/**
 * Verifies the signature and the body digest of a request whose body has
 * been read in full; checks `created` against the clock. Returns the
 * parameters (for the replay guard), or throws IL_ERR_SIGNATURE_INVALID.
 */
export function verifyMessage(request: SignableRequest, body: Uint8Array, key: KeyObject, expect: { signer: string; nowSeconds: number; maxAgeSeconds: number; skewSeconds: number }): SignatureParams {
  const params = parseSignatureInput(request.headers['signature-input']);
  if (params.keyid !== expect.signer) throw invalid(`the signature names ${params.keyid}, but the caller is ${expect.signer}`, 'signature-input');
  if (params.created > expect.nowSeconds + expect.skewSeconds) throw invalid(`the signature was created ${params.created - expect.nowSeconds} s in the future (more than the ${expect.skewSeconds} s allowed)`, 'signature-input');
  if (params.created < expect.nowSeconds - expect.maxAgeSeconds) throw invalid(`the signature is ${expect.nowSeconds - params.created} s old (more than ${expect.maxAgeSeconds} s)`, 'signature-input');
  const digest = request.headers['content-digest'];
  if (typeof digest !== 'string' || digest.trim() !== contentDigest(body)) throw invalid('Content-Digest does not match the body', 'content-digest');
  const sig = SIG.exec(String(request.headers.signature ?? '').trim());
  if (!sig) throw invalid('the request carries no sig1 Signature header', 'signature');
  // Unused low bits of the last base64 character must be zero too: re-encoding gives back the same text.
  if (Buffer.from(sig[1]!, 'base64').toString('base64') !== sig[1]) throw invalid('the sig1 signature is not canonical base64', 'signature');
  const signed = Buffer.from(signatureBase(request, params));
  let ok: boolean;
  try {
    ok = cryptoVerify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig[1]!, 'base64'));
  } catch {
    // The key came from the identity assertion's cnf.jwk; one that cannot do ECDSA (Ed25519, X25519) makes verify throw.
    throw invalid(`the signature does not verify: the vouched workload key (${key.asymmetricKeyType ?? 'unknown'}) cannot check ${ALGORITHM}`, 'signature');
  }
  if (!ok) throw invalid('the signature does not verify: the method, authority, path, a covered header or the body changed', 'signature');
  return params;
}
