// @peculiar/x509 resolves its crypto provider through tsyringe, which needs
// the Reflect metadata polyfill loaded before it: import x509 only from here.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { InterlockError } from '../errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };

/** ECDSA P-256 with SHA-256: the SPIFFE ecosystem's common default, and fast. */
export const EC_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return toPem(der, 'PRIVATE KEY');
}

/** @throws InterlockError IL_ERR_KEY_UNREADABLE unless `pem` holds a PKCS#8 ECDSA P-256 private key. */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  try {
    return await webcrypto.subtle.importKey('pkcs8', fromPem(pem, 'PRIVATE KEY'), EC_KEY_ALGORITHM, true, ['sign']);
  } catch (error) {
    throw new InterlockError('IL_ERR_KEY_UNREADABLE', `not a PEM PKCS#8 ECDSA P-256 private key: ${(error as Error).message}`, { field: 'key' });
  }
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

export function fromPem(pem: string, label: string): Buffer {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!match?.[1]) throw new Error(`no ${label} PEM block found`);
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

/**
 * Splits a PEM file holding several certificates into parsed certificates, in file order.
 * @throws InterlockError IL_ERR_CERT_MALFORMED naming the first block that is not an X.509 certificate.
 */
export function parseCertificatesPem(pem: string): x509.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block, index) => {
    try {
      return new x509.X509Certificate(block);
    } catch (error) {
      throw new InterlockError('IL_ERR_CERT_MALFORMED', `PEM block ${index + 1} is not an X.509 certificate: ${(error as Error).message}`, { field: 'pem' });
    }
  });
}

export function certificatesToPem(certs: readonly x509.X509Certificate[]): string {
  return certs.map((cert) => cert.toString('pem') + '\n').join('');
}
