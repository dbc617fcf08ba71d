import type { AuthorityRow, StoreOps } from '../store/types.ts';
import { x509 } from '../pki/x509.ts';

/**
 * What a gateway must trust, published by the control plane: the roots its
 * TLS stack verifies against, and every CA (root or cluster intermediate)
 * whose certificates it accepts. A chain that verifies up to a root but
 * passes through an intermediate missing from this list is refused: that is
 * how a withdrawn or forged intermediate is cut off although the root that
 * signed it is still trusted.
 *
 * 'active' CAs sign; 'published' ones are trusted but do not sign (a new CA
 * before the switch, an old one while its certificates age out); 'retired'
 * ones are withdrawn and absent here.
 */
export interface TrustedAuthority {
  readonly serial: string;
  readonly kind: AuthorityRow['kind'];
  readonly cluster: string | null;
  readonly status: 'active' | 'published';
  readonly notAfter: string;
  /** Subject Key Identifier (hex): what the Authority Key Identifier of every certificate it signs names (RFC 5280 §4.2.1.1). */
  readonly keyId: string;
}

export interface TrustDocument {
  /** The store's latest event id when this was read: gateways report it back. */
  readonly version: number;
  /** Clusters cut off after a compromise (interlock incident compromise --isolate): gateways refuse their gateways both ways. */
  readonly isolated: ReadonlyArray<{ readonly cluster: string; readonly trustDomain: string }>;
  /** PEM of every trusted root, for the TLS verifier. */
  readonly rootsPem: string;
  readonly authorities: readonly TrustedAuthority[];
}

/** What a gateway last told us it holds (POST /v1/trust/report). */
export interface TrustReport {
  readonly gateway: string;
  readonly cluster: string;
  readonly version: number;
  readonly serials: readonly string[];
  readonly reportedAt: string;
}

const REPORT_PREFIX = 'trust-report:';
export const ISOLATED_SETTING = 'isolated-clusters';

function subjectKeyId(certPem: string): string {
  return new x509.X509Certificate(certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId.toLowerCase() ?? '';
}

export async function trustDocument(store: StoreOps): Promise<TrustDocument> {
  const version = await store.latestEventId();
  const rows = (await store.listAuthorities()).filter((r) => r.status !== 'retired');
  const isolated = new Set(((await store.getSetting(ISOLATED_SETTING)) as string[] | undefined) ?? []);
  return {
    version,
    isolated: (await store.listClusters()).filter((c) => isolated.has(c.name)).map((c) => ({ cluster: c.name, trustDomain: c.trustDomain })),
    rootsPem: rows
      .filter((r) => r.kind === 'root')
      .map((r) => r.certPem.trim() + '\n')
      .join(''),
    authorities: rows.map((r) => ({ serial: r.serial, kind: r.kind, cluster: r.cluster, status: r.status as TrustedAuthority['status'], notAfter: r.notAfter, keyId: subjectKeyId(r.certPem) })),
  };
}

export async function putTrustReport(store: StoreOps, report: TrustReport): Promise<void> {
  await store.putSetting(`${REPORT_PREFIX}${report.gateway}`, report);
}

/**
 * The gateways that must confirm a trust change: every gateway identity
 * holding a valid, unrevoked SVID right now, with what each last reported.
 */
export async function gatewayTrustReports(store: StoreOps, now: Date): Promise<Array<{ gateway: string; cluster: string; report: TrustReport | undefined }>> {
  const gatewayEntries = (await store.listEntries()).filter((e) => e.gateway);
  const live: Array<{ gateway: string; cluster: string; report: TrustReport | undefined }> = [];
  for (const entry of gatewayEntries) {
    const valid = await store.listSvids({ spiffeId: entry.spiffeId, validAt: now.toISOString(), revoked: false, limit: 1 });
    if (valid.length === 0) continue;
    live.push({ gateway: entry.spiffeId, cluster: entry.cluster, report: (await store.getSetting(`${REPORT_PREFIX}${entry.spiffeId}`)) as TrustReport | undefined });
  }
  return live;
}
