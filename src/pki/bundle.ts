import { webcrypto } from 'node:crypto';
import { InterlockError } from '../errors.ts';
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

/** The X.509 authorities of a bundle; IL_ERR_CERT_MALFORMED if it is not a JWK Set or an authority's x5c is not a certificate. */
export function fromSpiffeBundle(bundle: SpiffeBundle): x509.X509Certificate[] {
  const keys: unknown = (bundle as Partial<SpiffeBundle> | null)?.keys;
  if (!Array.isArray(keys)) throw malformed('the bundle has no "keys" array (SPIFFE bundle §4: a JWK Set)', 'keys');
  return keys
    .filter((key: Partial<SpiffeBundle['keys'][number]> | null) => key?.use === 'x509-svid')
    .map((key: { x5c?: unknown }, index) => {
      const [der] = Array.isArray(key.x5c) ? key.x5c : [];
      if (typeof der !== 'string') throw malformed(`x509-svid key ${index + 1} has no x5c certificate`, 'x5c');
      try {
        return new x509.X509Certificate(Buffer.from(der, 'base64'));
      } catch (error) {
        throw malformed(`x5c of x509-svid key ${index + 1} is not an X.509 certificate: ${(error as Error).message}`, 'x5c');
      }
    });
}

function malformed(message: string, field: string): InterlockError {
  return new InterlockError('IL_ERR_CERT_MALFORMED', message, { field });
}

export function toPemBundle(roots: readonly x509.X509Certificate[]): string {
  return certificatesToPem(roots);
}
