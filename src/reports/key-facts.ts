/**
 * Key type and signature algorithm of a certificate, for the inventory.
 * Read from the certificate when the report has it (roots, from the public
 * bundle); otherwise stated from what this control plane issues, because
 * the control plane keeps no SVID certificates and its API publishes no
 * intermediate certificate: every CA key and every accepted CSR key is
 * ECDSA P-256 (pki/x509.ts EC_KEY_ALGORITHM, pki/csr.ts), every signature
 * ECDSA with SHA-256 (EC_SIGNING_ALGORITHM). `source` says which.
 */
import { EC_KEY_ALGORITHM, EC_SIGNING_ALGORITHM, x509 } from '../pki/x509.ts';

export interface KeyFacts {
  /** EC, RSA, Ed25519… */
  readonly keyType: string;
  /** Named curve for EC keys, else null. */
  readonly curve: string | null;
  readonly bits: number | null;
  /** e.g. ecdsa-with-SHA256, sha256WithRSAEncryption. */
  readonly signatureAlgorithm: string;
  readonly source: 'certificate' | 'issuance policy';
}

const CURVE_BITS: Record<string, number> = { 'P-256': 256, 'P-384': 384, 'P-521': 521 };

function signatureName(algorithm: { name: string; hash?: { name: string } | string }): string {
  const hash = (typeof algorithm.hash === 'string' ? algorithm.hash : algorithm.hash?.name ?? '').replace('-', '');
  if (algorithm.name === 'ECDSA') return `ecdsa-with-${hash}`;
  if (algorithm.name === 'RSASSA-PKCS1-v1_5') return `${hash.toLowerCase()}WithRSAEncryption`;
  return hash ? `${algorithm.name}-${hash}` : algorithm.name;
}

function keyTypeName(name: string): string {
  if (name === 'ECDSA' || name === 'ECDH') return 'EC';
  if (name.startsWith('RSA')) return 'RSA';
  return name;
}

/** What the control plane issues, for certificates it does not publish. */
export const ISSUED_KEY_FACTS: KeyFacts = Object.freeze({
  keyType: keyTypeName(EC_KEY_ALGORITHM.name),
  curve: EC_KEY_ALGORITHM.namedCurve,
  bits: CURVE_BITS[EC_KEY_ALGORITHM.namedCurve] ?? null,
  signatureAlgorithm: signatureName(EC_SIGNING_ALGORITHM),
  source: 'issuance policy',
});

export function keyFactsOf(cert: x509.X509Certificate): KeyFacts {
  const key = cert.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  const curve = key.namedCurve ?? null;
  return {
    keyType: keyTypeName(key.name),
    curve,
    bits: curve ? (CURVE_BITS[curve] ?? null) : (key.modulusLength ?? null),
    signatureAlgorithm: signatureName(cert.signatureAlgorithm as { name: string; hash?: { name: string } }),
    source: 'certificate',
  };
}
