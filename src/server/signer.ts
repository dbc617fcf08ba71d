import { createPrivateKey, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { signLeafCertificate } from '../pki/certificates.ts';
import { sealPrivateKey, unsealPrivateKey, type KeySecret } from '../pki/key-protection.ts';
import { exportPrivateKeyPem, generateKeyPair } from '../pki/x509.ts';
import type { Store } from '../store/types.ts';
import type { CaService } from './ca-service.ts';

/**
 * A signing identity of the control plane itself (the policy signer, the
 * audit checkpoint signer): a certificate issued directly by the root with
 * the SPIFFE ID `spiffe://<domain><path>`, created once and stored sealed, so
 * every replica signs with the same key and anyone holding the trust bundle
 * can verify (the certificate travels in the JWS `x5c` header, RFC 7515 §4.1.6).
 */
export interface SignerSpec {
  /** Store setting holding the certificate and the sealed key. */
  readonly setting: string;
  /** SPIFFE ID path, e.g. /interlock/policy-signer. */
  readonly path: string;
  /** Audit record type prefix, e.g. 'policy.signer'. */
  readonly auditPrefix: string;
}

const SIGNER_TTL_MS = 365 * 86_400_000;

export class ControlPlaneSigner {
  readonly #store: Store;
  readonly #ca: CaService;
  readonly #secret: KeySecret;
  readonly #clock: Clock;
  readonly #spec: SignerSpec;
  #loaded: Promise<{ key: KeyObject; x5c: string }> | undefined;

  constructor(store: Store, ca: CaService, secret: KeySecret, clock: Clock, spec: SignerSpec) {
    this.#store = store;
    this.#ca = ca;
    this.#secret = secret;
    this.#clock = clock;
    this.#spec = spec;
  }

  /** A compact JWS over `payload`, typ `typ`, with the signer's certificate in x5c. */
  async sign(payload: unknown, typ: string): Promise<string> {
    const signer = await this.#load();
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'ES256', typ, x5c: [signer.x5c] }).sign(signer.key);
  }

  /** After a root switch: a new certificate from the root that now signs, so signatures keep chaining to a root that stays trusted. */
  async rotate(): Promise<void> {
    await this.#issue(`${this.#spec.auditPrefix}-rotated`);
    this.forget();
  }

  /** Drops the cached key; the next signature loads it from the store again (another replica may have rotated it). */
  forget(): void {
    this.#loaded = undefined;
  }

  async #issue(auditType: string): Promise<void> {
    const org = await this.#ca.org();
    const keys = await generateKeyPair();
    const now = this.#clock.now().getTime();
    const cert = await signLeafCertificate(await this.#ca.root(), {
      uri: `spiffe://${org!.domain}${this.#spec.path}`,
      publicKey: keys.publicKey,
      notBefore: new Date(now - 30_000),
      notAfter: new Date(now + SIGNER_TTL_MS),
    });
    await this.#store.transaction(async (tx) => {
      await tx.putSetting(this.#spec.setting, { certPem: cert.toString('pem'), sealedKey: sealPrivateKey(await exportPrivateKeyPem(keys.privateKey), this.#secret, this.#spec.setting) });
      await tx.appendAudit({ type: auditType, actor: 'control-plane', data: { serial: cert.serialNumber, notAfter: cert.notAfter.toISOString() } }, this.#clock.now().toISOString());
    });
  }

  #load(): Promise<{ key: KeyObject; x5c: string }> {
    this.#loaded ??= (async () => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const stored = (await this.#store.getSetting(this.#spec.setting)) as { certPem: string; sealedKey: string } | undefined;
        if (stored) {
          const key = createPrivateKey(unsealPrivateKey(stored.sealedKey, this.#secret, this.#spec.setting, this.#spec.setting.replace('-', ' ')));
          return { key, x5c: stored.certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '') };
        }
        // Replicas starting together: one creates it, the others wait and load it.
        const outcome = await this.#store.runExclusive(this.#spec.setting, async () => {
          if (!(await this.#store.getSetting(this.#spec.setting))) await this.#issue(`${this.#spec.auditPrefix}-created`);
        });
        if (!outcome.ran) await new Promise((r) => setTimeout(r, 100));
      }
      throw new InterlockError('IL_ERR_STORE_UNAVAILABLE', `could not create or load the ${this.#spec.setting}`, { field: 'store' });
    })();
    this.#loaded.catch(() => (this.#loaded = undefined));
    return this.#loaded;
  }
}
