import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../clock.ts';
import { InterlockError, toInterlockError } from '../errors.ts';
import { apiRequest, type ApiConnection } from '../client/api.ts';
import { createCsr } from '../pki/csr.ts';
import { watchControlPlane } from '../client/watch.ts';
import { normalizeSerial } from '../pki/serial.ts';
import { exportPrivateKeyPem, generateKeyPair, x509 } from '../pki/x509.ts';

/**
 * The workload SDK: attest once, then keep an X.509-SVID fresh for as long
 * as the process lives. The private key is generated here and never leaves
 * the process; the control plane only ever sees a CSR.
 *
 * Renewal starts at half the SVID's life (SPIRE's default) and, if the
 * control plane cannot be reached, retries with exponential backoff (1 s
 * doubling to 30 s, with jitter) until it succeeds or the SVID expires.
 */
export type Attestation =
  | { readonly kind: 'join-token'; readonly token: string }
  | { readonly kind: 'k8s'; readonly cluster: string; readonly token: () => Promise<string> | string };

export interface SvidMaterial {
  readonly spiffeId: string;
  readonly serial: string;
  /** SVID then intermediate, PEM. */
  readonly certPem: string;
  readonly keyPem: string;
  readonly bundlePem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface WorkloadIdentityOptions {
  readonly server: string;
  /** Roots to verify the control plane with (distributed out of band, like SPIRE's trust bundle). */
  readonly bundlePem: string;
  readonly serverId?: string;
  readonly attestation: Attestation;
  readonly clock?: Clock;
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /**
   * Follow the control plane's watch stream: when this SVID is revoked, or
   * a compromise remediation asks for re-issue, get a fresh key and SVID at
   * once (re-attesting with a new service-account token) instead of at the
   * next renewal. Off by default: one stream per holder.
   */
  readonly follow?: boolean;
}

const MIN_RENEWAL_INTERVAL_MS = 1_000;

interface IssuedIdentity {
  spiffeId: string;
  serial: string;
  certChainPem: string;
  bundlePem: string;
  notAfter: string;
}

async function requestSvid(connection: ApiConnection, path: string, body: Record<string, unknown>): Promise<SvidMaterial> {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys);
  const { body: issued } = await apiRequest<IssuedIdentity>(connection, 'POST', path, { ...body, csr });
  const leaf = new x509.X509Certificate(issued.certChainPem);
  return {
    spiffeId: issued.spiffeId,
    serial: issued.serial,
    certPem: issued.certChainPem,
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    bundlePem: issued.bundlePem,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  };
}

export interface WorkloadIdentityEvents {
  rotated: [SvidMaterial];
  'renewal-failed': [InterlockError, { retryInMs: number }];
  expired: [SvidMaterial];
}

export class WorkloadIdentity extends EventEmitter<WorkloadIdentityEvents> {
  readonly #options: WorkloadIdentityOptions;
  readonly #clock: Clock;
  #current: SvidMaterial;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #watch: { close(): void } | undefined;
  #reattesting: Promise<SvidMaterial> | undefined;
  /** When the current SVID arrived (local clock): events older than it are already taken care of. */
  #obtainedAt = Date.now();

  private constructor(options: WorkloadIdentityOptions, first: SvidMaterial) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#current = first;
    this.#schedule(this.#renewalDelay());
    if (options.follow) this.#follow();
  }

  #follow(): void {
    this.#watch = watchControlPlane({
      server: this.#options.server,
      ...(this.#options.serverId ? { serverId: this.#options.serverId } : {}),
      credentials: () => this.#current,
      onEvent: (event) => {
        if (typeof event.data.at === 'string' && Date.parse(event.data.at) < this.#obtainedAt) return; // already fresher than the event
        const mine = new URL(this.#current.spiffeId).host;
        const revoked = event.type === 'svid.revoked' && normalizeSerial(String(event.data.serial ?? '')) === normalizeSerial(this.#current.serial);
        const reissue =
          event.type === 'identity.reissue' &&
          (event.data.spiffeId === this.#current.spiffeId || (typeof event.data.cluster === 'string' && this.#options.attestation.kind === 'k8s' && event.data.cluster === this.#options.attestation.cluster) || event.data.trustDomain === mine);
        if (revoked || reissue) void this.reattest().catch((error: unknown) => this.emit('renewal-failed', toInterlockError(error), { retryInMs: 0 }));
      },
    });
  }

  /**
   * A new key and SVID by attesting again, for when the current SVID cannot
   * renew (revoked after a compromise). Kubernetes attestation presents a
   * fresh service-account token; a join token was single-use, so that fails
   * and an operator issues a new one.
   */
  reattest(): Promise<SvidMaterial> {
    this.#reattesting ??= (async () => {
      try {
        const attestation = this.#options.attestation;
        if (attestation.kind !== 'k8s') {
          throw new InterlockError('IL_ERR_ATTESTATION_TOKEN_USED', 'this identity attested with a single-use join token; it cannot attest again by itself', { field: 'attestation', hint: 'issue a new join token (interlock token create) and restart' });
        }
        // The bundle from the last SVID, not the bootstrap one: the roots may have rotated since.
        const connection = { server: this.#options.server, bundlePem: this.#current.bundlePem, ...(this.#options.serverId ? { serverId: this.#options.serverId } : {}) };
        const next = await requestSvid(connection, '/v1/attest/k8s', { cluster: attestation.cluster, token: await attestation.token() });
        this.#current = next;
        this.#obtainedAt = Date.now();
        this.emit('rotated', next);
        this.#schedule(Math.max(this.#renewalDelay(), MIN_RENEWAL_INTERVAL_MS));
        return next;
      } finally {
        this.#reattesting = undefined;
      }
    })();
    return this.#reattesting;
  }

  /** Attests and returns an identity that renews itself until close(). */
  static async attest(options: WorkloadIdentityOptions): Promise<WorkloadIdentity> {
    const connection = { server: options.server, bundlePem: options.bundlePem, ...(options.serverId ? { serverId: options.serverId } : {}) };
    const attestation = options.attestation;
    const first =
      attestation.kind === 'join-token'
        ? await requestSvid(connection, '/v1/attest/join-token', { token: attestation.token })
        : await requestSvid(connection, '/v1/attest/k8s', { cluster: attestation.cluster, token: await attestation.token() });
    return new WorkloadIdentity(options, first);
  }

  get current(): SvidMaterial {
    return this.#current;
  }

  /** Options for tls.connect / https.createServer: TLS 1.3 only, peers verified against the bundle. */
  tlsOptions() {
    return { cert: this.#current.certPem, key: this.#current.keyPem, ca: this.#current.bundlePem, minVersion: 'TLSv1.3' as const, maxVersion: 'TLSv1.3' as const };
  }

  #renewalDelay(): number {
    const { notBefore, notAfter } = this.#current;
    const halfLife = notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) / 2;
    return Math.max(0, halfLife - this.#clock.now().getTime());
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    // setTimeout's limit is 2^31-1 ms; longer SVIDs simply re-check later.
    this.#timer = setTimeout(() => void this.#renewLoop(this.#options.retry?.initialMs ?? 1_000), Math.min(delayMs, 2 ** 31 - 1));
    this.#timer.unref();
  }

  /** Renews now, with the current SVID over mTLS. */
  async renewNow(): Promise<SvidMaterial> {
    const next = await requestSvid(
      { server: this.#options.server, bundlePem: this.#current.bundlePem, certPem: this.#current.certPem, keyPem: this.#current.keyPem, ...(this.#options.serverId ? { serverId: this.#options.serverId } : {}) },
      '/v1/svid/renew',
      {},
    );
    this.#current = next;
    this.#obtainedAt = Date.now();
    this.emit('rotated', next);
    // A local clock far ahead of the CA's would make every fresh SVID look
    // past half-life; the floor keeps that from becoming a renewal storm.
    this.#schedule(Math.max(this.#renewalDelay(), MIN_RENEWAL_INTERVAL_MS));
    return next;
  }

  async #renewLoop(backoffMs: number): Promise<void> {
    if (this.#closed) return;
    try {
      await this.renewNow();
    } catch (error) {
      const failure = toInterlockError(error);
      // Revoked, or expired (the control plane was away longer than an SVID lives): renewal will
      // never work again, since it needs a valid SVID; attest afresh if the platform lets us.
      const expired = this.#current.notAfter.getTime() <= this.#clock.now().getTime();
      if ((failure.code === 'IL_ERR_SVID_REVOKED' || expired) && this.#options.attestation.kind === 'k8s') {
        try {
          await this.reattest();
          return;
        } catch {
          /* fall through to the backoff below */
        }
      }
      const left = this.#current.notAfter.getTime() - this.#clock.now().getTime();
      if (left <= 0) {
        this.emit('expired', this.#current);
      }
      // Without a valid SVID the workload can do nothing: try again often (at most every 5 s), not every 30.
      const maxMs = Math.min(this.#options.retry?.maxMs ?? 30_000, expired ? 5_000 : Number.POSITIVE_INFINITY);
      const retryInMs = Math.min(maxMs, backoffMs) * (0.8 + Math.random() * 0.4);
      this.emit('renewal-failed', failure, { retryInMs });
      if (this.#closed) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.#renewLoop(Math.min(maxMs, backoffMs * 2)), retryInMs);
      this.#timer.unref();
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watch?.close();
  }
}
