/**
 * `interlock report inventory`: every CA and every live SVID with its key,
 * signature algorithm and time left, the TLS settings, and drift — what
 * differs from what was declared (a declarative configuration directory,
 * when given) and from what the registrations imply (entries without an
 * SVID, SVIDs whose entry is gone, gateways behind on policy or trust).
 * Pure: the CLI fetches, this shapes.
 */
import { normalizeSerial } from '../pki/serial.ts';
import type { x509 } from '../pki/x509.ts';
import type { Change } from '../declarative/types.ts';
import { ISSUED_KEY_FACTS, keyFactsOf, type KeyFacts } from './key-facts.ts';
import type { TlsSettings } from './tls-settings.ts';

export type AuthorityStatus = 'active' | 'published' | 'retired' | 'unknown';

export interface AuthorityInput {
  readonly serial: string;
  readonly kind: 'root' | 'cluster';
  readonly cluster: string | null;
  readonly status: AuthorityStatus;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
}

export interface SvidInput {
  readonly serial: string;
  readonly spiffeId: string;
  readonly cluster: string;
  readonly entryId: string;
  readonly issuerSerial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly method: string;
  readonly revokedAt: string | null;
}

export interface EntryInput {
  readonly id: string;
  readonly cluster: string;
  readonly spiffeId: string;
  readonly gateway: boolean;
}

export interface GatewayState {
  readonly cluster: string;
  readonly gateway: string | null;
  /** What the gateway reported about its policy bundle. */
  readonly policyState: string;
  readonly enforcedVersion: number | null;
  /** Whether it confirmed holding every published CA; null when unknown. */
  readonly trust: 'in-sync' | 'behind' | 'stale' | 'unreported' | null;
}

export interface InventoryInput {
  readonly now: Date;
  readonly clusters: ReadonlyArray<{ readonly name: string; readonly trustDomain: string }>;
  /** Every CA with its status, when the control plane lists them (null: only roots and the issuers SVIDs name are known). */
  readonly authorities: readonly AuthorityInput[] | null;
  /** The roots of the public trust bundle, parsed. */
  readonly roots: readonly x509.X509Certificate[];
  readonly svids: readonly SvidInput[];
  readonly entries: readonly EntryInput[];
  readonly tls: TlsSettings;
  readonly activePolicy: number | null;
  readonly gateways: readonly GatewayState[] | null;
  /** Changes from `POST /v1/config/plan` against --declared, or null when no directory was given. */
  readonly declared: { readonly source: string; readonly changes: readonly Change[] } | null;
  readonly notes?: readonly string[];
}

export interface CertificateRow {
  readonly serial: string;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  readonly secondsLeft: number | null;
  readonly daysLeft: number | null;
  readonly key: KeyFacts;
}

export interface AuthorityRow extends CertificateRow {
  readonly kind: 'root' | 'cluster';
  readonly cluster: string | null;
  readonly status: AuthorityStatus;
}

export interface SvidRow extends CertificateRow {
  readonly spiffeId: string;
  readonly role: 'gateway' | 'workload';
  readonly issuerSerial: string;
  readonly method: string;
}

export type DriftKind = 'declared' | 'entry-without-svid' | 'svid-without-entry' | 'gateway-policy' | 'gateway-trust';

export interface DriftFinding {
  readonly kind: DriftKind;
  readonly subject: string;
  readonly detail: string;
}

export interface InventoryReport {
  readonly kind: 'inventory';
  readonly generatedAt: string;
  readonly authorities: readonly AuthorityRow[];
  readonly svids: ReadonlyArray<{ readonly cluster: string; readonly trustDomain: string | null; readonly svids: readonly SvidRow[] }>;
  readonly tls: TlsSettings;
  readonly drift: { readonly declaredSource: string | null; readonly findings: readonly DriftFinding[] };
  readonly notes: readonly string[];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const DAY_S = 86_400;

function timeLeft(now: Date, notAfter: string | null): { secondsLeft: number | null; daysLeft: number | null } {
  if (!notAfter) return { secondsLeft: null, daysLeft: null };
  const secondsLeft = Math.round((Date.parse(notAfter) - now.getTime()) / 1000);
  return { secondsLeft, daysLeft: Math.round((secondsLeft / DAY_S) * 100) / 100 };
}

function authorityRows(input: InventoryInput): AuthorityRow[] {
  const roots = new Map(input.roots.map((c) => [normalizeSerial(c.serialNumber), c]));
  const listed: AuthorityInput[] = input.authorities
    ? [...input.authorities]
    : [
        ...input.roots.map((c) => ({ serial: c.serialNumber, kind: 'root' as const, cluster: null, status: 'unknown' as const, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() })),
        // Without the CA list, the cluster CAs known are those that signed a live SVID.
        ...[...new Map(input.svids.map((s) => [normalizeSerial(s.issuerSerial), s])).values()].map((s) => ({ serial: s.issuerSerial, kind: 'cluster' as const, cluster: s.cluster, status: 'unknown' as const, notBefore: null, notAfter: null })),
      ];
  const rank = { root: 0, cluster: 1 } as const;
  return listed
    .map((a) => {
      const cert = roots.get(normalizeSerial(a.serial));
      return {
        kind: a.kind,
        cluster: a.cluster,
        serial: a.serial,
        status: a.status,
        notBefore: a.notBefore ?? cert?.notBefore.toISOString() ?? null,
        notAfter: a.notAfter ?? cert?.notAfter.toISOString() ?? null,
        ...timeLeft(input.now, a.notAfter ?? cert?.notAfter.toISOString() ?? null),
        key: cert ? keyFactsOf(cert) : ISSUED_KEY_FACTS,
      };
    })
    .sort((x, y) => rank[x.kind] - rank[y.kind] || byText(x.cluster ?? '', y.cluster ?? '') || byText(x.status, y.status) || byText(x.serial, y.serial));
}

function svidGroups(input: InventoryInput): InventoryReport['svids'] {
  const gatewayIds = new Set(input.entries.filter((e) => e.gateway).map((e) => `${e.cluster}\n${e.spiffeId}`));
  const domains = new Map(input.clusters.map((c) => [c.name, c.trustDomain]));
  const groups = new Map<string, SvidRow[]>();
  for (const s of input.svids) {
    const row: SvidRow = {
      spiffeId: s.spiffeId,
      role: gatewayIds.has(`${s.cluster}\n${s.spiffeId}`) ? 'gateway' : 'workload',
      serial: s.serial,
      issuerSerial: s.issuerSerial,
      method: s.method,
      notBefore: s.notBefore,
      notAfter: s.notAfter,
      ...timeLeft(input.now, s.notAfter),
      key: ISSUED_KEY_FACTS,
    };
    groups.set(s.cluster, [...(groups.get(s.cluster) ?? []), row]);
  }
  const clusters = [...new Set([...domains.keys(), ...groups.keys()])].sort(byText);
  return clusters.map((cluster) => ({
    cluster,
    trustDomain: domains.get(cluster) ?? null,
    svids: (groups.get(cluster) ?? []).sort((a, b) => byText(a.role, b.role) || byText(a.spiffeId, b.spiffeId) || byText(a.notAfter ?? '', b.notAfter ?? '')),
  }));
}

function changeDetail(change: Change): string {
  const fields = change.fields.map((f) => `${f.field}: ${JSON.stringify(f.before ?? null)} → ${JSON.stringify(f.after ?? null)}`).join('; ');
  const what = { create: 'declared, not on the control plane', update: 'differs from the declaration', replace: 'differs in a field that cannot change in place', delete: 'on the control plane, not declared', propose: 'the declared policy text is not the newest version', drift: 'on the control plane, not declared' }[change.action];
  return [what, fields, change.note].filter(Boolean).join(' — ');
}

function driftFindings(input: InventoryInput): DriftFinding[] {
  const findings: DriftFinding[] = [];
  for (const change of input.declared?.changes ?? []) findings.push({ kind: 'declared', subject: `${change.kind} ${change.key}`, detail: changeDetail(change) });
  const entryIds = new Set(input.entries.map((e) => e.id));
  const withSvid = new Set(input.svids.map((s) => s.entryId));
  for (const e of input.entries) {
    if (!withSvid.has(e.id)) findings.push({ kind: 'entry-without-svid', subject: `${e.cluster} ${e.spiffeId}`, detail: `registered${e.gateway ? ' gateway' : ''} entry ${e.id} holds no live SVID: never attested, or its SVID expired or was revoked` });
  }
  for (const s of input.svids) {
    if (!entryIds.has(s.entryId)) findings.push({ kind: 'svid-without-entry', subject: `${s.cluster} ${s.spiffeId}`, detail: `SVID ${s.serial} was issued for entry ${s.entryId}, which no longer exists; valid until ${s.notAfter} unless revoked` });
  }
  for (const g of input.gateways ?? []) {
    const subject = g.gateway ?? `gateway of ${g.cluster}`;
    if (g.policyState === 'unreported') findings.push({ kind: 'gateway-policy', subject, detail: 'has not reported which policy version it enforces' });
    else if (g.policyState !== 'fresh') findings.push({ kind: 'gateway-policy', subject, detail: `policy bundle is ${g.policyState}: the gateway denies every call (fail closed)` });
    if (g.policyState !== 'unreported' && input.activePolicy !== null && g.enforcedVersion !== input.activePolicy) {
      findings.push({ kind: 'gateway-policy', subject, detail: `enforces policy version ${g.enforcedVersion ?? 'none'}, the active version is ${input.activePolicy}` });
    }
    if (g.trust === 'behind') findings.push({ kind: 'gateway-trust', subject, detail: 'has not confirmed holding every CA the control plane publishes (older trust document)' });
    else if (g.trust === 'stale' || g.trust === 'unreported') findings.push({ kind: 'gateway-trust', subject, detail: g.trust === 'stale' ? 'last trust report is late' : 'has never reported the CAs it trusts' });
  }
  const order: DriftKind[] = ['declared', 'entry-without-svid', 'svid-without-entry', 'gateway-policy', 'gateway-trust'];
  return findings.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || byText(a.subject, b.subject) || byText(a.detail, b.detail));
}

export function buildInventory(input: InventoryInput): InventoryReport {
  const notes = [...(input.notes ?? [])];
  if (!input.authorities) notes.push('the control plane did not list its CAs: roots come from the public bundle, cluster CAs only from the issuers of live SVIDs, their status unknown');
  notes.push('keys marked "issuance policy" are stated from what the control plane issues (ECDSA P-256, ECDSA with SHA-256): it publishes no intermediate certificate and keeps no SVID certificate');
  return {
    kind: 'inventory',
    generatedAt: input.now.toISOString(),
    authorities: authorityRows(input),
    svids: svidGroups(input),
    tls: input.tls,
    drift: { declaredSource: input.declared?.source ?? null, findings: driftFindings(input) },
    notes,
  };
}
