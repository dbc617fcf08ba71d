import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, scryptSync, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { createCsr, publicKeyFromCsr } from '../../src/pki/csr.ts';
import { generateKeyFileContent, resolveKeySecret, sealPrivateKey, unsealPrivateKey, type KeySecret } from '../../src/pki/key-protection.ts';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, toPem, x509 } from '../../src/pki/x509.ts';
import { tempDir } from '../helpers/pki.ts';
import { anyString, mutatedBytes, mutatedJson, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const pemBody = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

/** CSRs for keys the CA refuses, signed properly: the key-type check must name them, not crash on them. */
async function csrFor(algorithm: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm, signing: Algorithm | EcdsaParams): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(algorithm as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=fuzz', keys, signingAlgorithm: signing })).toString('pem');
}
const validCsr = await createCsr(await generateKeyPair());
const otherCsrs = [
  await csrFor({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams),
  await csrFor({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }),
  await csrFor({ name: 'Ed25519' }, { name: 'Ed25519' }),
];

const csrs = fc.oneof(
  mutatedText(validCsr),
  mutatedBytes(pemBody(validCsr)).map((der) => toPem(der, 'CERTIFICATE REQUEST')),
  fc.constantFrom(...otherCsrs),
  fc.constantFrom(...otherCsrs).chain((pem) => mutatedBytes(pemBody(pem)).map((der) => toPem(der, 'CERTIFICATE REQUEST'))),
  anyString,
);

fuzz('publicKeyFromCsr: any text is the P-256 key of a CSR whose signature verifies, or IL_ERR_CSR_INVALID', [csrs], async (pem) => {
  await coded(() => publicKeyFromCsr(pem), ['IL_ERR_CSR_INVALID'], (key) => {
    assert.equal(key.type, 'public');
    assert.deepEqual({ ...key.algorithm }, { name: 'ECDSA', namedCurve: 'P-256' });
  });
}, {
  scale: 5,
  examples: [
    [otherCsrs[2]!],
    // Regression (found by the 100,000-input run): an RSA key that is not an RSAPublicKey made csr.publicKey.algorithm throw an ASN.1 error.
    ['-----BEGIN CERTIFICATE REQUEST-----\nMIIBTjCBuAIBADAPMQ0wCwYDVQQDEwQAdXp6MIGfMA0GCSqGSIb3DQEBAQUAA4GN\nAACBiQKBgQCtrPVeHaDu3XkpYhpH0TyDS08+IUpFr3mJTVZ4j8ETFTQ+l6du4aF0\nBYzGCOUPvfOYSvWILog/dJGKJa172RG0Fyx8WVKRrhDmJH6EqgsReqopwy9Pfupw\nqYyey1MTkTha4QvcqnW4VtVvFtCwjSKp8QQRbaWcHKo03qmfxejAEwIDAQABoAAw\nDQYJKoZIhvcNAQELBQADgYEAYfpfVTY8x3xdE05F400dunBDb5ySup2j68OUbMvx\nST42Uz8IlDoVkGyLnjVmazO8c9yDBh0MAbMClVXb+I/5FELqjqcAb2+gkKvLRFCB\n0qkTh/BFY7cf18D4QytSddkph3D4qM9J1ZyVGNxIl2qQ9ividXFyYYkcb82U1F2P\n1Ro=\n-----END CERTIFICATE REQUEST-----\n'],
  ],
});

const keyPem = await exportPrivateKeyPem((await generateKeyPair()).privateKey);

fuzz('importPrivateKeyPem: any text is a P-256 signing key or IL_ERR_KEY_UNREADABLE', [fc.oneof(mutatedText(keyPem), mutatedBytes(pemBody(keyPem)).map((der) => toPem(der, 'PRIVATE KEY')), anyString)], async (pem) => {
  await coded(() => importPrivateKeyPem(pem), ['IL_ERR_KEY_UNREADABLE'], (key) => assert.equal(key.type, 'private'));
}, { scale: 5, examples: [['no key here'], [toPem(Buffer.from('garbage'), 'PRIVATE KEY')]] });

const keyFile: KeySecret = { kind: 'key-file', value: randomBytes(32), source: 'fuzz' };
const passphrase: KeySecret = { kind: 'passphrase', value: Buffer.from('correct horse battery staple'), source: 'fuzz' };

/** A passphrase-sealed key as sealPrivateKey writes it, but with scrypt N 2^10 so that fuzzing it is cheap. */
function cheaplySealed(text: string, secret: KeySecret, purpose: string): string {
  const kdf = { name: 'scrypt', N: 1024, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', scryptSync(secret.value, Buffer.from(kdf.salt, 'base64'), 32, kdf), iv);
  cipher.setAAD(Buffer.from(`interlock-sealed-key:v1:${purpose}`));
  const ciphertext = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return JSON.stringify({ format: 'interlock-sealed-key', v: 1, purpose, kdf, cipher: 'aes-256-gcm', iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ciphertext: ciphertext.toString('base64') });
}
const sealedWithKeyFile = sealPrivateKey(keyPem, keyFile, 'root');
const sealedWithPassphrase = cheaplySealed(keyPem, passphrase, 'root');
assert.equal(unsealPrivateKey(sealedWithPassphrase, passphrase, 'root', 'f'), keyPem, 'the cheap seal is the real format');
const SEALED_KEYS = ['format', 'v', 'purpose', 'kdf', 'name', 'N', 'r', 'p', 'salt', 'cipher', 'iv', 'tag', 'ciphertext'];

const sealedTexts = fc.oneof(
  fc.constantFrom(sealedWithKeyFile, sealedWithPassphrase).chain((text) => mutatedText(text)),
  fc.constantFrom(sealedWithKeyFile, sealedWithPassphrase).chain((text) => mutatedJson(JSON.parse(text), SEALED_KEYS).map((v) => JSON.stringify(v))),
  fc.record({ N: fc.oneof(fc.integer({ min: 0, max: 2 ** 24 }), fc.integer({ min: 0, max: 24 }).map((e) => 2 ** e)), r: fc.integer({ min: 0, max: 64 }), p: fc.integer({ min: 0, max: 100_000 }) }).map((cost) => {
    const sealed = JSON.parse(sealedWithPassphrase) as { kdf: object };
    return JSON.stringify({ ...sealed, kdf: { ...sealed.kdf, ...cost } });
  }),
  anyString,
);

fuzz('unsealPrivateKey: any sealed file opens to exactly the sealed key, or fails with a key code, quickly', [sealedTexts, fc.constantFrom(keyFile, passphrase)], async (text, secret) => {
  await coded(() => unsealPrivateKey(text, secret, 'root', 'fuzz'), ['IL_ERR_KEY_UNREADABLE', 'IL_ERR_KEY_DECRYPT_FAILED'], (opened) => assert.equal(opened, keyPem, 'AES-GCM lets nothing else through'));
}, {
  scale: 3,
  examples: [
    // Regression: scrypt costs come from the file, and p = 40,000 blocked the process for most of an hour.
    [JSON.stringify({ ...JSON.parse(sealedWithPassphrase), kdf: { ...JSON.parse(sealedWithPassphrase).kdf, N: 16384, p: 40_000 } }), passphrase],
    ['null', keyFile],
  ],
});

const dir = tempDir('interlock-fuzz-keys-');
const secretFile = join(dir, 'secret');

fuzz('resolveKeySecret: any key file or passphrase file content is a secret or IL_ERR_KEY_UNREADABLE', [fc.oneof(fc.constant(generateKeyFileContent()), mutatedText(generateKeyFileContent()), anyString), fc.boolean()], async (content, asKeyFile) => {
  writeFileSync(secretFile, content);
  await coded(() => resolveKeySecret(asKeyFile ? { keyFile: secretFile } : { passphraseFile: secretFile }), ['IL_ERR_KEY_UNREADABLE'], (secret) => {
    assert.equal(secret.kind, asKeyFile ? 'key-file' : 'passphrase');
    if (asKeyFile) assert.equal(secret.value.length, 32);
    else assert.ok(secret.value.toString('utf8').length >= 12);
  });
}, { scale: 3 });
