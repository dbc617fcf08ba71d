import { jwtVerify, errors as joseErrors } from 'jose';
import { K8sKeySets } from './k8s-keys.ts';
import { InterlockError } from '../errors.ts';
import type { ClusterRow, RegistrationEntryRow, StoreOps } from '../store/types.ts';
import { hashSecret } from './secrets.ts';

/**
 * How a workload or gateway proves who it is before it has any certificate.
 *
 * (a) Join token: single-use and expiring, bound to one registration entry.
 *     It is consumed in the same transaction that records the SVID, so a
 *     failure after consumption gives the token back.
 * (b) Kubernetes projected service-account token (a JWT, RFC 7519): verified
 *     against the cluster's JWKS and issuer with audience `interlock`, the
 *     way SPIRE's k8s_psat attestor does; the namespace and service account
 *     it names select the registration entry.
 */
export const K8S_AUDIENCE = 'interlock';

export async function consumeJoinToken(tx: StoreOps, token: string, now: Date): Promise<RegistrationEntryRow> {
  const result = await tx.consumeJoinToken(hashSecret(token), now.toISOString());
  if (result.status === 'unknown') throw new InterlockError('IL_ERR_ATTESTATION_TOKEN_UNKNOWN', 'join token not recognised', { field: 'token' });
  if (result.status === 'used') {
    throw new InterlockError('IL_ERR_ATTESTATION_TOKEN_USED', `join token was already used at ${result.token.usedAt}`, { field: 'token' });
  }
  if (result.status === 'expired') {
    throw new InterlockError('IL_ERR_ATTESTATION_TOKEN_EXPIRED', `join token expired at ${result.token.expiresAt}`, { field: 'token' });
  }
  const entry = await tx.getEntry(result.token.entryId);
  if (!entry) throw new InterlockError('IL_ERR_ATTESTATION_NO_ENTRY', 'the join token\'s registration entry was deleted', { field: 'token' });
  return entry;
}

export interface ServiceAccount {
  readonly namespace: string;
  readonly serviceAccount: string;
}

function k8sInvalid(message: string): InterlockError {
  return new InterlockError('IL_ERR_ATTESTATION_K8S_INVALID', message, { field: 'token' });
}

/** One cache of cluster key sets for the process (remote ones are fetched once and refreshed by jose). */
const keySets = new K8sKeySets();

/** Verifies a projected service-account token and returns the service account it names. */
export async function verifyServiceAccountToken(cluster: ClusterRow, token: string, now: Date, keys: K8sKeySets = keySets): Promise<ServiceAccount> {
  if (!cluster.k8sJwks || !cluster.k8sIssuer) {
    throw k8sInvalid(`cluster ${cluster.name} has no Kubernetes JWKS configured`);
  }
  let payload: Record<string, unknown>;
  try {
    const getKey = await keys.forCluster(cluster.name, cluster.k8sIssuer, cluster.k8sJwks);
    ({ payload } = await jwtVerify(token, getKey, {
      issuer: cluster.k8sIssuer,
      audience: K8S_AUDIENCE,
      currentDate: now,
      algorithms: ['RS256', 'ES256', 'PS256'],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: 30,
    }));
  } catch (error) {
    if (error instanceof InterlockError) throw error;
    const reason = error instanceof joseErrors.JOSEError ? `${error.code}: ${error.message}` : String(error);
    throw k8sInvalid(`service-account token rejected (${reason})`);
  }
  // Kubernetes puts the service account in `sub` (system:serviceaccount:<ns>:<name>)
  // and, for projected tokens, in the `kubernetes.io` claim too; both must agree.
  // jose checks that `sub` is present, not that it is a string; String() of {"toString":1} would throw.
  const match = typeof payload.sub === 'string' ? /^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$/.exec(payload.sub) : null;
  if (!match) throw k8sInvalid('token subject is not a service account');
  const claim = payload['kubernetes.io'] as { namespace?: string; serviceaccount?: { name?: string } } | undefined;
  if (claim && (claim.namespace !== match[1] || claim.serviceaccount?.name !== match[2])) {
    throw k8sInvalid('token subject and kubernetes.io claim disagree');
  }
  return { namespace: match[1]!, serviceAccount: match[2]! };
}
