import { webcrypto } from 'node:crypto';
import { InterlockError } from '../errors.ts';
import { EC_KEY_ALGORITHM, EC_SIGNING_ALGORITHM, x509 } from './x509.ts';

/**
 * PKCS#10 certificate signing requests (RFC 2986). The workload keeps its
 * private key and sends only a CSR; the CA takes nothing from it but the
 * public key, after checking the request's self-signature proves possession
 * of the key. The identity in the certificate comes from attestation and the
 * registration entry, never from the CSR's subject or SANs.
 */
export async function createCsr(keys: CryptoKeyPair): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'O=Interlock workload', keys, signingAlgorithm: EC_SIGNING_ALGORITHM });
  return csr.toString('pem');
}

function invalid(message: string): InterlockError {
  return new InterlockError('IL_ERR_CSR_INVALID', message, { field: 'csr', hint: 'send a PEM PKCS#10 request for an ECDSA P-256 key' });
}

/** Returns the CSR's public key once its signature and key type check out. */
export async function publicKeyFromCsr(pem: string): Promise<CryptoKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw invalid('not a PEM PKCS#10 certificate request');
  }
  let algorithm: EcKeyAlgorithm;
  try {
    // Decoded lazily: a malformed key inside a well-formed request (an RSA key that is not RSAPublicKey) throws here.
    algorithm = csr.publicKey.algorithm as EcKeyAlgorithm;
  } catch {
    throw invalid('the request carries a public key that cannot be parsed');
  }
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw invalid(`key type ${algorithm.name}${algorithm.namedCurve ? ` ${algorithm.namedCurve}` : ''} is not accepted; use ECDSA P-256`);
  }
  let verified = false;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw invalid('the request signature does not verify (proof of possession failed)');
  return webcrypto.subtle.importKey('spki', csr.publicKey.rawData, EC_KEY_ALGORITHM, true, ['verify']);
}
