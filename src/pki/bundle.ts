import { webcrypto } from 'node:crypto';
import { certificatesToPem, x509 } from './x509.ts';

/**
 * A trust bundle in the SPIFFE bundle format (SPIFFE Trust Domain and Bundle
 * §4): a JWK Set whose X.509 authorities carry `use: "x509-svid"` and the
 * certificate in `x5c`, so SPIRE, Istio and go-spiffe can read it as is.
 */
export interface SpiffeBundle {
  keys: Array<JsonWebKey & { use: 'x509-svid'; x5c: string[] }>;
  spiffe_sequence: number;
  spiffe_refresh_hint: number;
}

/** How often, in seconds, consumers should re-fetch the bundle (SPIFFE bundle §4.1.2). */
const REFRESH_HINT_SECONDS = 300;

export async function toSpiffeBundle(roots: readonly x509.X509Certificate[], sequence: number): Promise<SpiffeBundle> {
  const keys = await Promise.all(
    roots.map(async (cert) => {
      const publicKey = await cert.publicKey.export(webcrypto as unknown as Crypto);
      const jwk = await webcrypto.subtle.exportKey('jwk', publicKey);
      const { key_ops: _ops, ext: _ext, ...plain } = jwk;
      return { ...plain, use: 'x509-svid' as const, x5c: [Buffer.from(cert.rawData).toString('base64')] };
    }),
  );
  return { keys, spiffe_sequence: sequence, spiffe_refresh_hint: REFRESH_HINT_SECONDS };
}

export function fromSpiffeBundle(bundle: SpiffeBundle): x509.X509Certificate[] {
  return bundle.keys
    .filter((key) => key.use === 'x509-svid')
    .flatMap((key) => key.x5c.slice(0, 1).map((der) => new x509.X509Certificate(Buffer.from(der, 'base64'))));
}

export function toPemBundle(roots: readonly x509.X509Certificate[]): string {
  return certificatesToPem(roots);
}
