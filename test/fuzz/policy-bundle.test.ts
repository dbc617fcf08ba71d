import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { signLeafCertificate, type CaMaterial } from '../../src/pki/certificates.ts';
import { generateKeyPair, x509 } from '../../src/pki/x509.ts';
import { BUNDLE_TOKEN_TYPE, POLICY_SIGNER_PATH, inCanary, policyDigest, type PolicyBundle } from '../../src/policy/bundle-format.ts';
import { verifyPolicyBundle } from '../../src/policy/bundle-verify.ts';
import { makePki } from '../helpers/pki.ts';
import { anyString, base64url, mutatedBytes, mutatedJson, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const CODES = ['IL_ERR_POLICY_BUNDLE_INVALID', 'IL_ERR_POLICY_EXPIRED', 'IL_ERR_POLICY_BUNDLE_DOWNGRADE'] as const;
const NOW = new Date();
const pki = await makePki(NOW);

async function signerUnder(issuer: CaMaterial, uri: string) {
  const keys = await generateKeyPair();
  const cert = await signLeafCertificate(issuer, { uri, publicKey: keys.publicKey, notBefore: new Date(NOW.getTime() - 60_000), notAfter: new Date(NOW.getTime() + 3_600_000) });
  return { cert, key: keys.privateKey, x5c: Buffer.from(cert.rawData).toString('base64') };
}
const signer = await signerUnder(pki.root, `spiffe://acme.internal${POLICY_SIGNER_PATH}`);
/** Signers the gateway must refuse: a cluster CA's, and a root-issued workload. */
const impostors = [await signerUnder(pki.east, `spiffe://east.acme.internal${POLICY_SIGNER_PATH}`), await signerUnder(pki.root, 'spiffe://acme.internal/ns/shop/sa/frontend')];

const TEXT = 'permit (principal, action, resource) when { context.method == "GET" };';
const CANDIDATE_TEXT = 'forbid (principal, action, resource);';
const VALID: PolicyBundle = {
  v: 1, version: 5, digest: policyDigest(TEXT), policies: TEXT, issuedAt: NOW.toISOString(), expiresAt: new Date(NOW.getTime() + 60_000).toISOString(),
  candidate: { version: 6, digest: policyDigest(CANDIDATE_TEXT), policies: CANDIDATE_TEXT, stage: 'canary', canary: { clusters: ['east'], percent: 20 } },
};
const BUNDLE_KEYS = ['v', 'version', 'digest', 'policies', 'issuedAt', 'expiresAt', 'candidate', 'stage', 'canary', 'clusters', 'percent'];

/** A compact JWS (RFC 7515 §7.1) signed ES256 by hand, so that headers jose would refuse to write (bad `crit`, `b64`) can be sent too. */
async function sign(payload: unknown, header: Record<string, unknown>, key: CryptoKey): Promise<string> {
  const input = `${base64url(Buffer.from(JSON.stringify({ alg: 'ES256', ...header })))}.${base64url(Buffer.from(JSON.stringify(payload)))}`;
  const signature = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}
const validJws = await sign(VALID, { typ: BUNDLE_TOKEN_TYPE, x5c: [signer.x5c] }, signer.key);

/** Recomputes the digests of a mutated bundle, so the checks behind the digest check are reached too. */
function redigested(value: unknown): unknown {
  const b = value as { policies?: unknown; digest?: unknown; candidate?: { policies?: unknown; digest?: unknown } | null };
  if (!b || typeof b !== 'object') return value;
  const copy = { ...b } as typeof b;
  if (typeof copy.policies === 'string') copy.digest = policyDigest(copy.policies);
  if (copy.candidate && typeof copy.candidate === 'object' && typeof copy.candidate.policies === 'string') copy.candidate = { ...copy.candidate, digest: policyDigest(copy.candidate.policies) };
  return copy;
}

const headers = fc.oneof(
  fc.constant({ typ: BUNDLE_TOKEN_TYPE, x5c: [signer.x5c] }),
  fc.record({
    typ: fc.oneof(fc.constant(BUNDLE_TOKEN_TYPE), anyString),
    x5c: fc.oneof(fc.constant([signer.x5c]), fc.array(anyString, { maxLength: 2 }), mutatedBytes(new Uint8Array(signer.cert.rawData)).map((der) => [Buffer.from(der).toString('base64')]), fc.jsonValue()),
    crit: fc.option(fc.oneof(fc.array(fc.constantFrom('b64', 'exp', 'x5c', ''), { maxLength: 2 }), fc.jsonValue()), { nil: undefined }),
    b64: fc.option(fc.jsonValue(), { nil: undefined }),
  }, { requiredKeys: ['typ', 'x5c'] }),
);
const signedPayloads = fc.record({
  payload: fc.oneof(mutatedJson(VALID, BUNDLE_KEYS), mutatedJson(VALID, BUNDLE_KEYS).map(redigested), fc.jsonValue()),
  header: headers,
  key: fc.oneof(fc.constant(signer.key), fc.constantFrom(...impostors.map((i) => i.key))),
});

const jwsInputs = fc.oneof(
  mutatedText(validJws, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.='),
  fc.tuple(fc.constantFrom(0, 1, 2), fc.uint8Array({ maxLength: 80 })).map(([part, bytes]) => validJws.split('.').map((s, i) => (i === part ? base64url(bytes) : s)).join('.')),
  anyString,
);
const inForce = fc.option(fc.record({ version: fc.integer({ min: -1, max: 10 }), digest: fc.constantFrom(VALID.digest, 'sha256:other') }), { nil: undefined });

function checkBundle(bundle: PolicyBundle): void {
  assert.equal(bundle.v, 1);
  assert.ok(Number.isInteger(bundle.version) && bundle.version > 0);
  assert.equal(bundle.digest, policyDigest(bundle.policies));
  assert.ok(typeof bundle.issuedAt === 'string' && typeof bundle.expiresAt === 'string', 'times are ISO strings');
  assert.ok(Date.parse(bundle.expiresAt) > NOW.getTime(), 'not expired');
  if (bundle.candidate) {
    assert.equal(bundle.candidate.digest, policyDigest(bundle.candidate.policies));
    assert.equal(typeof inCanary(bundle.candidate, 'east'), 'boolean');
  }
}

const policySigner = { typ: BUNDLE_TOKEN_TYPE, x5c: [signer.x5c] };

fuzz('verifyPolicyBundle: any signed payload and header is a well-formed, unexpired bundle, or a bundle code', [signedPayloads, inForce], async ({ payload, header, key }, current) => {
  const jws = await sign(payload, header, key);
  await coded(() => verifyPolicyBundle(jws, [pki.root.cert], NOW, current), CODES, (bundle) => {
    checkBundle(bundle);
    assert.equal(key, signer.key, 'only the policy signer is trusted');
  });
}, {
  scale: 1,
  // Regression: issuedAt ["…"] (an array) passed Date.parse and was accepted as a time.
  examples: [[{ payload: { ...VALID, issuedAt: [VALID.issuedAt] }, header: policySigner, key: signer.key }, undefined]],
});

fuzz('verifyPolicyBundle: any mutation of a signed bundle is refused with a bundle code (or changes nothing signed)', [jwsInputs, inForce], async (jws, current) => {
  await coded(() => verifyPolicyBundle(jws, [pki.root.cert], NOW, current), CODES, (bundle) => {
    checkBundle(bundle);
    assert.deepEqual(bundle, VALID, 'a mutation that verifies changed nothing signed');
  });
}, { scale: 2 });

fuzz('verifyPolicyBundle: any roots (empty, foreign, mutated) are used or refused with a bundle code', [fc.array(fc.oneof(fc.constant(pki.root.cert), fc.constant(pki.east.cert), mutatedBytes(new Uint8Array(pki.root.cert.rawData)).map((der) => {
  try {
    return new x509.X509Certificate(der);
  } catch {
    return pki.west.cert;
  }
})), { maxLength: 3 })], async (roots) => {
  await coded(() => verifyPolicyBundle(validJws, roots, NOW), CODES, checkBundle);
}, { scale: 1 });
