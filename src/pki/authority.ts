import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { parseTrustDomain } from '../identity/spiffe-id.ts';
import { AuditLog } from '../audit/chain-file.ts';
import { writeFileAtomic, readKeyMaterial } from '../util/files.ts';
import { createClusterCa, createRootCa, issueX509Svid, type CaMaterial, type ClusterCa } from './certificates.ts';
import { sealPrivateKey, unsealPrivateKey, type KeySecret } from './key-protection.ts';
import { toPemBundle, toSpiffeBundle } from './bundle.ts';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, x509 } from './x509.ts';

const readText = (p: string, f: string) => readKeyMaterial(p, f).toString('utf8');

/**
 * The certificate authority as files in a state folder:
 *
 *   <dir>/ca/ca.json                      organisation, domain
 *   <dir>/ca/root.pem, root.key.sealed    root CA (key sealed, see key-protection.ts)
 *   <dir>/ca/clusters/<name>/…            one intermediate per cluster
 *   <dir>/bundle.pem, bundle.spiffe.json  the trust bundle, PEM and SPIFFE JWKS
 *   <dir>/audit/ca.audit.jsonl            hash-chained record of every CA event
 *
 * Every file is written atomically; a new cluster is built in a temp folder
 * and renamed into place, so a crash never leaves a half-added cluster.
 */
export interface CaInfo {
  readonly organization: string;
  readonly domain: string;
  readonly createdAt: string;
}

export interface ClusterInfo {
  readonly name: string;
  readonly trustDomain: string;
}

export interface IssuedSvid {
  readonly spiffeId: string;
  readonly cert: x509.X509Certificate;
  /** SVID then its cluster intermediate: what a TLS peer presents. */
  readonly chain: readonly x509.X509Certificate[];
  readonly keyPem: string;
}

const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function checkClusterName(name: string): string {
  if (!CLUSTER_NAME.test(name)) {
    throw new InterlockError('IL_ERR_CLUSTER_NAME_INVALID', `cluster name ${JSON.stringify(name)} is not a DNS label`, {
      field: 'cluster',
      hint: 'use lowercase letters, digits and dashes, at most 63 characters, e.g. east',
    });
  }
  return name;
}

function paths(dir: string) {
  const ca = join(dir, 'ca');
  return {
    ca,
    info: join(ca, 'ca.json'),
    rootCert: join(ca, 'root.pem'),
    rootKey: join(ca, 'root.key.sealed'),
    clusters: join(ca, 'clusters'),
    bundlePem: join(dir, 'bundle.pem'),
    bundleSpiffe: join(dir, 'bundle.spiffe.json'),
    audit: join(dir, 'audit', 'ca.audit.jsonl'),
  };
}

export class CertificateAuthority {
  readonly dir: string;
  readonly info: CaInfo;
  readonly root: CaMaterial;
  readonly audit: AuditLog;
  private readonly secret: KeySecret;
  private readonly clock: Clock;

  private constructor(dir: string, info: CaInfo, root: CaMaterial, secret: KeySecret, clock: Clock) {
    this.dir = dir;
    this.info = info;
    this.root = root;
    this.secret = secret;
    this.clock = clock;
    this.audit = new AuditLog(paths(dir).audit, clock);
  }

  static exists(dir: string): boolean {
    return existsSync(paths(dir).info);
  }

  static async init(
    dir: string,
    options: { organization: string; domain: string; secret: KeySecret; clock: Clock; actor?: string },
  ): Promise<CertificateAuthority> {
    const p = paths(dir);
    if (CertificateAuthority.exists(dir)) {
      throw new InterlockError('IL_ERR_CA_ALREADY_INITIALIZED', `a CA already exists in ${p.ca}`, { field: '--dir' });
    }
    parseTrustDomain(options.domain, '--domain');
    const root = await createRootCa({ organization: options.organization, clock: options.clock });
    const info: CaInfo = { organization: options.organization, domain: options.domain, createdAt: options.clock.now().toISOString() };
    mkdirSync(p.ca, { recursive: true, mode: 0o700 });
    writeFileAtomic(p.rootKey, sealPrivateKey(await exportPrivateKeyPem(root.key), options.secret, 'root'));
    writeFileAtomic(p.rootCert, root.cert.toString('pem') + '\n', 0o644);
    // ca.json last: its presence is what marks the CA as initialised.
    writeFileAtomic(p.info, JSON.stringify(info, null, 2) + '\n', 0o644);
    const ca = new CertificateAuthority(dir, info, root, options.secret, options.clock);
    await ca.writeBundle();
    ca.audit.append({
      type: 'ca.created',
      actor: options.actor ?? 'cli',
      data: { organization: info.organization, domain: info.domain, rootSerial: root.cert.serialNumber, notAfter: root.cert.notAfter.toISOString() },
    });
    return ca;
  }

  /** `secret` may be a function so that a missing CA is reported before a missing secret. */
  static async open(dir: string, secret: KeySecret | (() => KeySecret), clock: Clock): Promise<CertificateAuthority> {
    const p = paths(dir);
    if (!CertificateAuthority.exists(dir)) {
      throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', `no CA in ${p.ca}`, { field: '--dir', hint: 'run: interlock ca init, or pass --dir' });
    }
    if (typeof secret === 'function') secret = secret();
    const info = JSON.parse(readText(p.info, 'ca.json')) as CaInfo;
    const keyPem = unsealPrivateKey(readText(p.rootKey, p.rootKey), secret, 'root', p.rootKey);
    const root = { cert: new x509.X509Certificate(readText(p.rootCert, p.rootCert)), key: await importPrivateKeyPem(keyPem) };
    return new CertificateAuthority(dir, info, root, secret, clock);
  }

  get bundlePemPath(): string {
    return paths(this.dir).bundlePem;
  }

  get auditPath(): string {
    return paths(this.dir).audit;
  }

  clusterCertPath(name: string): string {
    return join(paths(this.dir).clusters, name, 'ca.pem');
  }

  private async writeBundle(): Promise<void> {
    const p = paths(this.dir);
    const roots = [this.root.cert];
    writeFileAtomic(p.bundlePem, toPemBundle(roots), 0o644);
    writeFileAtomic(p.bundleSpiffe, JSON.stringify(await toSpiffeBundle(roots, 1), null, 2) + '\n', 0o644);
  }

  listClusters(): ClusterInfo[] {
    const dir = paths(this.dir).clusters;
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => existsSync(join(dir, name, 'cluster.json')))
      .map((name) => JSON.parse(readFileSync(join(dir, name, 'cluster.json'), 'utf8')) as ClusterInfo);
  }

  async addCluster(name: string, trustDomain?: string, actor = 'cli'): Promise<ClusterInfo> {
    checkClusterName(name);
    const domain = parseTrustDomain(trustDomain ?? `${name}.${this.info.domain}`, '--trust-domain');
    const clustersDir = paths(this.dir).clusters;
    const target = join(clustersDir, name);
    if (existsSync(target)) throw new InterlockError('IL_ERR_CLUSTER_EXISTS', `cluster ${name} already exists`, { field: 'cluster' });
    const taken = this.listClusters().find((c) => c.trustDomain === domain);
    if (taken) {
      throw new InterlockError('IL_ERR_CLUSTER_EXISTS', `trust domain ${domain} already belongs to cluster ${taken.name}`, {
        field: '--trust-domain',
      });
    }
    const ca = await createClusterCa(this.root, { cluster: name, trustDomain: domain, organization: this.info.organization, clock: this.clock });
    const staging = `${target}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    const info: ClusterInfo = { name, trustDomain: domain };
    writeFileAtomic(join(staging, 'ca.key.sealed'), sealPrivateKey(await exportPrivateKeyPem(ca.key), this.secret, `cluster:${name}`));
    writeFileAtomic(join(staging, 'ca.pem'), ca.cert.toString('pem') + '\n', 0o644);
    writeFileAtomic(join(staging, 'cluster.json'), JSON.stringify(info, null, 2) + '\n', 0o644);
    renameSync(staging, target);
    this.audit.append({
      type: 'cluster.added',
      actor,
      data: { cluster: name, trustDomain: domain, caSerial: ca.cert.serialNumber, notAfter: ca.cert.notAfter.toISOString() },
    });
    return info;
  }

  async loadClusterCa(name: string): Promise<ClusterCa> {
    checkClusterName(name);
    const dir = join(paths(this.dir).clusters, name);
    if (!existsSync(join(dir, 'cluster.json'))) {
      const known = this.listClusters().map((c) => c.name);
      throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${name}`, {
        field: '--cluster',
        hint: known.length ? `known clusters: ${known.join(', ')}` : 'add one with: interlock ca add-cluster <name>',
      });
    }
    const info = JSON.parse(readText(join(dir, 'cluster.json'), 'cluster.json')) as ClusterInfo;
    const keyPath = join(dir, 'ca.key.sealed');
    const keyPem = unsealPrivateKey(readText(keyPath, keyPath), this.secret, `cluster:${name}`, keyPath);
    return {
      cluster: info.name,
      trustDomain: info.trustDomain,
      cert: new x509.X509Certificate(readText(join(dir, 'ca.pem'), 'ca.pem')),
      key: await importPrivateKeyPem(keyPem),
    };
  }

  /** Issues an SVID with a fresh key pair; the key is returned, never stored by the CA. */
  async issueSvid(cluster: string, spiffeId: string, options: { ttlMs?: number; actor?: string } = {}): Promise<IssuedSvid> {
    const ca = await this.loadClusterCa(cluster);
    const keys = await generateKeyPair();
    const cert = await issueX509Svid(ca, { spiffeId, publicKey: keys.publicKey, clock: this.clock, ...(options.ttlMs ? { ttlMs: options.ttlMs } : {}) });
    this.audit.append({
      type: 'svid.issued',
      actor: options.actor ?? 'cli',
      data: { cluster, spiffeId, serial: cert.serialNumber, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() },
    });
    return { spiffeId, cert, chain: [cert, ca.cert], keyPem: await exportPrivateKeyPem(keys.privateKey) };
  }
}
