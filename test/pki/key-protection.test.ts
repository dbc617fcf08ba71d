import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InterlockError } from '../../src/errors.ts';
import { fixedClock } from '../../src/clock.ts';
import { CertificateAuthority } from '../../src/pki/authority.ts';
import { generateKeyFileContent, resolveKeySecret, sealPrivateKey, unsealPrivateKey, type KeySecret } from '../../src/pki/key-protection.ts';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/pki/x509.ts';
import { tempDir } from '../helpers/pki.ts';

const passphrase = (value: string): KeySecret => ({ kind: 'passphrase', value: Buffer.from(value), source: 'test' });

test('a sealed key opens with the right passphrase and not with a wrong one', async () => {
  const pem = await exportPrivateKeyPem((await generateKeyPair()).privateKey);
  const sealed = sealPrivateKey(pem, passphrase('correct horse battery'), 'root');
  assert.equal(unsealPrivateKey(sealed, passphrase('correct horse battery'), 'root', 'root.key'), pem);
  assert.throws(() => unsealPrivateKey(sealed, passphrase('wrong horse battery'), 'root', 'root.key'), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_KEY_DECRYPT_FAILED');
});

test('a sealed key altered by one byte, or moved to another purpose, does not open', async () => {
  const pem = await exportPrivateKeyPem((await generateKeyPair()).privateKey);
  const secret = passphrase('correct horse battery');
  const sealed = JSON.parse(sealPrivateKey(pem, secret, 'cluster:east')) as { ciphertext: string };
  const bytes = Buffer.from(sealed.ciphertext, 'base64');
  bytes[10] = bytes[10]! ^ 1;
  const altered = JSON.stringify({ ...sealed, ciphertext: bytes.toString('base64') });
  assert.throws(() => unsealPrivateKey(altered, secret, 'cluster:east', 'f'), /wrong passphrase or key file, or the file was altered/);
  assert.throws(() => unsealPrivateKey(JSON.stringify({ ...sealed, purpose: 'cluster:west' }), secret, 'cluster:west', 'f'), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_KEY_DECRYPT_FAILED');
});

test('key files work as a secret; a malformed key file is refused', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'good.key'), generateKeyFileContent());
  writeFileSync(join(dir, 'bad.key'), 'not base64 at all');
  assert.equal(resolveKeySecret({ keyFile: join(dir, 'good.key') }).kind, 'key-file');
  assert.throws(() => resolveKeySecret({ keyFile: join(dir, 'bad.key') }), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_KEY_UNREADABLE');
  assert.throws(() => resolveKeySecret({ keyFile: join(dir, 'missing.key') }), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_KEY_UNREADABLE');
  assert.throws(() => resolveKeySecret({ env: {} }), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_KEY_SECRET_MISSING');
});

test('no CA private key is ever written to disk in clear', async () => {
  const dir = tempDir();
  const ca = await CertificateAuthority.init(dir, { organization: 'Acme', domain: 'acme.internal', secret: passphrase('correct horse battery'), clock: fixedClock(new Date()) });
  await ca.addCluster('east');
  const files: string[] = [];
  const walk = (d: string) => readdirSync(d).forEach((name) => (statSync(join(d, name)).isDirectory() ? walk(join(d, name)) : files.push(join(d, name))));
  walk(dir);
  const sealed = files.filter((f) => f.endsWith('.sealed'));
  assert.equal(sealed.length, 2);
  for (const file of files) assert.doesNotMatch(readFileSync(file, 'utf8'), /PRIVATE KEY/, file);
  for (const file of sealed) assert.equal(statSync(file).mode & 0o077, 0, `${file} is readable by others`);
  // And the sealed keys open again with the same secret.
  const reopened = await CertificateAuthority.open(dir, passphrase('correct horse battery'), fixedClock(new Date()));
  assert.equal((await reopened.loadClusterCa('east')).trustDomain, 'east.acme.internal');
  await assert.rejects(CertificateAuthority.open(dir, passphrase('not the passphrase'), fixedClock(new Date())), /wrong passphrase/);
});
