import { createHmac, createPublicKey, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { JWK } from 'jose';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { parseWorkloadSpiffeId, type SpiffeId } from '../identity/spiffe-id.ts';

/**
 * How the outbound gateway tells the inbound gateway who the calling workload
 * is. A plain header could be set by anyone, so the header is bound to the
 * mTLS connection it travels on: its claims carry a MAC (HMAC-SHA256) keyed
 * with a secret both ends of that TLS 1.3 connection export from it
 * (RFC 8446 §7.5 exporters, the tls-exporter channel binding of RFC 9266),
 * and which no one else can compute. The inbound side accepts it only on the
 * connection whose verified client certificate is the peer gateway's SVID,
 * and only for workloads of that gateway's own trust domain: a gateway can
 * vouch for its own cluster and nothing else, the same boundary the
 * name-constrained intermediate CA draws for certificates.
 *
 * Why not a JWS signed with the gateway's key (the first design): the TLS
 * handshake already proved that key, and an ECDSA signature plus its
 * verification cost more per request than the rest of the gateway's own
 * work (profiled; docs/performance.md). The assertion is still bound to one
 * request (method and target), dated, and carries a one-time id that the
 * replay guard remembers; moved to another connection its MAC fails.
 */
export const IDENTITY_HEADER = 'interlock-identity';
const FORMAT = 'v1';
const EXPORTER_LABEL = 'EXPORTER-interlock-identity-assertion';
/** Allowed clock difference between the two gateways, seconds. */
const CLOCK_SKEW_SECONDS = 5;

export interface AssertionClaims {
  /** The signing gateway's SPIFFE ID. */
  readonly issuer: string;
  /** The calling workload's SPIFFE ID, taken from its verified certificate. */
  readonly subject: string;
  /** The destination cluster. */
  readonly audience: string;
  readonly method: string;
  /** Target authority and path, e.g. billing.west.interlock/invoices/42. */
  readonly target: string;
  /** The purpose the workload declared (interlock-purpose header), carried bound so no hop can change it. */
  readonly purpose?: string;
  /** Serial of the workload's certificate, so the remote side can refuse a revoked one too. */
  readonly serial?: string;
  /** The workload's public key (RFC 7800 `cnf`), so the remote side can verify what the workload itself signed. */
  readonly key?: JWK;
}

export const PURPOSE_HEADER = 'interlock-purpose';
const PURPOSE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A declared purpose is a short token (e.g. billing-reconciliation); anything else is refused, not passed on. */
export function parsePurpose(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !PURPOSE.test(value)) {
    throw new InterlockError('IL_ERR_REQUEST_INVALID', `${PURPOSE_HEADER} must be 1-64 characters of a-z, 0-9, '.', '_', '-'`, { field: PURPOSE_HEADER });
  }
  return value;
}

// TLS 1.3 treats an absent exporter context as empty (RFC 8446 §7.5); both ends pass the same.
const NO_CONTEXT = Buffer.alloc(0);
const bindingKeys = new WeakMap<TLSSocket, Buffer>();
/** The connection's exported secret (32 bytes), once per connection; needs the handshake done. */
function bindingKey(socket: TLSSocket): Buffer {
  let key = bindingKeys.get(socket);
  if (!key) {
    key = socket.exportKeyingMaterial(32, EXPORTER_LABEL, NO_CONTEXT);
    bindingKeys.set(socket, key);
  }
  return key;
}

const mac = (key: Buffer, payload: string) => createHmac('sha256', key).update(FORMAT).update('.').update(payload).digest();

/** The assertion for one request or tunnel, bound to the TLS connection `socket` it will be sent on. */
export function bindIdentityAssertion(socket: TLSSocket, claims: AssertionClaims, clock: Clock, ttlSeconds = 60): string {
  const now = Math.floor(clock.now().getTime() / 1000);
  const body = {
    iss: claims.issuer,
    sub: claims.subject,
    aud: claims.audience,
    htm: claims.method,
    htu: claims.target,
    iat: now,
    exp: now + ttlSeconds,
    jti: randomUUID(),
    ...(claims.purpose ? { pur: claims.purpose } : {}),
    ...(claims.serial ? { sn: claims.serial } : {}),
    ...(claims.key ? { cnf: { jwk: claims.key } } : {}),
  };
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return `${FORMAT}.${payload}.${mac(bindingKey(socket), payload).toString('base64url')}`;
}

function invalid(message: string): InterlockError {
  return new InterlockError('IL_ERR_IDENTITY_ASSERTION_INVALID', message, { field: IDENTITY_HEADER });
}

/** The claims of an assertion whose MAC matches this connection, not yet checked against the request. */
export type OpenedAssertion = Record<string, unknown> & { readonly htu: string };

/** Checks the assertion's MAC with this connection's exported secret and returns its claims; IL_ERR_IDENTITY_ASSERTION_INVALID otherwise. */
export function openIdentityAssertion(token: string | undefined, socket: TLSSocket): OpenedAssertion {
  if (!token) throw invalid(`the peer gateway sent no ${IDENTITY_HEADER} header`);
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== FORMAT || !parts[1] || !parts[2]) throw invalid(`the ${IDENTITY_HEADER} header is not a ${FORMAT} identity assertion`);
  const expected = mac(bindingKey(socket), parts[1]);
  const given = Buffer.from(parts[2], 'base64url');
  // Made for another connection (or altered): refused before any claim is read.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('identity assertion is not bound to this connection');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw invalid('identity assertion claims are not JSON');
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims) || typeof (claims as { htu?: unknown }).htu !== 'string') throw invalid('identity assertion claims are malformed');
  return claims as OpenedAssertion;
}

export interface AssertionExpectations {
  /** The peer gateway, from the verified certificate of this connection. */
  readonly peer: SpiffeId;
  readonly ownCluster: string;
  readonly method: string;
  readonly target: string;
  readonly maxAgeMs: number;
  readonly clock: Clock;
}

export interface VouchedCaller {
  readonly subject: SpiffeId;
  readonly purpose?: string;
  readonly serial?: string;
  readonly jti: string;
  /** Until when the assertion could still be accepted (its exp plus the allowed skew): the replay guard keeps its id that long. */
  readonly expiresAtMs: number;
  readonly key?: JWK;
}

/** Checks opened claims against this request: issuer, audience, method and target, age, and whom the peer may vouch for. */
export function checkIdentityAssertion(claims: OpenedAssertion, expect: AssertionExpectations): VouchedCaller {
  const now = Math.floor(expect.clock.now().getTime() / 1000);
  const { iss, aud, htm, htu, iat, exp, jti, sub } = claims;
  // JSON.stringify, not String(): a claim like {"toString":{}} makes String() throw.
  if (iss !== expect.peer.id) throw invalid(`identity assertion was issued by ${JSON.stringify(iss)}, not the peer gateway ${expect.peer.id}`);
  if (aud !== expect.ownCluster) throw invalid(`identity assertion is meant for ${JSON.stringify(aud)}, not ${expect.ownCluster}`);
  if (htm !== expect.method || htu !== expect.target) throw invalid('identity assertion was made for another request');
  if (typeof iat !== 'number' || typeof exp !== 'number' || typeof jti !== 'string' || jti.length === 0 || jti.length > 128) throw invalid('identity assertion lacks iat, exp or jti');
  if (iat > now + CLOCK_SKEW_SECONDS) throw invalid(`identity assertion is dated ${iat - now} s in the future (allowed skew ${CLOCK_SKEW_SECONDS} s)`);
  if (now - iat > Math.floor(expect.maxAgeMs / 1000) + CLOCK_SKEW_SECONDS) throw invalid(`identity assertion is ${now - iat} s old`);
  if (exp + CLOCK_SKEW_SECONDS < now) throw invalid('identity assertion has expired');
  // A lifetime longer than allowed would keep its id in the replay guard for as long as the sender chose.
  if (exp < iat || exp - iat > Math.floor(expect.maxAgeMs / 1000)) throw invalid(`identity assertion lives ${exp - iat} s; at most ${Math.floor(expect.maxAgeMs / 1000)} s is allowed`);
  let subject: SpiffeId;
  try {
    subject = parseWorkloadSpiffeId(String(sub), 'sub');
  } catch {
    throw invalid('identity assertion subject is not a workload SPIFFE ID');
  }
  if (subject.trustDomain !== expect.peer.trustDomain) {
    throw invalid(`gateway of ${expect.peer.trustDomain} cannot vouch for ${subject.id}`);
  }
  const purpose = typeof claims.pur === 'string' && PURPOSE.test(claims.pur) ? claims.pur : undefined;
  const serial = typeof claims.sn === 'string' ? claims.sn : undefined;
  // The workload's key is only imported when a signed route needs it (importing costs more than the rest of this check).
  const jwk = (claims.cnf as { jwk?: JWK } | undefined)?.jwk;
  return { subject, ...(purpose ? { purpose } : {}), ...(serial ? { serial } : {}), jti, expiresAtMs: (exp + CLOCK_SKEW_SECONDS) * 1000, ...(jwk && typeof jwk === 'object' ? { key: jwk } : {}) };
}

/** Opens and checks in one step (HTTP requests, whose target is known before the assertion is read). */
export function verifyIdentityAssertion(token: string | undefined, socket: TLSSocket, expect: AssertionExpectations): VouchedCaller {
  return checkIdentityAssertion(openIdentityAssertion(token, socket), expect);
}

/** The workload key an assertion vouched for, as a KeyObject; IL_ERR_SIGNATURE_INVALID if malformed. */
export function workloadKeyFrom(jwk: JWK): KeyObject {
  try {
    return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    throw new InterlockError('IL_ERR_SIGNATURE_INVALID', 'the identity assertion carries a malformed workload key (cnf.jwk)', { field: IDENTITY_HEADER });
  }
}
