import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type https from 'node:https';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabIdentity, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { tryHandshake } from '../../src/lab/attackers.ts';
import { x509 } from '../../src/pki/x509.ts';
import { tempDir } from '../helpers/pki.ts';
import { runCliAsync } from '../helpers/cli.ts';
import { getAdminJson } from '../helpers/admin.ts';

type Health = { identity: { serial: string; issuerSerial: string } };

describe('compromise remediation', () => {
  let world: LabWorld;
  let dir: string;
  let cli: (...args: string[]) => ReturnType<typeof runCliAsync>;
  let agent: https.Agent;

  const callBilling = () =>
    callThroughGateway(agent, world.clusters.get('east')!.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' }).catch((error: Error) => ({ status: 0, errorCode: error.message }));
  /** Calls until the answer is `status`, or gives up after `attempts` tries 100 ms apart. */
  const callUntil = async (status: number, attempts = 100) => {
    let last = await callBilling();
    for (let i = 0; i < attempts && last.status !== status; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = await callBilling();
    }
    return last;
  };

  before(async () => {
    dir = tempDir('interlock-incident-');
    world = await startLab({ dir: join(dir, 'lab') });
    const east = world.clusters.get('east')!;
    agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    const tokenFile = join(dir, 'custodian.token');
    writeFileSync(tokenFile, (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'kim', roles: ['key-custodian'] })).token + '\n', { mode: 0o600 });
    cli = (...args: string[]) => runCliAsync([...args, '--server', world.controlPlane.url, '--ca-file', world.controlPlane.bundleFile, '--token-file', tokenFile]);
  });
  after(async () => {
    agent?.destroy();
    await world?.close();
  });

  test('interlock incident compromise --cluster west: old west identities refused everywhere, west serving again with fresh SVIDs, evidence verifies', async () => {
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    assert.equal((await callBilling()).status, 200);
    const oldBilling: LabIdentity = west.identities.get('billing')!;
    const oldGateway = (await getAdminJson<Health>(west.gateway.admin, '/healthz')).body.identity;
    const evidenceFile = join(dir, 'evidence.json');

    const started = performance.now();
    const result = await cli('incident', 'compromise', '--cluster', 'west', '--reason', 'test: node image with a backdoor', '--evidence', evidenceFile);
    assert.equal(result.status, 0, result.stderr);
    for (const step of ['opened', 'ca-rotated', 'revoked', 'reissue-requested', 'remediated']) assert.match(result.stdout, new RegExp(`✔ \\S+\\s+${step}`));
    assert.match(result.stdout, /evidence: .*signed checkpoint/);

    // Healthy west workloads and the west gateway attest again (they follow the watch stream); traffic flows with fresh SVIDs.
    const serialOf = (identity: LabIdentity) => new x509.X509Certificate(identity.certPem).serialNumber;
    let newGateway = oldGateway;
    for (let i = 0; i < 100 && (newGateway.serial === oldGateway.serial || serialOf(west.identities.get('billing')!) === serialOf(oldBilling)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      newGateway = (await getAdminJson<Health>(west.gateway.admin, '/healthz')).body.identity;
    }
    assert.notEqual(newGateway.serial, oldGateway.serial, 'the west gateway attested again');
    assert.notEqual(newGateway.issuerSerial, oldGateway.issuerSerial, 'the west gateway SVID comes from the new intermediate');
    const newBilling = west.identities.get('billing')!;
    assert.notEqual(serialOf(newBilling), serialOf(oldBilling), 'billing attested again');
    const healed = await callUntil(200);
    const healedMs = performance.now() - started;
    assert.equal(healed.status, 200, `west never served again: ${JSON.stringify(healed)}`);

    // The old billing SVID (and key) is refused by every gateway listener.
    for (const [name, address] of [
      ['west outbound', west.gateway.outbound],
      ['east outbound', east.gateway.outbound],
      ['east inbound', east.gateway.inbound],
      ['west inbound', west.gateway.inbound],
    ] as const) {
      const outcome = await tryHandshake({ ...address, credentials: oldBilling, bundlePem: newBilling.bundlePem });
      assert.equal(outcome.connected, false, `${name} admitted the old billing SVID`);
    }
    console.log(`# west compromised: revoked, CA replaced, west serving again with fresh SVIDs after ${healedMs.toFixed(0)} ms`);

    // The evidence bundle verifies offline, and a single edited record makes it fail.
    const verified = await runCliAsync(['audit', 'verify-evidence', evidenceFile, '--ca-file', world.controlPlane.bundleFile]);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /^ok .*opened → ca-rotated → revoked → reissue-requested → remediated/);
    const evidence = JSON.parse(readFileSync(evidenceFile, 'utf8')) as { audit: { records: Array<{ type: string; data: Record<string, unknown> }> } };
    assert.ok(evidence.audit.records.some((r) => r.type === 'ca.emergency-rotated'));
    const revokedRecord = evidence.audit.records.find((r) => r.type === 'svid.revoked')!;
    revokedRecord.data.reason = 'nothing to see here';
    const tampered = join(dir, 'tampered.json');
    writeFileSync(tampered, JSON.stringify(evidence));
    const refused = await runCliAsync(['audit', 'verify-evidence', tampered, '--ca-file', world.controlPlane.bundleFile]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /IL_ERR_AUDIT_CHAIN_BROKEN: excerpt record \d+: hash does not match/);
  });

  test('--isolate cuts the cluster off until the incident is resolved', async () => {
    const result = await cli('incident', 'compromise', '--cluster', 'west', '--isolate', '--reason', 'test: lateral movement suspected', '--json');
    assert.equal(result.status, 0, result.stderr);
    const incident = JSON.parse(result.stdout) as { id: string };
    const cut = await callUntil(403);
    assert.equal(cut.status, 403);
    assert.equal(cut.errorCode, 'IL_ERR_PEER_ISOLATED');
    const resolved = await cli('incident', 'resolve', incident.id, '--note', 'nodes rebuilt');
    assert.equal(resolved.status, 0, resolved.stderr);
    assert.equal((await callUntil(200)).status, 200);
    const listed = await cli('incident', 'list');
    assert.match(listed.stdout, new RegExp(`${incident.id}\\s+resolved\\s+cluster west`));
  });
});
