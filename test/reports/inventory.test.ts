import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { buildInventory, type InventoryInput, type SvidInput } from '../../src/reports/inventory.ts';
import { interlockTlsSettings } from '../../src/reports/tls-settings.ts';
import { renderReport } from '../../src/reports/render.ts';
import { makePki, type TestPki } from '../helpers/pki.ts';

const NOW = new Date('2026-03-10T12:00:00Z');
let pki: TestPki;
before(async () => {
  pki = await makePki(new Date('2026-03-01T00:00:00Z'));
});

const svid = (cluster: string, sa: string, entryId: string, issuerSerial: string, notAfter = '2026-03-10T12:30:00.000Z'): SvidInput => ({
  serial: `${sa}01`,
  spiffeId: `spiffe://${cluster}.acme.internal/ns/${sa === 'interlock-gateway' ? 'interlock-system' : 'shop'}/sa/${sa}`,
  cluster,
  entryId,
  issuerSerial,
  notBefore: '2026-03-10T11:30:00.000Z',
  notAfter,
  method: 'k8s-sat',
  revokedAt: null,
});

function input(overrides: Partial<InventoryInput> = {}): InventoryInput {
  const east = pki.east.cert.serialNumber;
  const west = pki.west.cert.serialNumber;
  return {
    now: NOW,
    clusters: [
      { name: 'west', trustDomain: 'west.acme.internal' },
      { name: 'east', trustDomain: 'east.acme.internal' },
    ],
    authorities: [
      { serial: west, kind: 'cluster', cluster: 'west', status: 'active', notBefore: '2026-03-01T00:00:00.000Z', notAfter: '2027-03-01T00:00:00.000Z' },
      { serial: 'aa01', kind: 'cluster', cluster: 'east', status: 'retired', notBefore: '2025-03-01T00:00:00.000Z', notAfter: '2026-03-01T00:00:00.000Z' },
      { serial: east, kind: 'cluster', cluster: 'east', status: 'active', notBefore: '2026-03-01T00:00:00.000Z', notAfter: '2027-03-01T00:00:00.000Z' },
      { serial: pki.root.cert.serialNumber, kind: 'root', cluster: null, status: 'active', notBefore: null, notAfter: null },
    ],
    roots: [pki.root.cert],
    svids: [svid('east', 'frontend', 'e-frontend', east), svid('east', 'interlock-gateway', 'e-gw', east), svid('west', 'interlock-gateway', 'w-gw', west), svid('west', 'old', 'deleted-entry', west)],
    entries: [
      { id: 'e-frontend', cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', gateway: false },
      { id: 'e-gw', cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway', gateway: true },
      { id: 'w-gw', cluster: 'west', spiffeId: 'spiffe://west.acme.internal/ns/interlock-system/sa/interlock-gateway', gateway: true },
      { id: 'e-idle', cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/idle', gateway: false },
    ],
    tls: interlockTlsSettings(),
    activePolicy: 4,
    gateways: [
      { cluster: 'east', gateway: 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway', policyState: 'fresh', enforcedVersion: 4, trust: 'in-sync' },
      { cluster: 'west', gateway: 'spiffe://west.acme.internal/ns/interlock-system/sa/interlock-gateway', policyState: 'fresh', enforcedVersion: 3, trust: 'behind' },
    ],
    declared: { source: 'config/', changes: [{ action: 'create', kind: 'Service', key: 'west/ledger', fields: [{ field: 'classification', after: 'restricted' }] }] },
    ...overrides,
  };
}

test('CAs: the root read from its certificate, intermediates per cluster with their status, sorted, with time left', () => {
  const r = buildInventory(input());
  assert.deepEqual(r.authorities.map((a) => [a.kind, a.cluster, a.status]), [
    ['root', null, 'active'],
    ['cluster', 'east', 'active'],
    ['cluster', 'east', 'retired'],
    ['cluster', 'west', 'active'],
  ]);
  const root = r.authorities[0]!;
  assert.deepEqual(root.key, { keyType: 'EC', curve: 'P-256', bits: 256, signatureAlgorithm: 'ecdsa-with-SHA256', source: 'certificate' });
  assert.equal(root.notAfter, pki.root.cert.notAfter.toISOString(), 'dates come from the certificate when the list has none');
  assert.equal(r.authorities[1]!.key.source, 'issuance policy');
  assert.ok(r.authorities[2]!.secondsLeft! < 0, 'the retired CA has expired');
});

test('SVIDs grouped by cluster, gateways first, with key, signature and time left', () => {
  const r = buildInventory(input());
  assert.deepEqual(r.svids.map((g) => [g.cluster, g.trustDomain, g.svids.map((s) => `${s.role} ${s.spiffeId.split('/').pop()}`)]), [
    ['east', 'east.acme.internal', ['gateway interlock-gateway', 'workload frontend']],
    ['west', 'west.acme.internal', ['gateway interlock-gateway', 'workload old']],
  ]);
  const frontend = r.svids[0]!.svids[1]!;
  assert.equal(frontend.secondsLeft, 1800);
  assert.equal(frontend.key.curve, 'P-256');
  assert.equal(frontend.key.signatureAlgorithm, 'ecdsa-with-SHA256');
});

test('TLS settings are read from the code every listener uses: TLS 1.3 only, mutual', () => {
  const { tls } = buildInventory(input());
  assert.equal(tls.minVersion, 'TLSv1.3');
  assert.equal(tls.maxVersion, 'TLSv1.3');
  assert.equal(tls.clientCertificateRequested, true);
  assert.ok(tls.cipherSuites.length > 0 && tls.cipherSuites.every((c) => c.startsWith('TLS_')));
});

test('drift: declared differences, entries without SVIDs, SVIDs of deleted entries, gateways behind on policy or trust', () => {
  const r = buildInventory(input());
  assert.equal(r.drift.declaredSource, 'config/');
  assert.deepEqual(r.drift.findings.map((f) => [f.kind, f.subject]), [
    ['declared', 'Service west/ledger'],
    ['entry-without-svid', 'east spiffe://east.acme.internal/ns/shop/sa/idle'],
    ['svid-without-entry', 'west spiffe://west.acme.internal/ns/shop/sa/old'],
    ['gateway-policy', 'spiffe://west.acme.internal/ns/interlock-system/sa/interlock-gateway'],
    ['gateway-trust', 'spiffe://west.acme.internal/ns/interlock-system/sa/interlock-gateway'],
  ]);
  assert.match(r.drift.findings[3]!.detail, /enforces policy version 3, the active version is 4/);
  assert.match(r.drift.findings[0]!.detail, /declared, not on the control plane — classification: null → "restricted"/);
});

test('a gateway with an expired bundle, or one that never reported, is drift too', () => {
  const r = buildInventory(input({ gateways: [{ cluster: 'east', gateway: null, policyState: 'expired', enforcedVersion: 4, trust: 'unreported' }, { cluster: 'west', gateway: null, policyState: 'unreported', enforcedVersion: null, trust: null }], declared: null }));
  const gateways = r.drift.findings.filter((f) => f.kind.startsWith('gateway'));
  assert.deepEqual(gateways.map((f) => [f.subject, f.detail.split(':')[0]]), [
    ['gateway of east', 'policy bundle is expired'],
    ['gateway of west', 'has not reported which policy version it enforces'],
    ['gateway of east', 'has never reported the CAs it trusts'],
  ]);
});

test('without the CA list, roots come from the bundle and cluster CAs from the issuers of live SVIDs, status unknown', () => {
  const r = buildInventory(input({ authorities: null }));
  assert.deepEqual(r.authorities.map((a) => [a.kind, a.cluster, a.status]), [
    ['root', null, 'unknown'],
    ['cluster', 'east', 'unknown'],
    ['cluster', 'west', 'unknown'],
  ]);
  assert.ok(r.notes.some((n) => n.includes('did not list its CAs')));
});

test('the Markdown inventory has a CA table, one SVID table per cluster, the TLS settings and the drift', () => {
  const markdown = renderReport(buildInventory(input()), 'markdown');
  assert.match(markdown, /^\| cluster \| west \| [0-9a-f]+ \| active \| EC P-256 \(issuance policy\) \| ecdsa-with-SHA256 \| 2027-03-01T00:00:00\.000Z \| 356 d \|$/m);
  assert.match(markdown, /^### east \(east\.acme\.internal\)$/m);
  assert.match(markdown, /^\| workload \| spiffe:\/\/east\.acme\.internal\/ns\/shop\/sa\/frontend \| frontend01 \| EC P-256 \(issuance policy\) \| ecdsa-with-SHA256 \| 2026-03-10T12:30:00\.000Z \| 30 min \| k8s-sat \|$/m);
  assert.match(markdown, /^- versions: TLSv1\.3 only$/m);
  assert.match(markdown, /^\| svid-without-entry \| west spiffe:\/\/west\.acme\.internal\/ns\/shop\/sa\/old \|/m);
});
