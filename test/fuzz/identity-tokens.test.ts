/**
 * The tokens that carry identity before or beside a certificate: the
 * Kubernetes service-account JWT (attestation) and the gateway's identity
 * assertion (a MAC'd claims set bound to the TLS connection, which replaced
 * its first form, an ES256 JWT), plus the workload key and purpose it carries.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, webcrypto } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import fc from 'fast-check';
import { exportJWK } from 'jose';
import { fixedClock } from '../../src/clock.ts';
import { parseSpiffeId } from '../../src/identity/spiffe-id.ts';
import { checkIdentityAssertion, openIdentityAssertion, parsePurpose, workloadKeyFrom, type OpenedAssertion } from '../../src/gateway/identity-assertion.ts';
import { verifyServiceAccountToken } from '../../src/server/attestation.ts';
import type { ClusterRow } from '../../src/store/types.ts';
import { anyString, base64url, mutatedJson, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const nowSeconds = Math.floor(NOW.getTime() / 1000);

// ---- Kubernetes service-account tokens (server/attestation.ts) ----

const k8sKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
const jwks = { keys: [{ ...(await exportJWK(k8sKeys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const cluster: ClusterRow = { name: 'east', trustDomain: 'east.acme.internal', k8sJwks: JSON.stringify(jwks), k8sIssuer: ISSUER, createdAt: NOW.toISOString(), createdBy: 'fuzz' };
const CLAIMS = {
  iss: ISSUER, aud: ['interlock'], sub: 'system:serviceaccount:shop:frontend', iat: nowSeconds - 10, nbf: nowSeconds - 10, exp: nowSeconds + 600,
  'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'frontend', uid: 'u1' }, pod: { name: 'p', uid: 'u2' } },
};
const CLAIM_KEYS = ['iss', 'aud', 'sub', 'iat', 'nbf', 'exp', 'kubernetes.io', 'namespace', 'serviceaccount', 'name', 'kid', 'alg', 'typ', 'crit'];

/** A JWS (RFC 7515 §7.1) signed by hand, so any header and any claims can be sent with a good signature. */
async function signJwt(header: unknown, claims: unknown): Promise<string> {
  const input = `${base64url(Buffer.from(JSON.stringify(header)))}.${base64url(Buffer.from(JSON.stringify(claims)))}`;
  return `${input}.${base64url(new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k8sKeys.privateKey, Buffer.from(input))))}`;
}
const HEADER = { alg: 'ES256', kid: 'k1', typ: 'JWT' };
const validToken = await signJwt(HEADER, CLAIMS);

const tokens = fc.oneof(
  mutatedText(validToken, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
  fc.record({ header: fc.oneof(fc.constant(HEADER), mutatedJson(HEADER, CLAIM_KEYS)), claims: fc.oneof(mutatedJson(CLAIMS, CLAIM_KEYS), fc.jsonValue()) }).map((signed) => ({ signed })),
  anyString,
);
const clusters = fc.oneof(
  fc.constant(cluster),
  fc.oneof(mutatedText(cluster.k8sJwks!), mutatedJson(jwks, ['keys', 'kty', 'crv', 'x', 'y', 'kid', 'alg', 'use', 'n', 'e']).map((v) => JSON.stringify(v)), anyString).map((k8sJwks) => ({ ...cluster, k8sJwks })),
  fc.constant({ ...cluster, k8sJwks: null }),
);

fuzz('verifyServiceAccountToken: any token and any configured JWKS is a service account the token names, or IL_ERR_ATTESTATION_K8S_INVALID', [tokens, clusters], async (input, row) => {
  const token = typeof input === 'string' ? input : await signJwt(input.signed.header, input.signed.claims);
  await coded(() => verifyServiceAccountToken(row, token, NOW), ['IL_ERR_ATTESTATION_K8S_INVALID'], (account) => {
    assert.match(account.namespace, /^[a-z0-9-]+$/);
    assert.match(account.serviceAccount, /^[a-z0-9.-]+$/);
  });
}, {
  scale: 2,
  // Regression: a signed token whose sub is not a string ({"toString":1}) made String(sub) throw a TypeError.
  examples: [[{ signed: { header: HEADER, claims: { ...CLAIMS, sub: JSON.parse('{"toString":1}') } } }, cluster]],
});

// ---- Identity assertions (gateway/identity-assertion.ts) ----

const bindingKey = Buffer.alloc(32, 7);
/** A stand-in for the TLS connection: all the assertion needs of it is its exported keying material. */
const socket = () => ({ exportKeyingMaterial: () => bindingKey }) as unknown as TLSSocket;
const peer = parseSpiffeId('spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway');
const expect = { peer, ownCluster: 'west', method: 'GET', target: 'billing.west.interlock/invoices/42', maxAgeMs: 60_000, clock: fixedClock(NOW) };
const ASSERTION = {
  iss: peer.id, sub: 'spiffe://east.acme.internal/ns/shop/sa/frontend', aud: 'west', htm: 'GET', htu: expect.target, iat: nowSeconds, exp: nowSeconds + 60,
  jti: '0f8fad5b-d9cb-469f-a165-70867728950e', pur: 'billing', sn: 'ab12', cnf: { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } },
};
const ASSERTION_KEYS = ['iss', 'sub', 'aud', 'htm', 'htu', 'iat', 'exp', 'jti', 'pur', 'sn', 'cnf', 'jwk', 'kty', 'crv', 'x', 'y', 'toString'];
const bind = (claims: unknown) => {
  const payload = base64url(Buffer.from(JSON.stringify(claims)));
  return `v1.${payload}.${base64url(createHmac('sha256', bindingKey).update('v1').update('.').update(payload).digest())}`;
};

const assertions = fc.oneof(
  mutatedText(bind(ASSERTION), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
  fc.oneof(mutatedJson(ASSERTION, ASSERTION_KEYS), fc.jsonValue()).map(bind),
  anyString,
);

fuzz('openIdentityAssertion + checkIdentityAssertion: any header is a caller of the peer\'s own trust domain, or IL_ERR_IDENTITY_ASSERTION_INVALID', [assertions], async (token) => {
  await coded(() => checkIdentityAssertion(openIdentityAssertion(token, socket()), expect), ['IL_ERR_IDENTITY_ASSERTION_INVALID'], (caller) => {
    assert.equal(caller.subject.trustDomain, peer.trustDomain, 'a gateway vouches only for its own cluster');
    assert.ok(typeof caller.jti === 'string' && Number.isFinite(caller.expiresAtMs));
  });
}, {
  scale: 5,
  // Regression: an iss or aud that is not a string ({"toString":{}}) made the error message's String() throw a TypeError.
  examples: [[bind({ ...ASSERTION, iss: JSON.parse('{"toString":{}}') })], [bind({ ...ASSERTION, aud: JSON.parse('{"toString":{}}') })]],
});

fuzz('checkIdentityAssertion: any claims object (already opened) is checked with a code', [fc.dictionary(fc.constantFrom(...ASSERTION_KEYS), fc.jsonValue())], async (claims) => {
  await coded(() => checkIdentityAssertion({ ...ASSERTION, ...claims } as OpenedAssertion, expect), ['IL_ERR_IDENTITY_ASSERTION_INVALID'], (caller) => {
    assert.equal(caller.subject.trustDomain, peer.trustDomain);
  });
}, { scale: 5 });

const realJwks = await Promise.all([generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ed25519'), generateKeyPairSync('rsa', { modulusLength: 1024 })].map(async (pair) => exportJWK(pair.publicKey)));

fuzz('workloadKeyFrom: any cnf.jwk is a public key or IL_ERR_SIGNATURE_INVALID', [fc.oneof(fc.constantFrom(...realJwks), fc.constantFrom(...realJwks).chain((jwk) => mutatedJson(jwk, ['kty', 'crv', 'x', 'y', 'n', 'e', 'd'])), fc.jsonValue())], async (jwk) => {
  await coded(() => workloadKeyFrom(jwk as never), ['IL_ERR_SIGNATURE_INVALID'], (key) => assert.equal(key.type, 'public'));
}, { scale: 3 });

fuzz('parsePurpose: any header value is a short purpose token, absent, or IL_ERR_REQUEST_INVALID', [fc.oneof(anyString, fc.array(anyString, { maxLength: 2 }), fc.constant(undefined), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,70}$/))], async (value) => {
  await coded(() => parsePurpose(value), ['IL_ERR_REQUEST_INVALID'], (purpose) => {
    if (purpose !== undefined) assert.match(purpose, /^[a-z0-9][a-z0-9._-]{0,63}$/);
    else assert.equal(value, undefined);
  });
}, { scale: 5 });
