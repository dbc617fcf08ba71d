import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { exportPrivateKeyPem, generateKeyPair as generateCaKeyPair, x509, EC_SIGNING_ALGORITHM } from '../pki/x509.ts';

/**
 * What a real Kubernetes API server does for attestation: it signs projected
 * service-account tokens with its key and publishes the public half as a
 * JWKS at /openid/v1/jwks (and an OIDC discovery document at
 * /.well-known/openid-configuration), over HTTPS with its own CA. Each lab
 * cluster gets one, and the control plane fetches its keys from that
 * endpoint: the lab verifies tokens by exactly the code path production
 * uses (server/k8s-keys.ts), key rotation included.
 */
export interface FakeApiServer {
  readonly cluster: string;
  readonly issuer: string;
  /** The current keys (the last one signs). */
  readonly jwks: { keys: JWK[] };
  /** https://127.0.0.1:<port>/openid/v1/jwks */
  readonly jwksUri: string;
  /** The CA of the API server's HTTPS certificate. */
  readonly caPem: string;
  /** A projected token for a pod's service account, audience "interlock" unless told otherwise. */
  mintToken(namespace: string, serviceAccount: string, options?: { audience?: string; ttlSeconds?: number }): Promise<string>;
  /** A new signing key, published beside the old one (as the API server does when its key rotates). */
  rotateKey(): Promise<void>;
  close(): Promise<void>;
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** A self-signed certificate for 127.0.0.1: the API server's serving certificate and its own CA at once. */
async function servingCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateCaKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + randomUUID().replace(/-/g, '').slice(0, 16),
    name: 'CN=lab kubernetes API server',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 7 * 86_400_000),
    keys,
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** `issuer` defaults to a name of the cluster's own (not resolvable: the control plane is given jwksUri); 'self' makes it the server's URL, so OIDC discovery works. */
export async function createFakeApiServer(cluster: string, options: { issuer?: 'self' } = {}): Promise<FakeApiServer> {
  const signing: SigningKey[] = [await newSigningKey()];
  const tls = await servingCertificate();
  let issuer = `https://kubernetes.${cluster}.lab.interlock`;
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.3' }, (req, res) => {
    const answer = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/openid/v1/jwks') return answer({ keys: signing.map((k) => k.jwk) });
    if (req.url === '/.well-known/openid-configuration') return answer({ issuer, jwks_uri: `${base}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['ES256'] });
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // It lives as long as whoever made it needs it; it never keeps a process alive on its own.
  server.unref();
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (options.issuer === 'self') issuer = base;
  return {
    cluster,
    get issuer() {
      return issuer;
    },
    get jwks() {
      return { keys: signing.map((k) => k.jwk) };
    },
    jwksUri: `${base}/openid/v1/jwks`,
    caPem: tls.certPem,
    mintToken: (namespace, serviceAccount, tokenOptions = {}) => signToken(signing[signing.length - 1]!, issuer, namespace, serviceAccount, tokenOptions),
    rotateKey: async () => {
      signing.push(await newSigningKey());
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function signToken(key: SigningKey, issuer: string, namespace: string, serviceAccount: string, options: { audience?: string; ttlSeconds?: number }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  // The claims Kubernetes puts in a projected token (KEP-1205 bound tokens).
  return new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: randomUUID() }, pod: { name: `${serviceAccount}-0`, uid: randomUUID() } } })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .setIssuer(issuer)
    .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
    .setAudience(options.audience ?? 'interlock')
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 600))
    .sign(key.privateKey);
}
