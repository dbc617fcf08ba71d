import { randomBytes } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { parseTrustDomain, parseWorkloadSpiffeId } from '../identity/spiffe-id.ts';
import { EC_SIGNING_ALGORITHM, generateKeyPair, x509 } from './x509.ts';

/** A CA certificate with the private key that signs under it. */
export interface CaMaterial {
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
}

export interface ClusterCa extends CaMaterial {
  readonly cluster: string;
  readonly trustDomain: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** SVID lifetimes: 1 h by default, never under 5 min (DESIGN.md), never over a day. */
export const SVID_TTL_DEFAULT_MS = HOUR;
// Seconds-long SVIDs are legitimate (rehearsing rotation, very sensitive workloads); below 10 s the renewal traffic is all there is.
export const SVID_TTL_MIN_MS = 10_000;
export const SVID_TTL_MAX_MS = DAY;
export const ROOT_TTL_MS = 10 * 365 * DAY;
export const CLUSTER_CA_TTL_MS = 365 * DAY;
/** Backdating tolerates small clock differences between the CA and verifiers. */
const BACKDATE_MS = 30_000;

/**
 * RFC 5280 §4.1.2.2: a positive integer of at most 20 octets, unpredictable.
 * 16 random bytes with the top bit cleared keep it positive without a pad byte.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** Parses `90s`, `30m`, `1h`, `2d` or plain milliseconds. */
export function parseDuration(value: string, field: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) {
    throw new InterlockError('IL_ERR_TTL_INVALID', `${JSON.stringify(value)} is not a duration`, {
      field,
      hint: 'use a number with a unit: 300s, 30m, 1h, 1d',
    });
  }
  const units: Record<string, number> = { ms: 1, s: 1000, m: MINUTE, h: HOUR, d: DAY };
  const ms = Number(match[1]) * units[match[2] ?? 'ms']!;
  // Hundreds of digits make Infinity (or an inexact float), which no lifetime check can compare sensibly.
  if (!Number.isSafeInteger(ms)) throw new InterlockError('IL_ERR_TTL_INVALID', `${JSON.stringify(value)} is too long a duration`, { field });
  return ms;
}

export function checkSvidTtl(ttlMs: number, field = 'ttl'): number {
  if (!Number.isFinite(ttlMs) || ttlMs < SVID_TTL_MIN_MS || ttlMs > SVID_TTL_MAX_MS) {
    throw new InterlockError('IL_ERR_TTL_INVALID', `SVID lifetime must be between 10s and 24h, got ${Math.round(ttlMs / 1000)}s`, {
      field,
    });
  }
  return ttlMs;
}

export async function createRootCa(options: { organization: string; clock: Clock; ttlMs?: number }): Promise<CaMaterial> {
  const keys = await generateKeyPair();
  const now = options.clock.now().getTime();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: [{ O: [options.organization] }, { CN: [`${options.organization} Interlock root CA`] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + (options.ttlMs ?? ROOT_TTL_MS)),
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    keys,
    extensions: [
      // pathLen 1: root → cluster intermediate → SVID, and no deeper.
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey };
}

/**
 * RFC 5280 §4.2.1.10 name constraints, critical: the intermediate may only
 * certify URIs whose host is its own trust domain. OpenSSL (and so Node's
 * TLS) matches a URI constraint against the URI's host exactly, which is the
 * SPIFFE trust domain (X509-SVID §4.3 recommends this constraint).
 */
export function trustDomainNameConstraint(trustDomain: string): x509.Extension {
  const permitted = new GeneralSubtrees([new GeneralSubtree({ base: new GeneralName({ uniformResourceIdentifier: trustDomain }) })]);
  const value = AsnConvert.serialize(new NameConstraints({ permittedSubtrees: permitted }));
  return new x509.Extension(id_ce_nameConstraints, true, value);
}

export async function createClusterCa(
  root: CaMaterial,
  options: { cluster: string; trustDomain: string; organization: string; clock: Clock; ttlMs?: number },
): Promise<ClusterCa> {
  const trustDomain = parseTrustDomain(options.trustDomain);
  const keys = await generateKeyPair();
  const now = options.clock.now().getTime();
  const notAfter = Math.min(now + (options.ttlMs ?? CLUSTER_CA_TTL_MS), root.cert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: [{ O: [options.organization] }, { OU: [options.cluster] }, { CN: [`${options.cluster} cluster CA`] }],
    issuer: root.cert.subjectName,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: root.key,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      trustDomainNameConstraint(trustDomain),
      // X509-SVID §4.1: a signing certificate may carry its trust domain's ID.
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root.cert),
    ],
  });
  return { cert, key: keys.privateKey, cluster: options.cluster, trustDomain };
}

export interface LeafSigningRequest {
  readonly uri: string;
  readonly publicKey: CryptoKey;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * Signs a leaf certificate with no policy checks at all. Only issueX509Svid
 * should call it in the product; tests and the lab use it to forge what a
 * compromised CA could mint, to prove verifiers refuse it.
 */
export async function signLeafCertificate(issuer: CaMaterial, request: LeafSigningRequest): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: [{ O: ['Interlock workload'] }],
    issuer: issuer.cert.subjectName,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    publicKey: request.publicKey,
    signingKey: issuer.key,
    extensions: [
      // X509-SVID §4: leaf is not a CA, signs only, and carries exactly one URI SAN.
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: request.uri }], true),
      await x509.SubjectKeyIdentifierExtension.create(request.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    ],
  });
}

export interface SvidRequest {
  readonly spiffeId: string;
  readonly publicKey: CryptoKey;
  readonly ttlMs?: number;
  readonly clock: Clock;
}

/** Issues an X.509-SVID from a cluster CA, refusing IDs outside its trust domain. */
export async function issueX509Svid(issuer: ClusterCa, request: SvidRequest): Promise<x509.X509Certificate> {
  const id = parseWorkloadSpiffeId(request.spiffeId, 'id');
  if (id.trustDomain !== issuer.trustDomain) {
    throw new InterlockError(
      'IL_ERR_SPIFFE_ID_OUT_OF_DOMAIN',
      `cluster ${issuer.cluster} issues only in trust domain ${issuer.trustDomain}, not ${id.trustDomain}`,
      { field: 'id' },
    );
  }
  const ttlMs = checkSvidTtl(request.ttlMs ?? SVID_TTL_DEFAULT_MS);
  const now = request.clock.now().getTime();
  const notAfter = Math.min(now + ttlMs, issuer.cert.notAfter.getTime());
  return signLeafCertificate(issuer, {
    uri: id.id,
    publicKey: request.publicKey,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(notAfter),
  });
}

/**
 * The control plane's own TLS certificate: signed by the root, carrying its
 * SPIFFE ID (clients check it, as with any SPIFFE peer) plus DNS names and
 * IP addresses so browsers and curl can reach the dashboard and API.
 */
export async function issueServerCertificate(
  root: CaMaterial,
  request: { spiffeId: string; dnsNames: readonly string[]; ipAddresses: readonly string[]; publicKey: CryptoKey; ttlMs: number; clock: Clock },
): Promise<x509.X509Certificate> {
  const now = request.clock.now().getTime();
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: [{ O: ['Interlock control plane'] }],
    issuer: root.cert.subjectName,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + request.ttlMs, root.cert.notAfter.getTime())),
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    publicKey: request.publicKey,
    signingKey: root.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension(
        [
          { type: 'url', value: request.spiffeId },
          ...request.dnsNames.map((value) => ({ type: 'dns' as const, value })),
          ...request.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
        ],
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(request.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root.cert),
    ],
  });
}
