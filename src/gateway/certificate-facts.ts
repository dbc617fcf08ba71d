import * as x509 from '@peculiar/x509';
import { checkSvidLeaf } from '../pki/verify.ts';
import type { SpiffeId } from '../identity/spiffe-id.ts';

/**
 * What the gateway reads from a peer's certificate (its SPIFFE ID, checked
 * as an X.509-SVID leaf, and the key id of the CA that signed it), parsed
 * once per certificate rather than once per connection: the same few
 * certificates come back on every handshake, and the ASN.1 parse was the
 * largest cost of a new connection (profiled; docs/performance.md).
 * Nothing here depends on time or trust state, which are checked per use.
 */
interface Facts {
  readonly id: SpiffeId | undefined;
  /** Why the leaf is not a valid X.509-SVID (thrown again on every use). */
  readonly idError: unknown;
  readonly authorityKeyId: string | undefined;
}

const CAPACITY = 4096;
const cache = new Map<string, Facts>();

function factsOf(raw: Buffer): Facts {
  // latin1 maps each byte to one character: a cheap exact key for the DER bytes.
  const key = raw.toString('latin1');
  const known = cache.get(key);
  if (known) return known;
  let facts: Facts;
  try {
    const cert = new x509.X509Certificate(new Uint8Array(raw));
    const authorityKeyId = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase();
    try {
      facts = { id: checkSvidLeaf(cert), idError: undefined, authorityKeyId };
    } catch (error) {
      facts = { id: undefined, idError: error, authorityKeyId };
    }
  } catch (error) {
    facts = { id: undefined, idError: error, authorityKeyId: undefined };
  }
  // Oldest first out: enough for every live certificate of a large mesh, bounded against a flood of new ones.
  if (cache.size >= CAPACITY) cache.delete(cache.keys().next().value!);
  cache.set(key, facts);
  return facts;
}

/** The SPIFFE ID of a DER X.509-SVID leaf; throws the leaf check's coded error when it is not one. */
export function svidIdOf(raw: Buffer): SpiffeId {
  const facts = factsOf(raw);
  if (facts.idError !== undefined) throw facts.idError;
  return facts.id!;
}

/** The key id of the CA that signed a DER certificate (its Authority Key Identifier), lower-case hex. */
export function authorityKeyIdOf(raw: Buffer | undefined): string | undefined {
  return raw ? factsOf(raw).authorityKeyId : undefined;
}
