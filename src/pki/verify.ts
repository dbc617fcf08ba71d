import { AsnConvert } from '@peculiar/asn1-schema';
import { NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import { InterlockError } from '../errors.ts';
import { parseWorkloadSpiffeId, type SpiffeId } from '../identity/spiffe-id.ts';
import { x509 } from './x509.ts';

/**
 * Verification of a presented X.509-SVID chain against a trust bundle, as the
 * SPIFFE X509-SVID specification §5 asks: the chain leads to a bundle root,
 * every certificate is inside its validity window, CAs are CAs, the leaf is a
 * signing-only non-CA with exactly one SPIFFE URI SAN, and the leaf's ID obeys
 * every name constraint above it (RFC 5280 §4.2.1.10).
 *
 * Node's TLS stack performs the same checks at the handshake through OpenSSL;
 * this is the verifier for everything that is not a handshake (CLI checks,
 * certificates carried in messages) and a second, independent opinion.
 */
export interface VerifiedSvid {
  readonly spiffeId: SpiffeId;
  readonly leaf: x509.X509Certificate;
  /** Leaf first, bundle root last. */
  readonly path: readonly x509.X509Certificate[];
}

const MAX_CHAIN_DEPTH = 4;

function fail(code: ConstructorParameters<typeof InterlockError>[0], message: string, field: string): never {
  throw new InterlockError(code, message, { field });
}

function certLabel(cert: x509.X509Certificate): string {
  return `${cert.subject || '(empty subject)'} [serial ${cert.serialNumber}]`;
}

function keyUsage(cert: x509.X509Certificate): number | undefined {
  return cert.getExtension(x509.KeyUsagesExtension)?.usages;
}

/**
 * The leaf-only checks of X509-SVID §4 and §5. Synchronous and cheap, so the
 * gateway runs it on every new connection after OpenSSL verified the chain.
 */
export function checkSvidLeaf(leaf: x509.X509Certificate): SpiffeId {
  return parsingExtensions(leaf, () => checkLeafExtensions(leaf));
}

/**
 * @peculiar/x509 decodes extensions lazily, and getExtension decodes all of
 * them: one malformed extension (signed by a CA, so still "verified") throws
 * an ASN.1 parser error. That is a malformed certificate, not a crash.
 */
function parsingExtensions<T>(cert: x509.X509Certificate, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InterlockError) throw error;
    return fail('IL_ERR_CERT_MALFORMED', `${certLabel(cert)} has an extension that cannot be parsed: ${(error as Error).message}`, 'extensions');
  }
}

function checkLeafExtensions(leaf: x509.X509Certificate): SpiffeId {
  const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = san?.names.items.filter((name) => name.type === 'url').map((name) => name.value) ?? [];
  if (uris.length !== 1) fail('IL_ERR_SVID_INVALID', `an X.509-SVID has exactly one URI SAN, this one has ${uris.length}`, 'subjectAltName');
  const spiffeId = parseWorkloadSpiffeId(uris[0]!, 'subjectAltName');
  const basic = leaf.getExtension(x509.BasicConstraintsExtension);
  if (basic?.ca) fail('IL_ERR_SVID_INVALID', 'an X.509-SVID leaf must not be a CA certificate', 'basicConstraints');
  const usage = keyUsage(leaf);
  if (usage === undefined || (usage & x509.KeyUsageFlags.digitalSignature) === 0) {
    fail('IL_ERR_CERT_KEY_USAGE', 'an X.509-SVID leaf must allow digitalSignature', 'keyUsage');
  }
  if ((usage & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0) {
    fail('IL_ERR_CERT_KEY_USAGE', 'an X.509-SVID leaf must not allow keyCertSign or cRLSign', 'keyUsage');
  }
  return spiffeId;
}

function sameCertificate(a: x509.X509Certificate, b: x509.X509Certificate): boolean {
  return Buffer.from(a.rawData).equals(Buffer.from(b.rawData));
}

async function findIssuer(
  child: x509.X509Certificate,
  candidates: readonly x509.X509Certificate[],
): Promise<x509.X509Certificate | undefined> {
  for (const candidate of candidates) {
    if (candidate.subject !== child.issuer) continue;
    let signed = false;
    try {
      signed = await child.verify({ publicKey: candidate.publicKey, signatureOnly: true });
    } catch {
      signed = false; // a malformed signature value (or key) is not a signature by this candidate
    }
    if (signed) return candidate;
  }
  return undefined;
}

async function buildPath(
  leaf: x509.X509Certificate,
  intermediates: readonly x509.X509Certificate[],
  roots: readonly x509.X509Certificate[],
): Promise<x509.X509Certificate[]> {
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH; depth++) {
    const root = await findIssuer(current, roots);
    if (root) {
      if (!sameCertificate(root, current)) path.push(root);
      return path;
    }
    const next = await findIssuer(current, intermediates);
    if (!next || path.some((cert) => sameCertificate(cert, next))) break;
    path.push(next);
    current = next;
  }
  fail('IL_ERR_CERT_UNTRUSTED', `no chain from ${certLabel(leaf)} to a certificate of the trust bundle`, 'chain');
}

function checkValidity(path: readonly x509.X509Certificate[], now: Date): void {
  for (const cert of path) {
    if (now < cert.notBefore) {
      fail('IL_ERR_CERT_NOT_YET_VALID', `${certLabel(cert)} is not valid before ${cert.notBefore.toISOString()}`, 'notBefore');
    }
    if (now > cert.notAfter) {
      fail('IL_ERR_CERT_EXPIRED', `${certLabel(cert)} expired at ${cert.notAfter.toISOString()}`, 'notAfter');
    }
  }
}

function checkCaCertificates(path: readonly x509.X509Certificate[]): void {
  path.slice(1).forEach((ca, index) => {
    const basic = ca.getExtension(x509.BasicConstraintsExtension);
    if (!basic?.ca) fail('IL_ERR_CERT_KEY_USAGE', `${certLabel(ca)} signs certificates but is not a CA`, 'basicConstraints');
    // index = number of CA certificates between this CA and the leaf.
    if (basic.pathLength !== undefined && index > basic.pathLength) {
      fail('IL_ERR_CERT_KEY_USAGE', `${certLabel(ca)} allows ${basic.pathLength} CAs below it, the chain has ${index}`, 'basicConstraints');
    }
    const usage = keyUsage(ca);
    if (usage !== undefined && (usage & x509.KeyUsageFlags.keyCertSign) === 0) {
      fail('IL_ERR_CERT_KEY_USAGE', `${certLabel(ca)} does not allow keyCertSign`, 'keyUsage');
    }
  });
}

/** RFC 5280 §4.2.1.10: a URI constraint is a host; a leading dot means "any subdomain of". */
export function uriHostMatches(host: string, constraint: string): boolean {
  const h = host.toLowerCase();
  const c = constraint.toLowerCase();
  return c.startsWith('.') ? h.endsWith(c) && h.length > c.length : h === c;
}

function uriConstraints(ca: x509.X509Certificate): { permitted: string[]; excluded: string[] } | undefined {
  const ext = ca.extensions.find((e) => e.type === id_ce_nameConstraints);
  if (!ext) return undefined;
  const parsed = parsingExtensions(ca, () => AsnConvert.parse(ext.value, NameConstraints));
  const uris = (subtrees: typeof parsed.permittedSubtrees) =>
    (subtrees ?? []).map((s) => s.base.uniformResourceIdentifier).filter((u): u is string => u !== undefined);
  return { permitted: uris(parsed.permittedSubtrees), excluded: uris(parsed.excludedSubtrees) };
}

export function checkNameConstraints(spiffeId: SpiffeId, path: readonly x509.X509Certificate[]): void {
  for (const ca of path.slice(1)) {
    const constraints = uriConstraints(ca);
    if (!constraints) continue;
    const host = spiffeId.trustDomain;
    const permitted = constraints.permitted.length === 0 || constraints.permitted.some((c) => uriHostMatches(host, c));
    const excluded = constraints.excluded.some((c) => uriHostMatches(host, c));
    if (!permitted || excluded) {
      fail('IL_ERR_CERT_NAME_CONSTRAINT', `${spiffeId.id} is outside the name constraints of ${certLabel(ca)}`, 'subjectAltName');
    }
  }
}

/**
 * Verifies `chain` (leaf first, then any intermediates the peer sent)
 * against `roots`, at time `now`. Throws an InterlockError with the precise
 * code of the first failed check.
 */
export async function verifySvidChain(
  chain: readonly x509.X509Certificate[],
  roots: readonly x509.X509Certificate[],
  now: Date,
): Promise<VerifiedSvid> {
  const [leaf, ...intermediates] = chain;
  if (!leaf) fail('IL_ERR_CERT_MALFORMED', 'the chain holds no certificate', 'chain');
  if (roots.length === 0) fail('IL_ERR_CERT_UNTRUSTED', 'the trust bundle is empty', 'bundle');
  const spiffeId = checkSvidLeaf(leaf);
  const path = await buildPath(leaf, intermediates, roots);
  checkValidity(path, now);
  for (const ca of path.slice(1)) parsingExtensions(ca, () => ca.extensions);
  checkCaCertificates(path);
  checkNameConstraints(spiffeId, path);
  return { spiffeId, leaf, path };
}
