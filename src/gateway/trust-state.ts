import type { TLSSocket } from 'node:tls';
import { apiRequest } from '../client/api.ts';
import { toInterlockError } from '../errors.ts';
import { normalizeSerial } from '../pki/serial.ts';
import { authorityKeyIdOf } from './certificate-facts.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ControlLink } from './control-link.ts';
import { SocketIndex } from './socket-index.ts';

/**
 * Which CAs this gateway accepts, as the control plane publishes them
 * (server/trust.ts). The TLS stack verifies chains up to the roots; on top,
 * the CA that signed a peer's SVID must be one the control plane still
 * lists. A CA withdrawn at the end of a rotation, or cut off after a
 * compromise, is refused from that moment, and every open connection whose
 * peer it signed is closed.
 *
 * The signing CA is found by the leaf's Authority Key Identifier (RFC 5280
 * §4.2.1.1), not by the chain the peer sent: a resumed TLS session carries
 * the peer's leaf but not its chain, and must be checked just the same.
 *
 * A gateway that runs from certificate files has no control plane to ask:
 * it trusts its bundle file's roots and does not check intermediates.
 */
interface Authority {
  readonly serial: string;
  readonly kind: 'root' | 'cluster';
  readonly cluster: string | null;
  readonly status: 'active' | 'published';
  readonly notAfter: string;
  readonly keyId: string;
}

interface TrustDocument {
  readonly version: number;
  readonly isolated?: ReadonlyArray<{ readonly cluster: string; readonly trustDomain: string }>;
  readonly rootsPem: string;
  readonly authorities: readonly Authority[];
}

const TRUST_EVENTS = ['trust.changed', 'ca.rotated', 'bundle.changed'];

/** The signing CA's key id of a TLS peer's certificate; cached per connection. */
const peerKeyIds = new WeakMap<TLSSocket, string | undefined>();
export function peerAuthorityKeyId(socket: TLSSocket): string | undefined {
  if (peerKeyIds.has(socket)) return peerKeyIds.get(socket);
  const keyId = authorityKeyIdOf(socket.getPeerCertificate()?.raw);
  peerKeyIds.set(socket, keyId);
  return keyId;
}

export class TrustState {
  #rootsPem: string;
  /** By key id; undefined when the gateway has no control plane to follow. */
  #authorities: Map<string, Authority> | undefined;
  #version = 0;
  #syncedAt: Date | undefined;
  /** Clusters cut off after a compromise; our own cluster is never refused to itself. */
  #isolated = new Set<string>();
  readonly #ownCluster: string;
  readonly #open = new SocketIndex();
  readonly #rootListeners: Array<(rootsPem: string) => void> = [];
  readonly #log: Logger;

  constructor(initialRootsPem: string, log: Logger, ownCluster = '') {
    this.#rootsPem = initialRootsPem;
    this.#log = log;
    this.#ownCluster = ownCluster;
  }

  /** True if the cluster's links are cut (interlock incident compromise --isolate). */
  isIsolated(cluster: string): boolean {
    return cluster !== this.#ownCluster && this.#isolated.has(cluster);
  }

  get rootsPem(): string {
    return this.#rootsPem;
  }

  /** Why a peer whose certificate names signing CA `keyId` must be refused, or undefined to admit it. */
  refusal(keyId: string | undefined): string | undefined {
    if (!this.#authorities) return undefined;
    if (!keyId) return 'IL_ERR_CERT_UNTRUSTED: the peer certificate names no signing CA (no Authority Key Identifier)';
    const authority = this.#authorities.get(keyId);
    if (!authority || authority.kind !== 'cluster') return `IL_ERR_CERT_UNTRUSTED: the CA with key id ${keyId} is not in the trust bundle (withdrawn, or never issued by the control plane)`;
    if (authority.cluster && this.isIsolated(authority.cluster)) return `IL_ERR_PEER_ISOLATED: cluster ${authority.cluster} is isolated after a compromise`;
    return undefined;
  }

  /** Remembers an open connection so withdrawing the CA that signed its peer closes it. */
  track(socket: TLSSocket, keyId: string): void {
    this.#open.add(keyId, socket);
  }

  onRootsChanged(listener: (rootsPem: string) => void): void {
    this.#rootListeners.push(listener);
  }

  /** Installs a new trust document; returns the CAs it withdrew (serials) and the connections that closed. */
  apply(document: TrustDocument, now = new Date()): { withdrawn: string[]; closed: number } {
    const next = new Map(document.authorities.map((a) => [a.keyId.toLowerCase(), { ...a, serial: normalizeSerial(a.serial), keyId: a.keyId.toLowerCase() }]));
    this.#isolated = new Set((document.isolated ?? []).map((i) => i.cluster));
    const gone = this.#authorities ? [...this.#authorities.values()].filter((a) => !next.has(a.keyId)) : [];
    // Connections signed by a newly isolated cluster's CAs are cut too.
    const cut = [...next.values()].filter((a) => a.cluster && this.isIsolated(a.cluster));
    this.#authorities = next;
    this.#version = document.version;
    this.#syncedAt = now;
    let closed = 0;
    for (const authority of [...gone, ...cut]) closed += this.#open.closeAll(authority.keyId);
    if (document.rootsPem.trim() && document.rootsPem !== this.#rootsPem) {
      this.#rootsPem = document.rootsPem;
      for (const listener of this.#rootListeners) listener(document.rootsPem);
    }
    return { withdrawn: gone.map((a) => a.serial), closed };
  }

  /** Serials of every CA held, as reported to the control plane. */
  serials(): string[] {
    return [...(this.#authorities?.values() ?? [])].map((a) => a.serial);
  }

  describe() {
    return {
      version: this.#version,
      checksIntermediates: this.#authorities !== undefined,
      isolated: [...this.#isolated],
      authorities: [...(this.#authorities?.values() ?? [])].map((a) => ({ serial: a.serial, kind: a.kind, cluster: a.cluster, status: a.status, notAfter: a.notAfter })),
      syncedAt: this.#syncedAt?.toISOString() ?? null,
    };
  }

  /**
   * Follows the control plane: the document at start (awaited, so the
   * gateway never serves with an unknown trust state), on every trust event,
   * after reconnecting and on a timer; after each load it reports what it
   * holds, which is what a staged rotation waits for before switching issuance.
   */
  async follow(link: ControlLink, refreshMs = 30_000): Promise<{ reload(): Promise<void>; stop(): void }> {
    const load = async (): Promise<void> => {
      const { body } = await apiRequest<TrustDocument>(link.connection(), 'GET', '/v1/trust');
      const { withdrawn, closed } = this.apply(body);
      if (withdrawn.length) this.#log.info({ event: 'gateway.ca-withdrawn', withdrawn, connectionsClosed: closed }, 'CAs withdrawn from the trust bundle');
      await apiRequest(link.connection(), 'POST', '/v1/trust/report', { version: body.version, serials: this.serials() });
    };
    const reload = () =>
      load().catch((error: unknown) => {
        const failure = toInterlockError(error);
        this.#log.warn({ event: 'gateway.trust-refresh-failed', code: failure.code, err: failure.message }, 'could not refresh the trust bundle; keeping the last one');
      });
    link.on(TRUST_EVENTS, () => void reload());
    link.onReconnect(() => void reload());
    await load();
    // A report lost to a network blip must not stall a rotation: reload and report on a timer too.
    const timer = setInterval(() => void reload(), refreshMs);
    timer.unref();
    return { reload, stop: () => clearInterval(timer) };
  }
}
