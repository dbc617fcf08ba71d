import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterlockError, type ErrorCode } from '../../src/errors.ts';
import { signLeafCertificate } from '../../src/pki/certificates.ts';
import { verifySvidChain, uriHostMatches } from '../../src/pki/verify.ts';
import { generateKeyPair } from '../../src/pki/x509.ts';
import { makePki, makeSvid } from '../helpers/pki.ts';

const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const HOUR = 3_600_000;

function rejectsWith(code: ErrorCode) {
  return (error: unknown) => error instanceof InterlockError && error.code === code;
}

test('a fresh SVID chain verifies and yields its SPIFFE ID', async () => {
  const pki = await makePki();
  const svid = await makeSvid(pki.east, FRONTEND);
  const verified = await verifySvidChain(svid.chain, [pki.root.cert], new Date());
  assert.equal(verified.spiffeId.id, FRONTEND);
  assert.equal(verified.path.length, 3);
});

test('an expired SVID is rejected with IL_ERR_CERT_EXPIRED', async () => {
  const pki = await makePki();
  const svid = await makeSvid(pki.east, FRONTEND);
  await assert.rejects(verifySvidChain(svid.chain, [pki.root.cert], new Date(Date.now() + 2 * HOUR)), rejectsWith('IL_ERR_CERT_EXPIRED'));
});

test('a not-yet-valid SVID is rejected with IL_ERR_CERT_NOT_YET_VALID', async () => {
  const pki = await makePki();
  const svid = await makeSvid(pki.east, FRONTEND, { at: new Date(Date.now() + 3 * HOUR) });
  await assert.rejects(verifySvidChain(svid.chain, [pki.root.cert], new Date()), rejectsWith('IL_ERR_CERT_NOT_YET_VALID'));
});

test('an SVID from a foreign CA is rejected with IL_ERR_CERT_UNTRUSTED', async () => {
  const ours = await makePki();
  const foreign = await makePki();
  const svid = await makeSvid(foreign.east, FRONTEND);
  await assert.rejects(verifySvidChain(svid.chain, [ours.root.cert], new Date()), rejectsWith('IL_ERR_CERT_UNTRUSTED'));
});

test('an SVID presented without its intermediate does not verify', async () => {
  const pki = await makePki();
  const svid = await makeSvid(pki.east, FRONTEND);
  await assert.rejects(verifySvidChain([svid.cert], [pki.root.cert], new Date()), rejectsWith('IL_ERR_CERT_UNTRUSTED'));
});

test('a cross-domain identity minted by a cluster CA fails on the name constraint', async () => {
  const pki = await makePki();
  const keys = await generateKeyPair();
  const forged = await signLeafCertificate(pki.east, {
    uri: 'spiffe://west.acme.internal/ns/billing/sa/billing',
    publicKey: keys.publicKey,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + HOUR),
  });
  await assert.rejects(verifySvidChain([forged, pki.east.cert], [pki.root.cert], new Date()), rejectsWith('IL_ERR_CERT_NAME_CONSTRAINT'));
});

test('a leaf that is not a SPIFFE ID is not an SVID', async () => {
  const pki = await makePki();
  const keys = await generateKeyPair();
  const leaf = await signLeafCertificate(pki.east, { uri: 'https://east.acme.internal/x', publicKey: keys.publicKey, notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + HOUR) });
  await assert.rejects(verifySvidChain([leaf, pki.east.cert], [pki.root.cert], new Date()), rejectsWith('IL_ERR_SPIFFE_ID_INVALID'));
});

test('an intermediate CA cannot pose as a workload', async () => {
  const pki = await makePki();
  await assert.rejects(verifySvidChain([pki.east.cert], [pki.root.cert], new Date()), (e: unknown) => e instanceof InterlockError && e.code !== 'IL_ERR_INTERNAL');
});

test('URI name constraints match the host exactly, or any subdomain with a leading dot (RFC 5280)', () => {
  assert.equal(uriHostMatches('east.acme.internal', 'east.acme.internal'), true);
  assert.equal(uriHostMatches('EAST.acme.internal', 'east.acme.internal'), true);
  assert.equal(uriHostMatches('evil.east.acme.internal', 'east.acme.internal'), false);
  assert.equal(uriHostMatches('evil.east.acme.internal', '.east.acme.internal'), true);
  assert.equal(uriHostMatches('east.acme.internal', '.east.acme.internal'), false);
  assert.equal(uriHostMatches('xeast.acme.internal', 'east.acme.internal'), false);
});
