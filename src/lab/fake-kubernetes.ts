import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';

/**
 * What a real Kubernetes API server does for attestation: it signs projected
 * service-account tokens with its key and publishes the public half as a
 * JWKS (/openid/v1/jwks). Each lab cluster gets one, so the control plane
 * verifies lab tokens by exactly the code path it uses for real clusters.
 */
export interface FakeApiServer {
  readonly cluster: string;
  readonly issuer: string;
  readonly jwks: { keys: JWK[] };
  /** A projected token for a pod's service account, audience "interlock" unless told otherwise. */
  mintToken(namespace: string, serviceAccount: string, options?: { audience?: string; ttlSeconds?: number }): Promise<string>;
}

export async function createFakeApiServer(cluster: string): Promise<FakeApiServer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const issuer = `https://kubernetes.${cluster}.lab.interlock`;
  return {
    cluster,
    issuer,
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
    mintToken: (namespace, serviceAccount, options = {}) => signToken(privateKey, kid, issuer, namespace, serviceAccount, options),
  };
}

function signToken(key: CryptoKey, kid: string, issuer: string, namespace: string, serviceAccount: string, options: { audience?: string; ttlSeconds?: number }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  // The claims Kubernetes puts in a projected token (KEP-1205 bound tokens).
  return new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: randomUUID() }, pod: { name: `${serviceAccount}-0`, uid: randomUUID() } } })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(issuer)
    .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
    .setAudience(options.audience ?? 'interlock')
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 600))
    .sign(key);
}
