import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { fixedClock } from '../../src/clock.ts';
import { InterlockError } from '../../src/errors.ts';
import { issueX509Svid, parseDuration, signLeafCertificate, SVID_TTL_DEFAULT_MS } from '../../src/pki/certificates.ts';
import { generateKeyPair, x509 } from '../../src/pki/x509.ts';
import { makePki, makeSvid, tempDir, writePem } from '../helpers/pki.ts';

const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';

function opensslVerify(bundle: string, untrusted: string, leaf: string) {
  return spawnSync('openssl', ['verify', '-CAfile', bundle, '-untrusted', untrusted, leaf], { encoding: 'utf8' });
}

test('an issued SVID passes openssl verify against the bundle with its intermediate', async () => {
  const pki = await makePki();
  const svid = await makeSvid(pki.east, FRONTEND);
  const dir = tempDir();
  const result = opensslVerify(writePem(dir, 'bundle.pem', [pki.root.cert]), writePem(dir, 'intermediate.pem', [pki.east.cert]), writePem(dir, 'svid.pem', [svid.cert]));
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /svid\.pem: OK/);
});

test("a cluster CA's signature on another trust domain's ID fails openssl verify (name constraint)", async () => {
  const pki = await makePki();
  const keys = await generateKeyPair();
  const now = Date.now();
  // What a compromised east CA could mint: west's billing identity.
  const forged = await signLeafCertificate(pki.east, {
    uri: 'spiffe://west.acme.internal/ns/billing/sa/billing',
    publicKey: keys.publicKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
  });
  const dir = tempDir();
  const result = opensslVerify(writePem(dir, 'bundle.pem', [pki.root.cert]), writePem(dir, 'intermediate.pem', [pki.east.cert]), writePem(dir, 'forged.pem', [forged]));
  assert.notEqual(result.status, 0);
  assert.match(result.stdout + result.stderr, /permitted subtree violation/);
});

test('the intermediate carries a critical URI name constraint for its own trust domain only', async () => {
  const pki = await makePki();
  const dir = tempDir();
  const text = execFileSync('openssl', ['x509', '-in', writePem(dir, 'east.pem', [pki.east.cert]), '-noout', '-text'], { encoding: 'utf8' });
  assert.match(text, /X509v3 Name Constraints: critical\s+Permitted:\s+URI:east\.acme\.internal\s/);
  assert.match(text, /CA:TRUE, pathlen:0/);
});

test('an SVID has exactly one URI SAN, is not a CA, signs only, and lives 1 h by default', async () => {
  const pki = await makePki();
  const { cert } = await makeSvid(pki.east, FRONTEND);
  const node = new NodeX509(Buffer.from(cert.rawData));
  assert.equal(node.subjectAltName, `URI:${FRONTEND}`);
  assert.equal(node.ca, false);
  const lifetime = cert.notAfter.getTime() - Date.now();
  assert.ok(Math.abs(lifetime - SVID_TTL_DEFAULT_MS) < 5_000, `lifetime ${lifetime} ms`);
  const usage = cert.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(usage.usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(usage.critical, true);
});

test('serial numbers are random and positive', async () => {
  const pki = await makePki();
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) serials.add((await makeSvid(pki.east, FRONTEND)).cert.serialNumber);
  assert.equal(serials.size, 20);
  for (const serial of serials) assert.ok(serial.length >= 30 && parseInt(serial[0]!, 16) < 8, serial);
});

test('the CA refuses to issue outside its trust domain', async () => {
  const pki = await makePki();
  await assert.rejects(makeSvid(pki.east, 'spiffe://west.acme.internal/ns/billing/sa/billing'), (error: unknown) => {
    return error instanceof InterlockError && error.code === 'IL_ERR_SPIFFE_ID_OUT_OF_DOMAIN';
  });
});

test('SVID lifetimes below 5 minutes or above 24 hours are refused', async () => {
  const pki = await makePki();
  const keys = await generateKeyPair();
  const issue = (ttlMs: number) => issueX509Svid(pki.east, { spiffeId: FRONTEND, publicKey: keys.publicKey, ttlMs, clock: fixedClock(new Date()) });
  await assert.rejects(issue(9_000), /between 10s and 24h/);
  await assert.rejects(issue(25 * 3_600_000), /between 10s and 24h/);
  const fiveMinutes = await issue(5 * 60_000);
  assert.ok(fiveMinutes.notAfter.getTime() - Date.now() <= 5 * 60_000);
});

test('durations parse with units and reject garbage with IL_ERR_TTL_INVALID', () => {
  assert.equal(parseDuration('30m', '--ttl'), 1_800_000);
  assert.equal(parseDuration('1h', '--ttl'), 3_600_000);
  assert.throws(() => parseDuration('one hour', '--ttl'), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_TTL_INVALID' && e.field === '--ttl');
});
