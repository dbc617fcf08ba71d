import { InterlockError } from '../errors.ts';
import type { x509 } from '../pki/x509.ts';
import { verifySignedDocument } from '../pki/signed-document.ts';
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
    // typeof first: Date.parse(["2025-…"]) parses the array's string form, and a time that is not a string breaks the gateway's reports.
    typeof b.issuedAt === 'string' &&
    typeof b.expiresAt === 'string' &&
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
  const parsed = await verifySignedDocument(jws, roots, now, { typ: BUNDLE_TOKEN_TYPE, signerPath: POLICY_SIGNER_PATH, what: 'bundle', invalid });
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
