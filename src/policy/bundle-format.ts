import { createHash } from 'node:crypto';

/**
 * A policy bundle: what the control plane signs and every gateway enforces.
 * The active version, and optionally a candidate being rolled out in stages:
 *
 *   dry-run  every gateway evaluates it beside the active version and counts
 *            disagreements; enforcement is unchanged;
 *   canary   gateways of the named clusters, or the given percentage of
 *            clusters, enforce it (and shadow the active one); the others
 *            dry-run it.
 *
 * Bundles expire: a gateway that cannot refresh keeps enforcing its last
 * valid bundle until `expiresAt`, then denies everything (fail closed).
 */
export type RolloutStage = 'dry-run' | 'canary';

export interface BundleCandidate {
  readonly version: number;
  readonly digest: string;
  readonly policies: string;
  readonly stage: RolloutStage;
  readonly canary: { readonly clusters: readonly string[]; readonly percent: number };
}

export interface PolicyBundle {
  readonly v: 1;
  readonly version: number;
  readonly digest: string;
  readonly policies: string;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly candidate: BundleCandidate | null;
}

export const BUNDLE_TOKEN_TYPE = 'interlock-policy+jws';
/** The path of the signer's SPIFFE ID; the signer must be issued directly by a trust-bundle root. */
export const POLICY_SIGNER_PATH = '/interlock/policy-signer';

export function policyDigest(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/**
 * Whether a gateway of `cluster` enforces the canary: named clusters always,
 * others by a stable hash of cluster and version, so the same gateways stay
 * in the canary for a version and widening the percentage only adds more.
 */
export function inCanary(candidate: BundleCandidate, cluster: string): boolean {
  if (candidate.stage !== 'canary') return false;
  if (candidate.canary.clusters.includes(cluster)) return true;
  const bucket = createHash('sha256').update(`${candidate.version}:${cluster}`).digest().readUInt16BE(0) % 100;
  return bucket < candidate.canary.percent;
}
