import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign } from 'jose';
import { InterlockError, type ErrorCode } from '../../src/errors.ts';
import { signLeafCertificate, type CaMaterial } from '../../src/pki/certificates.ts';
import { generateKeyPair, type x509 } from '../../src/pki/x509.ts';
import { BUNDLE_TOKEN_TYPE, POLICY_SIGNER_PATH, inCanary, policyDigest, type PolicyBundle } from '../../src/policy/bundle-format.ts';
import { verifyPolicyBundle } from '../../src/policy/bundle-verify.ts';
import { makePki } from '../helpers/pki.ts';

const TEXT = 'permit (principal, action, resource);';

function bundle(version: number, text = TEXT, expiresInMs = 60_000): PolicyBundle {
  const now = Date.now();
  return { v: 1, version, digest: policyDigest(text), policies: text, issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + expiresInMs).toISOString(), candidate: null };
}

async function signerUnder(issuer: CaMaterial, uri: string) {
  const keys = await generateKeyPair();
  const cert = await signLeafCertificate(issuer, { uri, publicKey: keys.publicKey, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) });
  return { cert, key: keys.privateKey };
}

async function sign(payload: unknown, signer: { cert: x509.X509Certificate; key: CryptoKey }): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ES256', typ: BUNDLE_TOKEN_TYPE, x5c: [Buffer.from(signer.cert.rawData).toString('base64')] })
    .sign(signer.key);
}

function failsWith(code: ErrorCode) {
  return (error: unknown) => error instanceof InterlockError && error.code === code;
}

test('a bundle signed by the root-issued policy signer verifies', async () => {
  const pki = await makePki();
  const signer = await signerUnder(pki.root, `spiffe://acme.internal${POLICY_SIGNER_PATH}`);
  const verified = await verifyPolicyBundle(await sign(bundle(3), signer), [pki.root.cert], new Date());
  assert.equal(verified.version, 3);
});

test('a tampered bundle is refused: changed payload, or changed text under the old digest', async () => {
  const pki = await makePki();
  const signer = await signerUnder(pki.root, `spiffe://acme.internal${POLICY_SIGNER_PATH}`);
  const jws = await sign(bundle(3), signer);
  const [header, , signature] = jws.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ ...bundle(3), policies: 'forbid (principal, action, resource);' })).toString('base64url');
  await assert.rejects(verifyPolicyBundle(`${header}.${forgedPayload}.${signature}`, [pki.root.cert], new Date()), failsWith('IL_ERR_POLICY_BUNDLE_INVALID'));
  const lying = await sign({ ...bundle(3), policies: 'forbid (principal, action, resource);' }, signer);
  await assert.rejects(verifyPolicyBundle(lying, [pki.root.cert], new Date()), failsWith('IL_ERR_POLICY_BUNDLE_INVALID'));
});

test('a signer minted by a cluster CA, a signer with another ID, or a foreign signer is refused', async () => {
  const pki = await makePki();
  const foreign = await makePki();
  const viaCluster = await signerUnder(pki.east, `spiffe://east.acme.internal${POLICY_SIGNER_PATH}`);
  const workload = await signerUnder(pki.root, 'spiffe://acme.internal/ns/shop/sa/frontend');
  const stranger = await signerUnder(foreign.root, `spiffe://acme.internal${POLICY_SIGNER_PATH}`);
  for (const signer of [viaCluster, workload, stranger]) {
    await assert.rejects(verifyPolicyBundle(await sign(bundle(3), signer), [pki.root.cert], new Date()), failsWith('IL_ERR_POLICY_BUNDLE_INVALID'));
  }
});

test('a downgrade, or the same version with other content, is refused; a refresh of the same version is accepted', async () => {
  const pki = await makePki();
  const signer = await signerUnder(pki.root, `spiffe://acme.internal${POLICY_SIGNER_PATH}`);
  const inForce = { version: 5, digest: policyDigest(TEXT) };
  await assert.rejects(verifyPolicyBundle(await sign(bundle(4), signer), [pki.root.cert], new Date(), inForce), failsWith('IL_ERR_POLICY_BUNDLE_DOWNGRADE'));
  await assert.rejects(verifyPolicyBundle(await sign(bundle(5, 'forbid (principal, action, resource);'), signer), [pki.root.cert], new Date(), inForce), failsWith('IL_ERR_POLICY_BUNDLE_DOWNGRADE'));
  assert.equal((await verifyPolicyBundle(await sign(bundle(5), signer), [pki.root.cert], new Date(), inForce)).version, 5);
  assert.equal((await verifyPolicyBundle(await sign(bundle(6), signer), [pki.root.cert], new Date(), inForce)).version, 6);
});

test('an expired bundle is refused with IL_ERR_POLICY_EXPIRED', async () => {
  const pki = await makePki();
  const signer = await signerUnder(pki.root, `spiffe://acme.internal${POLICY_SIGNER_PATH}`);
  await assert.rejects(verifyPolicyBundle(await sign(bundle(3, TEXT, -1), signer), [pki.root.cert], new Date()), failsWith('IL_ERR_POLICY_EXPIRED'));
});

test('canary selection: named clusters always; a percentage picks a stable subset that only grows', () => {
  const candidate = (percent: number, clusters: string[] = []) => ({ version: 7, digest: 'd', policies: '', stage: 'canary' as const, canary: { clusters, percent } });
  assert.equal(inCanary(candidate(0, ['east']), 'east'), true);
  assert.equal(inCanary(candidate(0, ['east']), 'west'), false);
  const names = Array.from({ length: 200 }, (_, i) => `cluster-${i}`);
  const at20 = names.filter((n) => inCanary(candidate(20), n));
  const at50 = names.filter((n) => inCanary(candidate(50), n));
  assert.ok(at20.length > 20 && at20.length < 60, `${at20.length} of 200 at 20%`);
  assert.ok(at20.every((n) => at50.includes(n)));
  assert.equal(names.filter((n) => inCanary({ ...candidate(100), stage: 'dry-run' as never }, n)).length, 0);
});
