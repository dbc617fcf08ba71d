import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ErrorCode } from '../../src/errors.ts';
import { fromSpiffeBundle, toSpiffeBundle, type SpiffeBundle } from '../../src/pki/bundle.ts';
import { checkSvidTtl, parseDuration, trustDomainNameConstraint } from '../../src/pki/certificates.ts';
import { checkSvidLeaf, verifySvidChain } from '../../src/pki/verify.ts';
import { EC_SIGNING_ALGORITHM, certificatesToPem, generateKeyPair, parseCertificatesPem, toPem, x509 } from '../../src/pki/x509.ts';
import { makePki, makeSvid, type TestPki } from '../helpers/pki.ts';
import { anyString, mutatedBytes, mutatedJson, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const CHAIN_CODES: readonly ErrorCode[] = [
  'IL_ERR_CERT_MALFORMED', 'IL_ERR_CERT_EXPIRED', 'IL_ERR_CERT_NOT_YET_VALID', 'IL_ERR_CERT_UNTRUSTED',
  'IL_ERR_CERT_NAME_CONSTRAINT', 'IL_ERR_CERT_KEY_USAGE', 'IL_ERR_SVID_INVALID', 'IL_ERR_SPIFFE_ID_INVALID',
];
const ID = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const NOW = new Date();

const pki: TestPki = await makePki(NOW);
const leaf = (await makeSvid(pki.east, ID, { at: NOW })).cert;
const pem = certificatesToPem([leaf, pki.east.cert]);
const keys = { leaf: await generateKeyPair(), ca: await generateKeyPair() };
const der = (cert: x509.X509Certificate) => new Uint8Array(cert.rawData);
const pemTexts = fc.oneof(
  mutatedText(pem, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n-'),
  mutatedBytes(der(leaf)).map((bytes) => toPem(bytes, 'CERTIFICATE')),
  mutatedBytes(der(pki.root.cert)).map((bytes) => toPem(bytes, 'CERTIFICATE') + pem),
  anyString.map((text) => `-----BEGIN CERTIFICATE-----\n${text}\n-----END CERTIFICATE-----\n`),
);

fuzz('parseCertificatesPem: any text (mutated PEM, mutated DER) is a list of certificates or IL_ERR_CERT_MALFORMED', [pemTexts], async (text) => {
  await coded(() => parseCertificatesPem(text), ['IL_ERR_CERT_MALFORMED'], (certs) => {
    for (const cert of certs) assert.ok(cert instanceof x509.X509Certificate);
  });
}, { scale: 10 });

/** A mutated copy of one certificate of the chain (leaf, cluster CA, root) that still parses. */
function parsed(bytes: Uint8Array<ArrayBuffer>): x509.X509Certificate | undefined {
  try {
    return new x509.X509Certificate(bytes);
  } catch {
    return undefined; // parseCertificatesPem's property covers what does not parse
  }
}

/** The chain and root with one certificate (leaf, cluster CA or root) mutated so that it still parses. */
const mutatedChain = fc.constantFrom(0, 1, 2).chain((which) => {
  const originals = [leaf, pki.east.cert, pki.root.cert];
  return mutatedBytes(der(originals[which]!))
    .map(parsed)
    .filter((cert) => cert !== undefined)
    .map((cert) => {
      const certs = originals.map((original, i) => (i === which ? cert! : original));
      return { chain: certs.slice(0, 2), roots: certs.slice(2) };
    });
});

fuzz('verifySvidChain: a chain with any one certificate mutated verifies to the same ID or fails with a certificate code', [mutatedChain], async ({ chain, roots }) => {
  await coded(() => verifySvidChain(chain, roots, NOW), CHAIN_CODES, (verified) => {
    // The signatures still verify, so what they cover (the ID) is unchanged.
    assert.equal(verified.spiffeId.id, ID);
    assert.equal(verified.path.length, 3);
  });
}, { scale: 1 });

/** Extension contents as a CA could sign them: well-formed but hostile, or malformed bytes. */
function extension(oid: string, valid: x509.Extension | undefined, critical: boolean): fc.Arbitrary<x509.Extension | undefined> {
  const options: fc.Arbitrary<x509.Extension | undefined>[] = [fc.constant(undefined), fc.uint8Array({ maxLength: 40 }).map((b) => new x509.Extension(oid, critical, b))];
  if (valid) options.push(fc.constant(valid), mutatedBytes(new Uint8Array(valid.value)).map((b) => new x509.Extension(oid, critical, b)));
  return fc.oneof(...options);
}

const uri = fc.oneof(fc.constant(ID), fc.constant('spiffe://west.acme.internal/ns/a/sa/b'), mutatedText(ID), anyString);
const sanNames = fc.array(fc.record({ type: fc.constantFrom('url' as const, 'dns' as const, 'email' as const), value: uri }), { maxLength: 3 });
const signedExtensions = fc.record({
  san: fc.oneof(sanNames.map((names) => {
    try {
      return new x509.SubjectAlternativeNameExtension(names, true);
    } catch {
      return undefined;
    }
  }), extension('2.5.29.17', new x509.SubjectAlternativeNameExtension([{ type: 'url', value: ID }], true), true)),
  usage: fc.oneof(fc.nat({ max: 0x1ff }).map((u) => new x509.KeyUsagesExtension(u, true)), extension('2.5.29.15', new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), true)),
  basic: fc.oneof(fc.tuple(fc.boolean(), fc.option(fc.nat({ max: 3 }), { nil: undefined })).map(([ca, len]) => new x509.BasicConstraintsExtension(ca, len, true)), extension('2.5.29.19', undefined, true)),
  caConstraint: fc.oneof(fc.oneof(fc.constant('east.acme.internal'), fc.constant('.acme.internal'), anyString).map((td) => {
    try {
      return trustDomainNameConstraint(td);
    } catch {
      return undefined;
    }
  }), extension('2.5.29.30', trustDomainNameConstraint('east.acme.internal'), true)),
  caUsage: fc.oneof(fc.nat({ max: 0x1ff }).map((u) => new x509.KeyUsagesExtension(u, true)), extension('2.5.29.15', undefined, true)),
  caBasic: fc.oneof(fc.tuple(fc.boolean(), fc.option(fc.nat({ max: 2 }), { nil: undefined })).map(([ca, len]) => new x509.BasicConstraintsExtension(ca, len, true)), extension('2.5.29.19', undefined, true)),
  leafLifeMs: fc.oneof(fc.constant(3_600_000), fc.integer({ min: -3_600_000, max: 3_600_000 })),
});

fuzz('verifySvidChain and checkSvidLeaf: chains a CA signed with any extensions (hostile or malformed) are verified or refused with a code', [signedExtensions], async (ext) => {
  const present = (list: (x509.Extension | undefined)[]) => list.filter((e): e is x509.Extension => e !== undefined);
  const ca = await x509.X509CertificateGenerator.create({
    subject: 'CN=fuzz cluster CA', issuer: pki.root.cert.subject, notBefore: new Date(NOW.getTime() - 60_000), notAfter: new Date(NOW.getTime() + 86_400_000),
    signingAlgorithm: EC_SIGNING_ALGORITHM, publicKey: keys.ca.publicKey, signingKey: pki.root.key, extensions: present([ext.caBasic, ext.caUsage, ext.caConstraint]),
  });
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'O=fuzz', issuer: ca.subject, notBefore: new Date(NOW.getTime() - 60_000), notAfter: new Date(NOW.getTime() + ext.leafLifeMs),
    signingAlgorithm: EC_SIGNING_ALGORITHM, publicKey: keys.leaf.publicKey, signingKey: keys.ca.privateKey, extensions: present([ext.basic, ext.usage, ext.san]),
  });
  await coded(() => checkSvidLeaf(cert), CHAIN_CODES, (id) => assert.match(id.id, /^spiffe:\/\//));
  await coded(() => verifySvidChain([cert, ca], [pki.root.cert], NOW), CHAIN_CODES, (verified) => {
    assert.equal(verified.leaf, cert);
    assert.equal(verified.path.length, 3);
  });
}, { scale: 1 });

const spiffeBundle = JSON.parse(JSON.stringify(await toSpiffeBundle([pki.root.cert], 3))) as SpiffeBundle;
const bundles = fc.oneof(mutatedJson(spiffeBundle, ['keys', 'use', 'x5c', 'kty', 'crv', 'x', 'y', 'spiffe_sequence']), fc.jsonValue());

fuzz('fromSpiffeBundle: any JSON in place of a SPIFFE bundle is a list of roots or IL_ERR_CERT_MALFORMED', [bundles], async (bundle) => {
  await coded(() => fromSpiffeBundle(bundle as SpiffeBundle), ['IL_ERR_CERT_MALFORMED'], (roots) => {
    for (const root of roots) assert.ok(root instanceof x509.X509Certificate);
  });
}, { scale: 5, examples: [[{ spiffe_sequence: 1 }], [{ keys: [{ use: 'x509-svid' }] }]] });

fuzz('toSpiffeBundle then fromSpiffeBundle: the roots come back as they were', [fc.constant(null)], async () => {
  const roots = fromSpiffeBundle(JSON.parse(JSON.stringify(await toSpiffeBundle([pki.root.cert, pki.east.cert], 1))) as SpiffeBundle);
  assert.deepEqual(roots.map((r) => r.serialNumber), [pki.root.cert.serialNumber, pki.east.cert.serialNumber]);
}, { scale: 0 });

const durations = fc.oneof(
  anyString,
  fc.tuple(fc.stringMatching(/^\d{1,400}$/), fc.constantFrom('', 'ms', 's', 'm', 'h', 'd', 'y', 'S', ' s')).map(([n, u]) => n + u),
);

fuzz('parseDuration: any text is a whole, finite number of milliseconds or IL_ERR_TTL_INVALID', [durations], async (text) => {
  await coded(() => parseDuration(text, '--ttl'), ['IL_ERR_TTL_INVALID'], (ms) => assert.ok(Number.isSafeInteger(ms) && ms >= 0, `${text} → ${ms}`));
}, { scale: 10, examples: [['9'.repeat(400) + 'd'], ['99999999999999999999s']] });

fuzz('checkSvidTtl: any number is returned unchanged inside 10 s – 24 h, else IL_ERR_TTL_INVALID', [fc.double()], async (ms) => {
  await coded(() => checkSvidTtl(ms), ['IL_ERR_TTL_INVALID'], (value) => assert.ok(value === ms && ms >= 10_000 && ms <= 86_400_000));
}, { scale: 5 });
