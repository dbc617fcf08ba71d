import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { InterlockError } from '../errors.ts';
import { readKeyMaterial } from '../util/files.ts';

/**
 * CA private keys never touch the disk in clear: they are sealed with
 * AES-256-GCM (NIST SP 800-38D) under a key derived from the operator's
 * secret. A passphrase goes through scrypt (RFC 7914) because people choose
 * guessable ones; a key file is already 32 random bytes, so HKDF (RFC 5869)
 * suffices. The key's purpose is bound in as additional authenticated data,
 * so one sealed key cannot be swapped in for another.
 */
export type KeySecret =
  | { readonly kind: 'passphrase'; readonly value: Buffer; readonly source: string }
  | { readonly kind: 'key-file'; readonly value: Buffer; readonly source: string };

interface SealedKeyV1 {
  format: 'interlock-sealed-key';
  v: 1;
  purpose: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string } | { name: 'hkdf-sha256'; salt: string };
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  ciphertext: string;
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 64 * 1024 * 1024;
const KEY_FILE_BYTES = 32;
export const PASSPHRASE_ENV = 'INTERLOCK_CA_PASSPHRASE';

function deriveKey(secret: KeySecret, kdf: SealedKeyV1['kdf']): Buffer {
  const salt = Buffer.from(kdf.salt, 'base64');
  if (kdf.name === 'scrypt') {
    if (secret.kind !== 'passphrase') throw wrongSecret('this key was sealed with a passphrase, not a key file');
    return scryptSync(secret.value, salt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: SCRYPT_MAXMEM });
  }
  if (secret.kind !== 'key-file') throw wrongSecret('this key was sealed with a key file, not a passphrase');
  return Buffer.from(hkdfSync('sha256', secret.value, salt, 'interlock sealed key v1', 32));
}

function wrongSecret(message: string): InterlockError {
  return new InterlockError('IL_ERR_KEY_DECRYPT_FAILED', message, { field: 'passphrase' });
}

export function sealPrivateKey(pkcs8Pem: string, secret: KeySecret, purpose: string): string {
  const salt = randomBytes(16).toString('base64');
  const kdf: SealedKeyV1['kdf'] = secret.kind === 'passphrase' ? { name: 'scrypt', ...SCRYPT, salt } : { name: 'hkdf-sha256', salt };
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(secret, kdf), iv);
  cipher.setAAD(Buffer.from(`interlock-sealed-key:v1:${purpose}`));
  const ciphertext = Buffer.concat([cipher.update(pkcs8Pem, 'utf8'), cipher.final()]);
  const sealed: SealedKeyV1 = {
    format: 'interlock-sealed-key',
    v: 1,
    purpose,
    kdf,
    cipher: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
  return JSON.stringify(sealed, null, 2) + '\n';
}

export function unsealPrivateKey(sealedText: string, secret: KeySecret, purpose: string, field: string): string {
  let sealed: SealedKeyV1;
  try {
    sealed = JSON.parse(sealedText) as SealedKeyV1;
  } catch {
    throw new InterlockError('IL_ERR_KEY_UNREADABLE', 'sealed key file is not JSON', { field });
  }
  if (sealed?.format !== 'interlock-sealed-key' || sealed.v !== 1 || sealed.cipher !== 'aes-256-gcm') {
    throw new InterlockError('IL_ERR_KEY_UNREADABLE', 'not an Interlock sealed key (format v1, aes-256-gcm)', { field });
  }
  if (!kdfWithinBounds(sealed.kdf)) {
    throw new InterlockError('IL_ERR_KEY_UNREADABLE', 'sealed key names an unknown key derivation, or scrypt costs beyond N 2^20, r 16, p 4', { field });
  }
  if (sealed.purpose !== purpose) {
    throw new InterlockError('IL_ERR_KEY_DECRYPT_FAILED', `sealed key is for ${sealed.purpose}, expected ${purpose}`, { field });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(secret, sealed.kdf), Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(`interlock-sealed-key:v1:${purpose}`));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
  } catch (error) {
    if (error instanceof InterlockError) throw error;
    throw new InterlockError('IL_ERR_KEY_DECRYPT_FAILED', 'cannot decrypt the CA key: wrong passphrase or key file, or the file was altered', {
      field,
    });
  }
}

/**
 * The KDF parameters come from the file, and scryptSync's work grows with
 * N·r·p (maxmem bounds only N·r and p·r): p = 40,000 would block the process
 * for most of an hour. Interlock writes N 2^15, r 8, p 1; these bounds leave
 * room to raise them and none for a file that costs minutes to open.
 */
function kdfWithinBounds(kdf: unknown): boolean {
  const k = kdf as Partial<{ name: string; N: number; r: number; p: number; salt: string }> | null;
  if (typeof k?.salt !== 'string') return false;
  if (k.name === 'hkdf-sha256') return true;
  const { N, r, p } = k;
  return k.name === 'scrypt' && Number.isInteger(N) && N! >= 2 && N! <= 2 ** 20 && Number.isInteger(r) && r! >= 1 && r! <= 16 && Number.isInteger(p) && p! >= 1 && p! <= 4;
}

export interface SecretOptions {
  readonly passphraseFile?: string;
  readonly keyFile?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Finds the operator's secret: --key-file, then --passphrase-file, then $INTERLOCK_CA_PASSPHRASE. */
export function resolveKeySecret(options: SecretOptions): KeySecret {
  if (options.keyFile) {
    const raw = readKeyMaterial(options.keyFile, '--key-file').toString('utf8').trim();
    const value = Buffer.from(raw, 'base64');
    if (value.length !== KEY_FILE_BYTES || value.toString('base64') !== raw) {
      throw new InterlockError('IL_ERR_KEY_UNREADABLE', `key file must hold ${KEY_FILE_BYTES} random bytes in base64`, {
        field: '--key-file',
        hint: 'create one with: interlock ca keygen --out <file>',
      });
    }
    return { kind: 'key-file', value, source: options.keyFile };
  }
  const fromFile = options.passphraseFile ? readKeyMaterial(options.passphraseFile, '--passphrase-file').toString('utf8').replace(/\r?\n$/, '') : undefined;
  const passphrase = fromFile ?? options.env?.[PASSPHRASE_ENV];
  if (passphrase === undefined) {
    throw new InterlockError('IL_ERR_KEY_SECRET_MISSING', 'CA keys are encrypted at rest and need a secret', {
      field: '--passphrase-file',
      hint: `pass --passphrase-file <file>, --key-file <file>, or set ${PASSPHRASE_ENV}`,
    });
  }
  if (passphrase.length < 12) {
    throw new InterlockError('IL_ERR_KEY_UNREADABLE', 'passphrase must be at least 12 characters', {
      field: options.passphraseFile ? '--passphrase-file' : PASSPHRASE_ENV,
    });
  }
  return { kind: 'passphrase', value: Buffer.from(passphrase, 'utf8'), source: options.passphraseFile ?? PASSPHRASE_ENV };
}

export function generateKeyFileContent(): string {
  return randomBytes(KEY_FILE_BYTES).toString('base64') + '\n';
}
