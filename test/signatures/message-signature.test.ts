import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { contentDigest, parseSignatureInput, signatureBase, signMessage, verifyMessage } from '../../src/signatures/message-signature.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const request = { method: 'POST', authority: 'billing.west.interlock', path: '/invoices?x=1', headers: { 'content-digest': contentDigest(Buffer.from('{"a":1}')), 'content-type': 'application/json' } };
const params = { components: ['@method', '@authority', '@path', 'content-digest', 'content-type'], created: 1_700_000_000, nonce: 'n1', keyid: 'spiffe://east.acme.internal/ns/shop/sa/frontend' };
const expect = { signer: params.keyid, nowSeconds: 1_700_000_010, maxAgeSeconds: 60, skewSeconds: 5 };

test('the signature base follows RFC 9421 §2.5: one line per component, then @signature-params', () => {
  assert.equal(
    signatureBase(request, params),
    [
      '"@method": POST',
      '"@authority": billing.west.interlock',
      '"@path": /invoices',
      `"content-digest": ${request.headers['content-digest']}`,
      '"content-type": application/json',
      '"@signature-params": ("@method" "@authority" "@path" "content-digest" "content-type");created=1700000000;keyid="spiffe://east.acme.internal/ns/shop/sa/frontend";nonce="n1";alg="ecdsa-p256-sha256"',
    ].join('\n'),
  );
  assert.equal(contentDigest(Buffer.from('{"hello": "world"}\n')), 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:', 'RFC 9530 §2 example');
});

test('sign then verify; every change is caught', () => {
  const headers = { ...request.headers, ...signMessage(request, params, privateKey) };
  const signed = { ...request, headers };
  const body = Buffer.from('{"a":1}');
  assert.deepEqual(verifyMessage(signed, body, publicKey, expect), params);
  const fails = (r: typeof signed, b: Buffer, e = expect) => assert.throws(() => verifyMessage(r, b, publicKey, e), (error: Error & { code?: string }) => error.code === 'IL_ERR_SIGNATURE_INVALID');
  fails(signed, Buffer.from('{"a":2}'));
  fails({ ...signed, method: 'PUT' }, body);
  fails({ ...signed, path: '/other' }, body);
  fails({ ...signed, authority: 'catalog.east.interlock' }, body);
  fails({ ...signed, headers: { ...headers, 'content-type': 'text/plain' } }, body);
  fails(signed, body, { ...expect, signer: 'spiffe://east.acme.internal/ns/x/sa/y' });
  fails(signed, body, { ...expect, nowSeconds: params.created + 61 });
  fails(signed, body, { ...expect, nowSeconds: params.created - 6 });
  assert.equal(verifyMessage({ ...signed, path: '/invoices?y=2' }, body, publicKey, expect).nonce, 'n1', '@path excludes the query');
});

test('Signature-Input must cover the required components and carry created, nonce and keyid', () => {
  const bad = (value: string) => assert.throws(() => parseSignatureInput(value), (error: Error & { code?: string }) => error.code === 'IL_ERR_SIGNATURE_INVALID');
  bad('sig1=("@method" "@path" "content-digest");created=1;keyid="k";nonce="n"');
  bad('sig1=("@method" "@authority" "@path" "content-digest");keyid="k";nonce="n"');
  bad('sig1=("@method" "@authority" "@path" "content-digest");created=1;keyid="k";nonce="n";alg="rsa-pss-sha512"');
  bad('sig2=("@method" "@authority" "@path" "content-digest");created=1;keyid="k";nonce="n"');
});

test('a signature has one spelling: padding inside the base64, or other unused low bits, is refused (found by the 1,000,000-input fuzz run)', () => {
  const headers = { ...request.headers, ...signMessage(request, params, privateKey) };
  const body = Buffer.from('{"a":1}');
  const value = /^sig1=:(.*):$/.exec(headers.signature)![1]!;
  assert.ok(value.endsWith('=='), 'a 64-byte ECDSA signature ends in ==');
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  // Before '==' the last character carries 2 bits of data and 4 unused ones: flip one unused bit.
  const lowBitFlipped = ALPHABET[ALPHABET.indexOf(value.at(-3)!) ^ 1]!;
  const respelled = [`${value.slice(0, -2)}=${value.slice(-3, -2)}==`, `${value.slice(0, -3)}${lowBitFlipped}==`];
  for (const spelling of respelled) {
    assert.deepEqual(Buffer.from(spelling, 'base64'), Buffer.from(value, 'base64'), 'a lenient decoder reads the same bytes');
    assert.throws(() => verifyMessage({ ...request, headers: { ...headers, signature: `sig1=:${spelling}:` } }, body, publicKey, expect), (error: Error & { code?: string }) => error.code === 'IL_ERR_SIGNATURE_INVALID');
  }
  assert.equal(verifyMessage({ ...request, headers }, body, publicKey, expect).nonce, 'n1');
});
