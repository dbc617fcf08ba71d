import { randomUUID } from 'node:crypto';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { parseTrustDomain } from '../identity/spiffe-id.ts';
import { checkClusterName } from '../pki/authority.ts';
import { createClusterCa, createRootCa, issueServerCertificate, signLeafCertificate, type CaMaterial, type ClusterCa } from '../pki/certificates.ts';
import { sealPrivateKey, unsealPrivateKey, type KeySecret } from '../pki/key-protection.ts';
import { normalizeSerial } from '../pki/serial.ts';
import { toSpiffeBundle, type SpiffeBundle } from '../pki/bundle.ts';
import { certificatesToPem, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, x509 } from '../pki/x509.ts';
import type { AuthorityRow, ClusterRow, RegistrationEntryRow, Store, StoreOps, SvidRow } from '../store/types.ts';

/**
 * The certificate authority with its state in the store, so that every
 * replica of the control plane signs with the same keys. Keys are stored
 * sealed (AES-256-GCM, see pki/key-protection.ts) and unsealed into memory
 * on first use.
 */
export interface OrgSettings {
  readonly organization: string;
  readonly domain: string;
}

const ORG_SETTING = 'org';
/**
 * notBefore is set this far back to absorb clock skew between the CA and
 * verifiers, but never more than a tenth of the lifetime: the SDK renews at
 * half of notBefore→notAfter, and a 30 s backdate on a 10 s SVID would put
 * that point in the past at issuance.
 */
const BACKDATE_MS = 30_000;
const INITIALIZE_TIMEOUT_MS = 30_000;

export interface SignedSvid {
  readonly cert: x509.X509Certificate;
  /** SVID then its cluster intermediate. */
  readonly chainPem: string;
  readonly row: SvidRow;
}

export class CaService {
  readonly #store: Store;
  readonly #secret: KeySecret;
  readonly #clock: Clock;
  readonly #keys = new Map<string, Promise<CryptoKey>>();

  constructor(store: Store, secret: KeySecret, clock: Clock) {
    this.#store = store;
    this.#secret = secret;
    this.#clock = clock;
  }

  get clock(): Clock {
    return this.#clock;
  }

  async org(): Promise<OrgSettings | undefined> {
    return (await this.#store.getSetting(ORG_SETTING)) as OrgSettings | undefined;
  }

  /**
   * Creates the root CA once; later calls check the secret opens it. Replicas
   * starting together on an empty database race here, so creation runs under
   * runExclusive (a PostgreSQL advisory lock) and the losers wait for the
   * winner's root instead of minting a second one.
   */
  async initialize(org: OrgSettings, actor: string): Promise<void> {
    parseTrustDomain(org.domain, 'domain');
    const deadline = Date.now() + INITIALIZE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const [existing] = await this.#store.listAuthorities({ kind: 'root' });
      if (existing) {
        await this.#unseal(existing);
        return;
      }
      const outcome = await this.#store.runExclusive('ca-initialize', () => this.#createRoot(org, actor));
      if (!outcome.ran) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new InterlockError('IL_ERR_STORE_UNAVAILABLE', 'timed out waiting for another replica to create the root CA', { field: 'store' });
  }

  async #createRoot(org: OrgSettings, actor: string): Promise<void> {
    if ((await this.#store.listAuthorities({ kind: 'root' })).length > 0) return;
    const root = await createRootCa({ organization: org.organization, clock: this.#clock });
    const row = await this.#authorityRow(root, 'root', null, 'root');
    await this.#store.transaction(async (tx) => {
      await tx.putSetting(ORG_SETTING, org);
      await tx.putAuthority(row);
      await tx.appendAudit({ type: 'ca.created', actor, data: { organization: org.organization, domain: org.domain, rootSerial: row.serial, notAfter: row.notAfter } }, this.#now());
      await tx.appendEvent('bundle.changed', { reason: 'root created', rootSerial: row.serial }, this.#now());
    });
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  async #authorityRow(ca: CaMaterial, purpose: string, cluster: string | null, kind: AuthorityRow['kind']): Promise<AuthorityRow> {
    return {
      serial: ca.cert.serialNumber,
      kind,
      cluster,
      certPem: ca.cert.toString('pem'),
      sealedKey: sealPrivateKey(await exportPrivateKeyPem(ca.key), this.#secret, purpose),
      status: 'active',
      notAfter: ca.cert.notAfter.toISOString(),
      createdAt: this.#now(),
    };
  }

  #unseal(row: AuthorityRow): Promise<CryptoKey> {
    let key = this.#keys.get(row.serial);
    if (!key) {
      const purpose = row.kind === 'root' ? 'root' : `cluster:${row.cluster}`;
      key = importPrivateKeyPem(unsealPrivateKey(row.sealedKey, this.#secret, purpose, `authority ${row.serial}`));
      key.catch(() => this.#keys.delete(row.serial));
      this.#keys.set(row.serial, key);
    }
    return key;
  }

  async root(): Promise<CaMaterial> {
    const [row] = await this.#store.listAuthorities({ kind: 'root', status: 'active' });
    if (!row) throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', 'the control plane has no root CA yet', { field: 'store' });
    return { cert: new x509.X509Certificate(row.certPem), key: await this.#unseal(row) };
  }

  async clusterCa(cluster: string, ops: StoreOps = this.#store): Promise<ClusterCa> {
    const info = await ops.getCluster(cluster);
    const [row] = await ops.listAuthorities({ kind: 'cluster', cluster, status: 'active' });
    if (!info || !row) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${cluster}`, { field: 'cluster' });
    return { cluster, trustDomain: info.trustDomain, cert: new x509.X509Certificate(row.certPem), key: await this.#unseal(row) };
  }

  async addCluster(input: { name: string; trustDomain?: string; k8s?: { jwks: string; issuer: string } }, actor: string): Promise<ClusterRow> {
    const org = await this.org();
    if (!org) throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', 'the control plane has no root CA yet', { field: 'store' });
    const name = checkClusterName(input.name);
    const trustDomain = parseTrustDomain(input.trustDomain ?? `${name}.${org.domain}`, 'trustDomain');
    if (trustDomain === org.domain) {
      // The organisation domain names the control plane itself; a cluster must not share it.
      throw new InterlockError('IL_ERR_CLUSTER_NAME_INVALID', `trust domain ${trustDomain} is reserved for the control plane`, { field: 'trustDomain' });
    }
    const ca = await createClusterCa(await this.root(), { cluster: name, trustDomain, organization: org.organization, clock: this.#clock });
    const authority = await this.#authorityRow(ca, `cluster:${name}`, name, 'cluster');
    const row: ClusterRow = { name, trustDomain, k8sJwks: input.k8s?.jwks ?? null, k8sIssuer: input.k8s?.issuer ?? null, createdAt: this.#now(), createdBy: actor };
    await this.#store.transaction(async (tx) => {
      await tx.insertCluster(row);
      await tx.putAuthority(authority);
      await tx.appendAudit({ type: 'cluster.added', actor, data: { cluster: name, trustDomain, caSerial: authority.serial, notAfter: authority.notAfter } }, this.#now());
      await tx.appendEvent('bundle.changed', { reason: 'cluster added', cluster: name }, this.#now());
    });
    return row;
  }

  async materialOf(row: AuthorityRow): Promise<CaMaterial> {
    return { cert: new x509.X509Certificate(row.certPem), key: await this.#unseal(row) };
  }

  /** A CA row by serial, with its key unsealed: rotation and CRLs need CAs that no longer sign. */
  async authority(serial: string, ops: StoreOps = this.#store): Promise<{ row: AuthorityRow; material: CaMaterial }> {
    const row = (await ops.listAuthorities()).find((r) => normalizeSerial(r.serial) === normalizeSerial(serial));
    if (!row) throw new InterlockError('IL_ERR_NOT_FOUND', `no CA with serial ${serial}`, { field: 'serial' });
    return { row, material: await this.materialOf(row) };
  }

  /**
   * A new CA for a staged rotation (ca-rotation.ts), not stored yet: a root,
   * or a cluster intermediate signed by `issuer`. The caller stores it with
   * status 'published' so it is trusted before it signs anything.
   */
  async newRootAuthority(): Promise<AuthorityRow> {
    const org = await this.org();
    if (!org) throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', 'the control plane has no root CA yet', { field: 'store' });
    const root = await createRootCa({ organization: org.organization, clock: this.#clock });
    return { ...(await this.#authorityRow(root, 'root', null, 'root')), status: 'published' };
  }

  async newClusterAuthority(cluster: ClusterRow, issuer: CaMaterial): Promise<AuthorityRow> {
    const org = await this.org();
    const ca = await createClusterCa(issuer, { cluster: cluster.name, trustDomain: cluster.trustDomain, organization: org!.organization, clock: this.#clock });
    return { ...(await this.#authorityRow(ca, `cluster:${cluster.name}`, cluster.name, 'cluster')), status: 'published' };
  }

  /**
   * The root that signs the control plane's own TLS certificate: the oldest
   * one still trusted. During a root rotation that is the old root until it
   * is withdrawn, so a workload whose bundle predates the new root can still
   * reach the control plane to renew (and receive the new bundle).
   */
  async serverSigningRoot(): Promise<CaMaterial> {
    const roots = (await this.#store.listAuthorities({ kind: 'root' })).filter((r) => r.status !== 'retired').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const chosen = roots[0];
    if (!chosen) throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', 'the control plane has no root CA yet', { field: 'store' });
    return { cert: new x509.X509Certificate(chosen.certPem), key: await this.#unseal(chosen) };
  }

  /**
   * Signs an X.509-SVID for a registration entry. Only signs: the caller
   * records `row` in the same transaction as whatever authorised it, so a
   * certificate that was signed but not recorded is never handed out.
   */
  async signSvid(entry: RegistrationEntryRow, publicKey: CryptoKey, method: string, ops: StoreOps): Promise<SignedSvid> {
    const ca = await this.clusterCa(entry.cluster, ops);
    const now = this.#clock.now().getTime();
    const cert = await signLeafCertificate(ca, {
      uri: entry.spiffeId,
      publicKey,
      notBefore: new Date(now - Math.min(BACKDATE_MS, entry.ttlSeconds * 100)),
      notAfter: new Date(Math.min(now + entry.ttlSeconds * 1000, ca.cert.notAfter.getTime())),
    });
    const row: SvidRow = {
      serial: cert.serialNumber,
      spiffeId: entry.spiffeId,
      cluster: entry.cluster,
      entryId: entry.id,
      issuerSerial: ca.cert.serialNumber,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      issuedAt: this.#now(),
      method,
      revokedAt: null,
      revocationReason: null,
    };
    return { cert, chainPem: certificatesToPem([cert, ca.cert]), row };
  }

  bundlePem(): Promise<string> {
    return bundlePemFromStore(this.#store);
  }

  async spiffeBundle(): Promise<SpiffeBundle> {
    const roots = (await this.#store.listAuthorities({ kind: 'root' })).filter((r) => r.status !== 'retired');
    return toSpiffeBundle(
      roots.map((r) => new x509.X509Certificate(r.certPem)),
      await this.#store.latestEventId(),
    );
  }

  /** A fresh certificate for the control plane's own TLS listener. */
  async serverIdentity(options: { dnsNames: readonly string[]; ipAddresses: readonly string[]; ttlMs: number }) {
    const org = await this.org();
    const keys = await generateKeyPair();
    const spiffeId = `spiffe://${org!.domain}/interlock/server`;
    const cert = await issueServerCertificate(await this.serverSigningRoot(), { spiffeId, ...options, publicKey: keys.publicKey, clock: this.#clock });
    return { spiffeId, certPem: cert.toString('pem') + '\n', keyPem: await exportPrivateKeyPem(keys.privateKey), bundlePem: await this.bundlePem(), notAfter: cert.notAfter };
  }
}

export function newEntryId(): string {
  return randomUUID();
}

/** The trust bundle (roots not retired) as PEM; needs no secret, so `interlock server bundle` can print it. */
export async function bundlePemFromStore(store: StoreOps): Promise<string> {
  const roots = await store.listAuthorities({ kind: 'root' });
  return roots.filter((r) => r.status !== 'retired').map((r) => r.certPem.trim() + '\n').join('');
}
