import { X509Certificate } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import type { InterlockError } from '../errors.ts';
import { verifySvidChain } from './verify.ts';
import { x509 } from './x509.ts';

/**
 * Verifies a document the control plane signed with one of its own signing
 * identities (server/signer.ts): a compact JWS (RFC 7515), ES256, with the
 * signer's certificate in `x5c` (§4.1.6). The certificate must chain to a
 * trust-bundle root *directly* and carry the expected SPIFFE ID path; a
 * cluster CA, which can only mint its own trust domain, cannot produce such
 * a signer. Returns the parsed JSON payload; every failure is `invalid(…)`.
 */
export async function verifySignedDocument(
  jws: string,
  roots: readonly x509.X509Certificate[],
  now: Date,
  expect: { readonly typ: string; readonly signerPath: string; readonly what: string; readonly invalid: (message: string) => InterlockError },
): Promise<unknown> {
  const { invalid, what } = expect;
  let header;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw invalid(`the ${what} is not a compact JWS`);
  }
  if (header.alg !== 'ES256' || header.typ !== expect.typ || !Array.isArray(header.x5c) || header.x5c.length === 0) {
    throw invalid(`the ${what} header must be ES256, typ ${expect.typ}, with x5c`);
  }
  let signer: x509.X509Certificate;
  try {
    signer = new x509.X509Certificate(Buffer.from(header.x5c[0]!, 'base64'));
  } catch {
    throw invalid(`x5c[0] of the ${what} is not a certificate`);
  }
  let verified;
  try {
    verified = await verifySvidChain([signer], roots, now);
  } catch (error) {
    throw invalid(`the ${what} signer is not trusted: ${(error as Error).message}`);
  }
  if (verified.path.length !== 2 || verified.spiffeId.path !== expect.signerPath) {
    throw invalid(`the ${what} was signed by ${verified.spiffeId.id}, not the control plane's ${expect.signerPath.split('/').pop()}`);
  }
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, new X509Certificate(Buffer.from(signer.rawData)).publicKey, { algorithms: ['ES256'] }));
  } catch {
    throw invalid(`the ${what} signature does not verify`);
  }
  try {
    return JSON.parse(Buffer.from(payload).toString('utf8')) as unknown;
  } catch {
    throw invalid(`the ${what} payload is not JSON`);
  }
}
