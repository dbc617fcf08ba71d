import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair as generateJwtKeyPair, type JWK } from 'jose';
import { InterlockError, toInterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { publicKeyFromCsr } from '../pki/csr.ts';
import { sealPrivateKey, unsealPrivateKey, type KeySecret } from '../pki/key-protection.ts';
import type { RegistrationEntryRow, Store, StoreOps } from '../store/types.ts';
import { consumeJoinToken, verifyServiceAccountToken } from './attestation.ts';
import type { CaService } from './ca-service.ts';

export interface IssuedIdentity {
  readonly spiffeId: string;
  readonly serial: string;
  /** PEM: the SVID then its cluster intermediate. */
  readonly certChainPem: string;
  readonly bundlePem: string;
  readonly notAfter: string;
}

/** JWT-SVIDs live 5 minutes by default (SPIFFE JWT-SVID §3 recommends short lifetimes). */
export const JWT_SVID_TTL_SECONDS = 300;
const JWT_KEYS_SETTING = 'jwt-keys';

interface StoredJwtKey {
  kid: string;
  publicJwk: JWK;
  sealedKey: string;
}

/**
 * Issuance: attestation, renewal and JWT-SVIDs. Each issuance is one
 * transaction that authorises (consumes the token, checks the current SVID),
 * signs, records the SVID and appends the audit record; failures are audited
 * too, outside the rolled-back transaction.
 */
export class IdentityService {
  readonly #store: Store;
  readonly #ca: CaService;
  readonly #secret: KeySecret;
  readonly #clock: Clock;
  readonly #jwtKeys = new Map<string, { kid: string; key: KeyObject }>();

  constructor(store: Store, ca: CaService, secret: KeySecret, clock: Clock) {
    this.#store = store;
    this.#ca = ca;
    this.#secret = secret;
    this.#clock = clock;
  }

  async #issue(method: string, actor: string, csrPem: string, authorise: (tx: StoreOps) => Promise<RegistrationEntryRow>): Promise<IssuedIdentity> {
    // The CSR is checked first: a malformed request must not burn a join token.
    const publicKey = await publicKeyFromCsr(csrPem);
    try {
      const signed = await this.#store.transaction(async (tx) => {
        const entry = await authorise(tx);
        const svid = await this.#ca.signSvid(entry, publicKey, method, tx);
        await tx.insertSvid(svid.row);
        await tx.appendAudit(
          { type: 'svid.issued', actor, data: { method, spiffeId: entry.spiffeId, cluster: entry.cluster, entryId: entry.id, serial: svid.row.serial, notAfter: svid.row.notAfter } },
          this.#clock.now().toISOString(),
        );
        return svid;
      });
      return {
        spiffeId: signed.row.spiffeId,
        serial: signed.row.serial,
        certChainPem: signed.chainPem,
        bundlePem: await this.#ca.bundlePem(),
        notAfter: signed.row.notAfter,
      };
    } catch (error) {
      const failure = toInterlockError(error);
      await this.#store.appendAudit({ type: 'attestation.failed', actor, data: { method, code: failure.code, reason: failure.message } }, this.#clock.now().toISOString());
      throw failure;
    }
  }

  attestWithJoinToken(token: string, csrPem: string, remote: string): Promise<IssuedIdentity> {
    return this.#issue('join-token', `join-token@${remote}`, csrPem, (tx) => consumeJoinToken(tx, token, this.#clock.now()));
  }

  attestWithServiceAccountToken(clusterName: string, token: string, csrPem: string, remote: string): Promise<IssuedIdentity> {
    return this.#issue('k8s-sat', `k8s-sat@${remote}`, csrPem, async (tx) => {
      const cluster = await tx.getCluster(clusterName);
      if (!cluster) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${clusterName}`, { field: 'cluster' });
      const account = await verifyServiceAccountToken(cluster, token, this.#clock.now());
      const entry = await tx.findEntryBySelectors(cluster.name, account.namespace, account.serviceAccount);
      if (!entry) {
        throw new InterlockError('IL_ERR_ATTESTATION_NO_ENTRY', `no registration entry for ${account.namespace}/${account.serviceAccount} in ${cluster.name}`, { field: 'token' });
      }
      return entry;
    });
  }

  /** Renewal with the current, still valid and unrevoked SVID (proved by the mTLS handshake). */
  renew(currentSerial: string, spiffeId: string, csrPem: string): Promise<IssuedIdentity> {
    return this.#issue('renewal', spiffeId, csrPem, async (tx) => {
      const current = await tx.getSvid(currentSerial);
      if (!current || current.spiffeId !== spiffeId) {
        throw new InterlockError('IL_ERR_AUTHN_REQUIRED', 'the presented SVID was not issued by this control plane', { field: 'clientCertificate' });
      }
      if (current.revokedAt) throw new InterlockError('IL_ERR_SVID_REVOKED', `SVID ${currentSerial} was revoked at ${current.revokedAt}`, { field: 'clientCertificate' });
      const entry = await tx.getEntry(current.entryId);
      if (!entry || entry.spiffeId !== spiffeId) {
        throw new InterlockError('IL_ERR_ATTESTATION_NO_ENTRY', 'the registration entry behind this SVID no longer exists', { field: 'clientCertificate' });
      }
      return entry;
    });
  }

  async #jwtKey(cluster: string): Promise<{ kid: string; key: KeyObject }> {
    const cached = this.#jwtKeys.get(cluster);
    if (cached) return cached;
    let stored = ((await this.#store.getSetting(JWT_KEYS_SETTING)) as Record<string, StoredJwtKey> | undefined)?.[cluster];
    if (!stored) {
      const { privateKey, publicKey } = await generateJwtKeyPair('ES256', { extractable: true });
      const kid = randomUUID();
      const pem = createPrivateKey({ key: (await exportJWK(privateKey)) as never, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
      const candidate: StoredJwtKey = { kid, publicJwk: { ...(await exportJWK(publicKey)), kid, use: 'jwt-svid', alg: 'ES256' }, sealedKey: sealPrivateKey(pem, this.#secret, `jwt:${cluster}`) };
      stored = await this.#store.transaction(async (tx) => {
        const all = ((await tx.getSetting(JWT_KEYS_SETTING)) as Record<string, StoredJwtKey> | undefined) ?? {};
        if (all[cluster]) return all[cluster]; // another replica got there first
        await tx.putSetting(JWT_KEYS_SETTING, { ...all, [cluster]: candidate });
        await tx.appendEvent('bundle.changed', { reason: 'jwt key added', cluster }, this.#clock.now().toISOString());
        return candidate;
      });
    }
    const key = createPrivateKey(unsealPrivateKey(stored.sealedKey, this.#secret, `jwt:${cluster}`, `jwt key of ${cluster}`));
    const entry = { kid: stored.kid, key };
    this.#jwtKeys.set(cluster, entry);
    return entry;
  }

  /** Public JWT-SVID keys, for the SPIFFE bundle (use "jwt-svid"). */
  async jwtPublicKeys(): Promise<JWK[]> {
    const all = ((await this.#store.getSetting(JWT_KEYS_SETTING)) as Record<string, StoredJwtKey> | undefined) ?? {};
    return Object.values(all).map((k) => k.publicJwk);
  }

  /** A JWT-SVID (SPIFFE JWT-SVID spec): audience-bound, short-lived, with a jti for replay checks. */
  async jwtSvid(caller: { spiffeId: string; serial: string }, audience: readonly string[], ttlSeconds = JWT_SVID_TTL_SECONDS): Promise<{ token: string; expiresAt: string }> {
    const svid = await this.#store.getSvid(caller.serial);
    if (!svid || svid.revokedAt) throw new InterlockError('IL_ERR_SVID_REVOKED', 'the presented SVID is revoked or unknown', { field: 'clientCertificate' });
    const { kid, key } = await this.#jwtKey(svid.cluster);
    const now = Math.floor(this.#clock.now().getTime() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setSubject(caller.spiffeId)
      .setAudience([...audience])
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(randomUUID())
      .sign(key);
    await this.#store.appendAudit({ type: 'jwt-svid.issued', actor: caller.spiffeId, data: { audience: [...audience], expiresAt: new Date((now + ttlSeconds) * 1000).toISOString() } }, this.#clock.now().toISOString());
    return { token, expiresAt: new Date((now + ttlSeconds) * 1000).toISOString() };
  }
}
