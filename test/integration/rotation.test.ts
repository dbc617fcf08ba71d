import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { tempDir } from '../helpers/pki.ts';
import { getAdminJson } from '../helpers/admin.ts';

function renew(admin: { host: string; port: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request({ ...admin, method: 'POST', path: '/renew' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('gateway SVID rotation under traffic', () => {
  let world: LabWorld;
  before(async () => {
    world = await startLab({ dir: join(tempDir('interlock-rotate-'), 'lab') });
  });
  after(() => world?.close());

  test('both gateways renew their SVIDs repeatedly while requests flow: zero failed requests', async () => {
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    const identity = east.identities.get('frontend')!;
    const keepAlive = createWorkloadAgent(identity, gatewaySpiffeId(east.trustDomain));
    // A second client that opens a new connection for every request, so new handshakes happen mid-rotation too.
    const fresh = new https.Agent({ keepAlive: false, cert: identity.certPem, key: identity.keyPem, ca: identity.bundlePem, checkServerIdentity: () => undefined });
    let stop = false;
    const outcomes: number[] = [];
    const loop = async (agent: https.Agent) => {
      while (!stop) {
        const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' }).catch(() => ({ status: 0 }));
        outcomes.push(result.status);
      }
    };
    const traffic = [loop(keepAlive), loop(keepAlive), loop(fresh)];
    const serials = new Set<string>();
    for (let round = 0; round < 5; round++) {
      await new Promise((r) => setTimeout(r, 150));
      const statuses = await Promise.all([renew(east.gateway.admin), renew(west.gateway.admin)]);
      assert.deepEqual(statuses, [200, 200]);
      const { body: health } = await getAdminJson<{ identity: { serial: string } }>(east.gateway.admin, '/healthz');
      serials.add(health.identity.serial);
    }
    await new Promise((r) => setTimeout(r, 150));
    stop = true;
    await Promise.all(traffic);
    keepAlive.destroy();
    fresh.destroy();
    const failed = outcomes.filter((s) => s !== 200).length;
    console.log(`# ${outcomes.length} requests during 10 gateway SVID renewals, ${failed} failed`);
    assert.ok(outcomes.length > 50, `only ${outcomes.length} requests`);
    assert.equal(failed, 0);
    assert.equal(serials.size, 5, 'each renewal put a new SVID in place');
  });

  test("rotating east's intermediate CA under traffic: the gateway moves to the new CA, old SVIDs keep working, zero failed requests", async () => {
    const east = world.clusters.get('east')!;
    const identity = east.identities.get('frontend')!; // issued by the old CA, used throughout
    const agent = createWorkloadAgent(identity, gatewaySpiffeId(east.trustDomain));
    const healthOf = async () => (await getAdminJson<{ identity: { issuerSerial: string } }>(east.gateway.admin, '/healthz')).body;
    let stop = false;
    const outcomes: number[] = [];
    const loop = async () => {
      while (!stop) outcomes.push((await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/' }).catch(() => ({ status: 0 }))).status);
    };
    const traffic = [loop(), loop()];
    try {
      const before = (await healthOf()).identity.issuerSerial;
      const custodian = { ...world.controlPlane.admin, token: (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'rita', roles: ['key-custodian'] })).token };
      const rotated = await world.controlPlane.call<{ previous: string; current: string }>('POST', '/v1/clusters/east/rotate-ca', {}, custodian);
      assert.equal(rotated.previous, before);
      const deadline = Date.now() + 10_000;
      while ((await healthOf()).identity.issuerSerial !== rotated.current && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await healthOf()).identity.issuerSerial, rotated.current, 'the east gateway renewed under the new CA');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      stop = true;
      await Promise.all(traffic);
      agent.destroy();
    }
    console.log(`# ${outcomes.length} requests across the east CA rotation, ${outcomes.filter((s) => s !== 200).length} failed`);
    assert.ok(outcomes.length > 10);
    assert.deepEqual(outcomes.filter((s) => s !== 200), []);
  });

  test('when the peer gateway is gone, requests fail with a clear error and then fail fast (circuit open)', async () => {
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    const agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    try {
      const { stopChild } = await import('../../src/lab/process.ts');
      await stopChild(west.gateway.process);
      const codes: string[] = [];
      for (let i = 0; i < 7; i++) {
        const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/' });
        codes.push(`${result.status} ${result.errorCode}`);
      }
      // Default threshold: five connection failures, then the circuit opens.
      assert.deepEqual(codes, [...Array(5).fill('502 IL_ERR_PEER_UNAVAILABLE'), '503 IL_ERR_PEER_CIRCUIT_OPEN', '503 IL_ERR_PEER_CIRCUIT_OPEN']);
    } finally {
      agent.destroy();
    }
  });
});
