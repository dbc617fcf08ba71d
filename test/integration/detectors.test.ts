import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { foreignCredentials, tryHandshake } from '../../src/lab/attackers.ts';
import { x509 } from '../../src/pki/x509.ts';
import { tempDir } from '../helpers/pki.ts';
import type { Alert } from '../../src/server/detectors.ts';
import type { IncidentRecord } from '../../src/server/incidents.ts';

describe('detectors trigger remediation on their own', () => {
  let world: LabWorld;
  let auditor: { token: string };

  before(async () => {
    world = await startLab({ dir: join(tempDir('interlock-detect-'), 'lab'), denyBurstThreshold: 5 });
    auditor = await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'ana', roles: ['auditor'] });
  });
  after(() => world?.close());

  const as = () => ({ ...world.controlPlane.admin, token: auditor.token });
  async function alertFrom(detector: Alert['detector']): Promise<Alert> {
    for (let i = 0; i < 100; i++) {
      const found = (await world.controlPlane.call<Alert[]>('GET', '/v1/alerts', undefined, as())).find((a) => a.detector === detector);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`no ${detector} alert`);
  }
  const serialOf = (pem: string) => new x509.X509Certificate(pem).serialNumber;

  test('an east SVID presented at the west gateway: revoked, and the east workload re-attests with a fresh SVID', async () => {
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    const stolen = east.identities.get('frontend')!;
    const thief = createWorkloadAgent(stolen, gatewaySpiffeId(west.trustDomain));
    try {
      const attempt = await callThroughGateway(thief, west.gateway.outbound, { method: 'GET', host: 'catalog.east.interlock', path: '/' });
      assert.equal(attempt.errorCode, 'IL_ERR_AUTHN_NOT_LOCAL');
    } finally {
      thief.destroy();
    }
    const alert = await alertFrom('svid-in-two-clusters');
    assert.equal(alert.action, 'incident-opened');
    assert.equal(alert.details.serial, serialOf(stolen.certPem));
    const incident = await world.controlPlane.call<IncidentRecord>('GET', `/v1/incidents/${alert.incident}`, undefined, as());
    assert.equal(incident.trigger, 'detector:svid-in-two-clusters');
    assert.equal(incident.scope.spiffeId, stolen.spiffeId.id);
    // The stolen serial is revoked; the real frontend attested again and calls billing as before.
    const revoked = await world.controlPlane.call<{ revoked: Array<{ serial: string }> }>('GET', '/v1/revocations', undefined, { ...world.controlPlane.admin, certPem: east.identities.get('catalog')!.certPem, keyPem: east.identities.get('catalog')!.keyPem });
    assert.ok(revoked.revoked.some((r) => r.serial === serialOf(stolen.certPem)));
    for (let i = 0; i < 50 && serialOf(east.identities.get('frontend')!.certPem) === serialOf(stolen.certPem); i++) await new Promise((r) => setTimeout(r, 100));
    const fresh = east.identities.get('frontend')!;
    assert.notEqual(serialOf(fresh.certPem), serialOf(stolen.certPem));
    const agent = createWorkloadAgent(fresh, gatewaySpiffeId(east.trustDomain));
    try {
      assert.equal((await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' })).status, 200);
    } finally {
      agent.destroy();
    }
  });

  test('repeated denials of one identity over the threshold open an incident for it', async () => {
    const east = world.clusters.get('east')!;
    const reporting = east.identities.get('reporting')!;
    const agent = createWorkloadAgent(reporting, gatewaySpiffeId(east.trustDomain));
    try {
      for (let i = 0; i < 5; i++) assert.equal((await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: `/invoices/${i}` })).status, 403);
    } finally {
      agent.destroy();
    }
    const alert = await alertFrom('deny-burst');
    assert.equal(alert.cluster, 'west', 'reported by the gateway that enforced the policy');
    assert.equal(alert.details.spiffeId, reporting.spiffeId.id);
    assert.equal(alert.action, 'incident-opened');
  });

  test('a certificate from a CA outside the trust bundle raises an alert (nothing of ours to revoke)', async () => {
    const east = world.clusters.get('east')!;
    const outcome = await tryHandshake({ ...east.gateway.inbound, credentials: await foreignCredentials(), bundlePem: east.identities.get('frontend')!.bundlePem });
    assert.equal(outcome.connected, false);
    const alert = await alertFrom('unknown-ca');
    assert.equal(alert.action, 'alert-only');
    assert.equal(alert.cluster, 'east');
    assert.match(alert.summary, /foreign CA/);
  });
});
