import { createPrivateKey, createPublicKey, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { SignJWT, jwtVerify, errors as joseErrors, type JWK } from 'jose';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { parseWorkloadSpiffeId, type SpiffeId } from '../identity/spiffe-id.ts';

/**
 * How the outbound gateway tells the inbound gateway who the calling workload
 * is. A plain header could be set by anyone, so the header is a JWS (RFC 7515,
 * ES256) signed with the outbound gateway's SVID key and bound to this one
 * request. The inbound side checks it with the public key of the very
 * certificate the peer gateway presented in the mTLS handshake, and accepts
 * only workloads of the peer gateway's own trust domain: a gateway can vouch
 * for its own cluster and nothing else, the same boundary the name-constrained
 * intermediate CA draws for certificates.
 */
export const IDENTITY_HEADER = 'interlock-identity';
const TOKEN_TYPE = 'interlock-workload+jwt';

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
  /** The purpose the workload declared (interlock-purpose header), carried signed so no hop can change it. */
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

export async function signIdentityAssertion(key: KeyObject | CryptoKey, claims: AssertionClaims, clock: Clock, ttlSeconds = 60): Promise<string> {
  const now = Math.floor(clock.now().getTime() / 1000);
  return new SignJWT({ htm: claims.method, htu: claims.target, ...(claims.purpose ? { pur: claims.purpose } : {}), ...(claims.serial ? { sn: claims.serial } : {}), ...(claims.key ? { cnf: { jwk: claims.key } } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: TOKEN_TYPE })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(claims.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .setJti(randomUUID())
    .sign(key);
}

export interface AssertionExpectations {
  /** Public key of the peer gateway's verified TLS certificate (a CryptoKey spares jose a conversion per call). */
  readonly peerKey: KeyObject | CryptoKey;
  readonly peer: SpiffeId;
  readonly ownCluster: string;
  readonly method: string;
  readonly target: string;
  readonly maxAgeMs: number;
  readonly clock: Clock;
}

function invalid(message: string): InterlockError {
  return new InterlockError('IL_ERR_IDENTITY_ASSERTION_INVALID', message, { field: IDENTITY_HEADER });
}

/** Returns the calling workload's SPIFFE ID and declared purpose, or throws IL_ERR_IDENTITY_ASSERTION_INVALID. */
export async function verifyIdentityAssertion(token: string | undefined, expect: AssertionExpectations): Promise<{ subject: SpiffeId; purpose?: string; serial?: string; jti: string; expiresAtMs: number; key?: JWK }> {
  if (!token) throw invalid(`the peer gateway sent no ${IDENTITY_HEADER} header`);
  let payload;
  try {
    ({ payload } = await jwtVerify(token, expect.peerKey, {
      algorithms: ['ES256'],
      typ: TOKEN_TYPE,
      issuer: expect.peer.id,
      audience: expect.ownCluster,
      currentDate: expect.clock.now(),
      maxTokenAge: `${Math.floor(expect.maxAgeMs / 1000)}s`,
      clockTolerance: 5,
      requiredClaims: ['sub', 'iat', 'exp', 'jti'],
    }));
  } catch (error) {
    const reason = error instanceof joseErrors.JOSEError ? `${error.code}: ${error.message}` : String(error);
    throw invalid(`identity assertion rejected (${reason})`);
  }
  if (payload.htm !== expect.method || payload.htu !== expect.target) {
    throw invalid('identity assertion was made for another request');
  }
  let subject: SpiffeId;
  try {
    subject = parseWorkloadSpiffeId(String(payload.sub), 'sub');
  } catch {
    throw invalid('identity assertion subject is not a workload SPIFFE ID');
  }
  if (subject.trustDomain !== expect.peer.trustDomain) {
    throw invalid(`gateway of ${expect.peer.trustDomain} cannot vouch for ${subject.id}`);
  }
  const purpose = typeof payload.pur === 'string' && PURPOSE.test(payload.pur) ? payload.pur : undefined;
  const serial = typeof payload.sn === 'string' ? payload.sn : undefined;
  // The workload's key is only imported when a signed route needs it (importing costs more than the rest of this check).
  const jwk = (payload.cnf as { jwk?: JWK } | undefined)?.jwk;
  return { subject, ...(purpose ? { purpose } : {}), ...(serial ? { serial } : {}), jti: String(payload.jti), expiresAtMs: Number(payload.exp) * 1000, ...(jwk && typeof jwk === 'object' ? { key: jwk } : {}) };
}

/** The workload key an assertion vouched for, as a KeyObject; IL_ERR_SIGNATURE_INVALID if malformed. */
export function workloadKeyFrom(jwk: JWK): KeyObject {
  try {
    return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    throw new InterlockError('IL_ERR_SIGNATURE_INVALID', 'the identity assertion carries a malformed workload key (cnf.jwk)', { field: IDENTITY_HEADER });
  }
}

/**
 * Assertion keys as WebCrypto keys, imported once (per SVID, per peer
 * connection): given a KeyObject, jose converts it on every signature or
 * verification, which profiling showed to be the largest single cost of a
 * gateway call.
 */
export function assertionSigningKey(keyPem: string): Promise<CryptoKey> {
  const pkcs8 = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']) as Promise<CryptoKey>;
}

const peerKeys = new WeakMap<TLSSocket, Promise<CryptoKey>>();
/** The peer gateway's public key (from its verified certificate), imported once per connection. */
export function peerVerifyKey(socket: TLSSocket): Promise<CryptoKey> {
  let key = peerKeys.get(socket);
  if (!key) {
    const spki = socket.getPeerX509Certificate()!.publicKey.export({ type: 'spki', format: 'der' });
    key = webcrypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']) as Promise<CryptoKey>;
    peerKeys.set(socket, key);
  }
  return key;
}
