import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { runScenarios, type ScenarioResult } from '../../src/lab/demo.ts';
import type { TrustBoundariesReport } from '../../src/reports/trust-boundaries.ts';
import type { InventoryReport } from '../../src/reports/inventory.ts';
import { runCliAsync } from '../helpers/cli.ts';
import { tempDir } from '../helpers/pki.ts';

/** `GET /invoices/42` to `billing.west` → `GET west/billing`; handshake and attestation probes have no service target. */
function serviceCall(result: ScenarioResult): { caller: string; call: string } | undefined {
  const target = /^([a-z0-9-]+)\.([a-z0-9-]+)$/.exec(result.target);
  const method = /^([A-Z]+) \//.exec(result.request);
  if (!target || !method) return undefined;
  return { caller: result.caller, call: `${method[1]} ${target[2]}/${target[1]}` };
}

describe('interlock report on the lab', () => {
  let dir: string;
  let world: LabWorld;
  let cli: (...args: string[]) => ReturnType<typeof runCliAsync>;
  let gatewayConfigs: string[];

  before(async () => {
    dir = tempDir('interlock-reports-');
    world = await startLab({ dir: join(dir, 'lab') });
    // An auditor may read everything the reports need.
    const tokenFile = join(dir, 'auditor.token');
    writeFileSync(tokenFile, (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'audrey', roles: ['auditor'] })).token + '\n', { mode: 0o600 });
    cli = (...args: string[]) => runCliAsync([...args, '--server', world.controlPlane.url, '--ca-file', world.controlPlane.bundleFile, '--token-file', tokenFile]);
    gatewayConfigs = [...world.clusters.values()].flatMap((c) => ['--services', c.gateway.configPath]);
  });
  after(async () => {
    await world?.close();
  });

  test('trust-boundaries lists exactly the cross-cluster calls the demo expects its gateways to allow, and none it expects denied', async () => {
    // The expectation comes from the demo's own scenarios, run against the real gateways, not from the report's code.
    const scenarios = await runScenarios(world);
    assert.deepEqual(scenarios.filter((s) => !s.ok).map((s) => s.title), [], 'the demo itself behaves as it expects');
    const calls = scenarios.map((s) => ({ s, call: serviceCall(s) })).filter((x) => x.call);
    const key = (c: { caller: string; call: string }) => `${c.caller} ${c.call}`;
    const expectedAllowed = new Set(calls.filter((x) => x.s.expected === 'allow').map((x) => key(x.call!)));
    const expectedDenied = new Set(calls.filter((x) => x.s.expected === 'deny').map((x) => key(x.call!)));
    assert.ok(expectedAllowed.size > 0 && expectedDenied.size > 0);

    const result = await cli('report', 'trust-boundaries', '--format', 'json', ...gatewayConfigs);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as TrustBoundariesReport;
    const reported = new Set(report.allowed.flatMap((p) => p.methods.map((m) => `${p.source.spiffeId} ${m} ${p.target.cluster}/${p.target.service}`)));
    assert.deepEqual([...reported].sort(), [...expectedAllowed].sort());
    for (const denied of expectedDenied) assert.ok(!reported.has(denied), `${denied} must not be listed`);

    assert.equal(report.servicesSource.kind, 'files');
    assert.equal(report.policy?.version, world.policy.version);
    const [path] = report.allowed;
    assert.equal(path!.target.classification, 'confidential', "west's gateway declares billing confidential");
    assert.deepEqual(path!.policies, ['east-frontend-reads-billing']);
    assert.equal(path!.conditional, false);
    // east's three workload identities × billing, and west's billing × catalog: every other pair is denied by default.
    assert.deepEqual(report.boundaries, [
      { from: 'east', to: 'west', pairs: 3, allowed: 1 },
      { from: 'west', to: 'east', pairs: 1, allowed: 0 },
    ]);
    assert.equal(report.denied.byDefault, 3);
  });

  test('trust-boundaries in Markdown prints the allowed path as one line', async () => {
    const result = await cli('report', 'trust-boundaries', ...gatewayConfigs);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^- east\/shop\/frontend → west\/billing \(GET, classification confidential\) via policy east-frontend-reads-billing$/m);
    assert.match(result.stdout, /3 pairs have no allowed path: 3 denied by default/);
  });

  test('trust-boundaries without --services says which services it used, and still finds the path', async () => {
    const result = await cli('report', 'trust-boundaries', '--json');
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as TrustBoundariesReport;
    // The lab registers no service catalogue entries, so the report falls back and says so.
    assert.notEqual(report.servicesSource.kind, 'files');
    assert.ok(report.servicesSource.detail.length > 0);
    assert.deepEqual(
      report.allowed.map((p) => `${p.source.spiffeId} ${p.methods.join(',')} ${p.target.cluster}/${p.target.service}`),
      ['spiffe://east.acme.internal/ns/shop/sa/frontend GET west/billing'],
    );
  });

  test("inventory lists the root, both clusters' intermediates and both gateways' SVIDs, with TLS 1.3 only", async () => {
    const result = await cli('report', 'inventory', '--format', 'json');
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as InventoryReport;
    const intermediates = report.authorities.filter((a) => a.kind === 'cluster');
    assert.deepEqual([...new Set(intermediates.map((a) => a.cluster))].sort(), ['east', 'west']);
    const root = report.authorities.find((a) => a.kind === 'root')!;
    assert.deepEqual([root.key.keyType, root.key.curve, root.key.signatureAlgorithm, root.key.source], ['EC', 'P-256', 'ecdsa-with-SHA256', 'certificate']);
    for (const cluster of world.clusters.values()) {
      const group = report.svids.find((g) => g.cluster === cluster.name)!;
      const gateway = group.svids.filter((s) => s.role === 'gateway');
      assert.deepEqual(gateway.map((s) => s.spiffeId), [cluster.gateway.spiffeId]);
      assert.ok(gateway[0]!.secondsLeft! > 0);
      assert.equal(group.trustDomain, cluster.trustDomain);
    }
    assert.equal(report.tls.minVersion, 'TLSv1.3');
    assert.equal(report.tls.maxVersion, 'TLSv1.3');
    assert.equal(report.drift.findings.filter((f) => f.kind === 'entry-without-svid' || f.kind === 'svid-without-entry').length, 0, 'every lab entry attested');
  });

  test('inventory reports drift: an entry no workload attested for, and a declared service the control plane lacks', async () => {
    await world.controlPlane.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/never-started', namespace: 'shop', serviceAccount: 'never-started' });
    const declared = join(dir, 'declared');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(declared);
    writeFileSync(join(declared, 'services.yaml'), 'apiVersion: interlock.dev/v1\nkind: Service\nmetadata:\n  name: ledger\nspec:\n  cluster: west\n  namespace: payments\n  classification: restricted\n');
    const result = await cli('report', 'inventory', '--format', 'json', '--declared', declared);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as InventoryReport;
    assert.equal(report.drift.declaredSource, declared);
    assert.ok(report.drift.findings.some((f) => f.kind === 'entry-without-svid' && f.subject === 'east spiffe://east.acme.internal/ns/shop/sa/never-started'), JSON.stringify(report.drift.findings));
    assert.ok(report.drift.findings.some((f) => f.kind === 'declared' && f.subject === 'Service west/ledger'), JSON.stringify(report.drift.findings));
  });
});
