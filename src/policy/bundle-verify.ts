import { X509Certificate } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { InterlockError } from '../errors.ts';
import { verifySvidChain } from '../pki/verify.ts';
import { x509 } from '../pki/x509.ts';
import { BUNDLE_TOKEN_TYPE, POLICY_SIGNER_PATH, policyDigest, type PolicyBundle } from './bundle-format.ts';

/**
 * The gateway's check of a signed policy bundle (a JWS, RFC 7515, ES256,
 * with the signer's certificate in `x5c`, RFC 7515 §4.1.6). Accepted only if:
 *   - the signer certificate chains to a trust-bundle root *directly* and
 *     names `spiffe://<domain>/interlock/policy-signer` (a cluster CA, which
 *     can only mint its own trust domain, cannot produce such a signer);
 *   - the signature verifies and the digests match the texts;
 *   - it has not expired;
 *   - its version is not older than the one in force, and a same version
 *     carries the same content (no rewriting history).
 */
function invalid(message: string): InterlockError {
  return new InterlockError('IL_ERR_POLICY_BUNDLE_INVALID', message, { field: 'bundle' });
}

function checkShape(value: unknown): PolicyBundle {
  const b = value as PolicyBundle;
  const ok =
    b?.v === 1 &&
    Number.isInteger(b.version) &&
    b.version > 0 &&
    typeof b.policies === 'string' &&
    typeof b.digest === 'string' &&
    !Number.isNaN(Date.parse(b.issuedAt)) &&
    !Number.isNaN(Date.parse(b.expiresAt)) &&
    (b.candidate === null ||
      (typeof b.candidate === 'object' &&
        Number.isInteger(b.candidate.version) &&
        typeof b.candidate.policies === 'string' &&
        (b.candidate.stage === 'dry-run' || b.candidate.stage === 'canary') &&
        Array.isArray(b.candidate.canary?.clusters) &&
        typeof b.candidate.canary?.percent === 'number'));
  if (!ok) throw invalid('bundle payload does not match the bundle schema v1');
  if (policyDigest(b.policies) !== b.digest || (b.candidate && policyDigest(b.candidate.policies) !== b.candidate.digest)) {
    throw invalid('bundle digest does not match its policy text');
  }
  return b;
}

export interface BundleInForce {
  readonly version: number;
  readonly digest: string;
}

export async function verifyPolicyBundle(jws: string, roots: readonly x509.X509Certificate[], now: Date, inForce?: BundleInForce): Promise<PolicyBundle> {
  let header;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw invalid('not a compact JWS');
  }
  if (header.alg !== 'ES256' || header.typ !== BUNDLE_TOKEN_TYPE || !Array.isArray(header.x5c) || header.x5c.length === 0) {
    throw invalid(`bundle header must be ES256, typ ${BUNDLE_TOKEN_TYPE}, with x5c`);
  }
  let signer: x509.X509Certificate;
  try {
    signer = new x509.X509Certificate(Buffer.from(header.x5c[0]!, 'base64'));
  } catch {
    throw invalid('x5c[0] is not a certificate');
  }
  let verified;
  try {
    verified = await verifySvidChain([signer], roots, now);
  } catch (error) {
    throw invalid(`bundle signer not trusted: ${(error as Error).message}`);
  }
  if (verified.path.length !== 2 || verified.spiffeId.path !== POLICY_SIGNER_PATH) {
    throw invalid(`bundle signer ${verified.spiffeId.id} is not the control plane's policy signer`);
  }
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, new X509Certificate(Buffer.from(signer.rawData)).publicKey, { algorithms: ['ES256'] }));
  } catch {
    throw invalid('bundle signature does not verify');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw invalid('bundle payload is not JSON');
  }
  const bundle = checkShape(parsed);
  if (now.getTime() >= Date.parse(bundle.expiresAt)) {
    throw new InterlockError('IL_ERR_POLICY_EXPIRED', `bundle version ${bundle.version} expired at ${bundle.expiresAt}`, { field: 'bundle' });
  }
  if (inForce && (bundle.version < inForce.version || (bundle.version === inForce.version && bundle.digest !== inForce.digest))) {
    throw new InterlockError('IL_ERR_POLICY_BUNDLE_DOWNGRADE', `bundle version ${bundle.version} (${bundle.digest.slice(0, 19)}…) would replace version ${inForce.version} in force`, {
      field: 'bundle',
    });
  }
  return bundle;
}
