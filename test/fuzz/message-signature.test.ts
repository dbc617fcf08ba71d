import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { contentDigest, parseSignatureInput, signMessage, verifyMessage, type SignableRequest } from '../../src/signatures/message-signature.ts';
import { anyString, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const CODES = ['IL_ERR_SIGNATURE_INVALID'] as const;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
/** Keys a peer gateway could vouch for in cnf.jwk: only P-256 signatures verify, the rest must be refused with a code. */
const otherKeys: KeyObject[] = [
  generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
  generateKeyPairSync('ed25519').publicKey,
  generateKeyPairSync('x25519').publicKey,
  generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
];
const SIGNER = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const NOW = 1_700_000_010;
const expect = { signer: SIGNER, nowSeconds: NOW, maxAgeSeconds: 60, skewSeconds: 5 };
const body = Buffer.from('{"amount":42}');
const base: SignableRequest = { method: 'POST', authority: 'billing.west.interlock', path: '/invoices?x=1', headers: { 'content-digest': contentDigest(body), 'content-type': 'application/json' } };
const params = { components: ['@method', '@authority', '@path', 'content-digest', 'content-type'], created: NOW - 1, nonce: 'n-1', keyid: SIGNER };
const signed = { ...base, headers: { ...base.headers, ...signMessage(base, params, privateKey) } };
const VALID_INPUT = signed.headers['signature-input'];
const VALID_SIG = signed.headers.signature;

const headerName = fc.oneof(
  fc.constantFrom('content-type', 'content-digest', 'signature', 'signature-input', 'host', 'constructor', '__proto__', 'tostring', 'hasownproperty', '@query', '@status', '@target-uri'),
  fc.stringMatching(/^[a-z0-9@._-]{1,12}$/),
);
const signatureInputs = fc.oneof(
  mutatedText(VALID_INPUT),
  fc.array(headerName, { maxLength: 8 }).map((names) => VALID_INPUT.replace(/\(.*\)/, `(${['@method', '@authority', '@path', 'content-digest', ...names].map((n) => `"${n}"`).join(' ')})`)),
  fc.tuple(fc.string({ maxLength: 20 }), fc.oneof(fc.nat().map(String), fc.string({ maxLength: 20 }).map((s) => `"${s}"`))).map(([k, v]) => `${VALID_INPUT};${k}=${v}`),
  anyString,
);

fuzz('parseSignatureInput: any header value is parameters covering the required components, or IL_ERR_SIGNATURE_INVALID', [fc.oneof(signatureInputs, fc.anything())], async (value) => {
  await coded(() => parseSignatureInput(value as string), CODES, (parsed) => {
    for (const c of ['@method', '@authority', '@path', 'content-digest']) assert.ok(parsed.components.includes(c), c);
    assert.ok(Number.isInteger(parsed.created) && parsed.nonce && parsed.keyid);
  });
}, { scale: 10 });

const headerValue = fc.oneof(anyString, fc.array(anyString, { maxLength: 3 }), fc.constant(undefined));
const requests = fc.record({
  method: fc.oneof(fc.constant('POST'), fc.string({ maxLength: 8 })),
  authority: fc.oneof(fc.constant(base.authority), anyString),
  path: fc.oneof(fc.constant(base.path), anyString),
  input: fc.oneof(fc.constant(VALID_INPUT), signatureInputs),
  signature: fc.oneof(fc.constant(VALID_SIG), mutatedText(VALID_SIG), anyString),
  digest: fc.oneof(fc.constant(base.headers['content-digest'] as string), mutatedText(base.headers['content-digest'] as string)),
  extra: fc.dictionary(headerName, headerValue, { maxKeys: 4 }),
  body: fc.oneof(fc.constant(body), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b))),
  key: fc.oneof(fc.constant(publicKey), fc.constantFrom(...otherKeys)),
});

fuzz('verifyMessage: a signed request with any part changed verifies only if nothing covered changed, else IL_ERR_SIGNATURE_INVALID', [requests], async (r) => {
  const request: SignableRequest = {
    method: r.method,
    authority: r.authority,
    path: r.path,
    headers: { 'content-type': 'application/json', ...r.extra, 'content-digest': r.digest, 'signature-input': r.input, signature: r.signature },
  };
  await coded(() => verifyMessage(request, r.body, r.key, expect), CODES, (verified) => {
    assert.equal(r.key, publicKey, 'only the signing key verifies');
    assert.equal(verified.nonce, params.nonce);
    assert.equal(r.signature, VALID_SIG);
    assert.ok(body.equals(r.body), 'the body is the signed one');
  });
}, {
  scale: 5,
  examples: [
    // Regression: a covered component named after an Object.prototype member ("constructor")
    // made componentValue call .trim() on a function (TypeError, a 500 at the gateway).
    [{ method: 'POST', authority: base.authority, path: base.path, input: VALID_INPUT.replace('"content-type"', '"constructor"'), signature: VALID_SIG, digest: base.headers['content-digest'] as string, extra: {}, body, key: publicKey }],
    // Regression: an Ed25519 or X25519 key vouched for in cnf.jwk made crypto.verify throw.
    [{ method: 'POST', authority: base.authority, path: base.path, input: VALID_INPUT, signature: VALID_SIG, digest: base.headers['content-digest'] as string, extra: {}, body, key: otherKeys[1]! }],
  ],
});

fuzz('signMessage then verifyMessage: any request signed with any covered headers verifies', [
  fc.record({ path: fc.webPath(), authority: fc.domain(), nonce: fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/), extra: fc.dictionary(fc.stringMatching(/^x-[a-z0-9-]{1,10}$/), fc.string({ maxLength: 30 }), { maxKeys: 3 }) }),
], async ({ path, authority, nonce, extra }) => {
  const request: SignableRequest = { method: 'PUT', authority, path: path || '/', headers: { ...extra, 'content-digest': contentDigest(body) } };
  const p = { components: ['@method', '@authority', '@path', 'content-digest', ...Object.keys(extra)], created: NOW, nonce, keyid: SIGNER };
  const headers = { ...request.headers, ...signMessage(request, p, privateKey) };
  assert.deepEqual(verifyMessage({ ...request, headers }, body, publicKey, expect), p);
}, { scale: 2 });
