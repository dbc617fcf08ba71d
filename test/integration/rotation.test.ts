import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { normalizeSerial } from '../../src/pki/serial.ts';
import { runCliAsync } from '../helpers/cli.ts';
import { writeFileSync } from 'node:fs';
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
    world = await startLab({ dir: join(tempDir('interlock-rotate-'), 'lab'), svidTtlSeconds: 10 });
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
    const errors = new Map<string, number>();
    const loop = async (agent: https.Agent) => {
      while (!stop) {
        const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' }).catch((error: Error) => ({ status: 0, errorCode: error.message }));
        outcomes.push(result.status);
        if (result.status !== 200) errors.set(`${result.status} ${result.errorCode}`, (errors.get(`${result.status} ${result.errorCode}`) ?? 0) + 1);
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
    assert.deepEqual(Object.fromEntries(errors), {});
    assert.equal(failed, 0);
    assert.equal(serials.size, 5, 'each renewal put a new SVID in place');
  });

  test("staged rotation of east's intermediate CA (interlock ca rotate) under traffic, SVIDs renewing every few seconds: zero failed requests", async () => {
    const east = world.clusters.get('east')!;
    const frontend = east.workloads.get('frontend')!;
    // The client follows its SDK: a new keep-alive pool with each renewed SVID, the old one drained.
    let agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    const retired: https.Agent[] = [];
    let renewals = 0;
    frontend.on('rotated', () => {
      renewals++;
      retired.push(agent);
      agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    });
    const healthOf = async () => (await getAdminJson<{ identity: { issuerSerial: string }; trust: { authorities: Array<{ serial: string }> } }>(east.gateway.admin, '/healthz')).body;
    let stop = false;
    const outcomes: Array<{ status: number; code?: string }> = [];
    const loop = async () => {
      while (!stop) {
        const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/' }).catch((error: Error) => ({ status: 0, errorCode: error.message }));
        outcomes.push({ status: result.status, ...(result.errorCode ? { code: result.errorCode } : {}) });
      }
    };
    const traffic = [loop(), loop()];
    const custodian = join(world.dir, 'custodian.token');
    writeFileSync(custodian, (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'rita', roles: ['key-custodian'] })).token + '\n', { mode: 0o600 });
    const cli = (...args: string[]) => runCliAsync([...args, '--server', world.controlPlane.url, '--ca-file', world.controlPlane.bundleFile, '--token-file', custodian]);
    try {
      const before = (await healthOf()).identity.issuerSerial;
      // Step by step first: publish only, then look at the state.
      const published = await cli('ca', 'rotate', '--cluster', 'east', '--until', 'published', '--poll', '100');
      assert.equal(published.status, 0, published.stderr);
      assert.match(published.stdout, /new CA published/);
      const status = await cli('ca', 'rotate', '--cluster', 'east', '--status', '--json');
      const state = JSON.parse(status.stdout) as { record: { step: string; pairs: Array<{ previous: string; next: string }> } };
      assert.equal(state.record.step, 'published');
      const { previous, next } = state.record.pairs[0]!;
      assert.equal(normalizeSerial(previous), normalizeSerial(before));
      // Resume and finish: switch once both gateways confirm, withdraw once the old SVIDs have expired.
      const finished = await cli('ca', 'rotate', '--cluster', 'east', '--poll', '200', '--wait', '120');
      assert.equal(finished.status, 0, finished.stderr + finished.stdout);
      assert.match(finished.stdout, /resuming rotation/);
      assert.match(finished.stdout, /issuance switched/);
      assert.match(finished.stdout, /old CA withdrawn/);
      // Gateways hear of the withdrawal on the watch stream: give them a moment.
      let health = await healthOf();
      for (let i = 0; i < 50 && health.trust.authorities.some((a) => a.serial === normalizeSerial(previous)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        health = await healthOf();
      }
      assert.equal(normalizeSerial(health.identity.issuerSerial), normalizeSerial(next), 'the east gateway holds an SVID from the new CA');
      assert.ok(!health.trust.authorities.some((a) => a.serial === normalizeSerial(previous)), 'the old CA is gone from the gateway trust state');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      stop = true;
      await Promise.all(traffic);
      [agent, ...retired].forEach((a) => a.destroy());
    }
    const failed = outcomes.filter((o) => o.status !== 200);
    console.log(`# ${outcomes.length} requests across the staged east CA rotation and ${renewals} renewals of the caller's SVID, ${failed.length} failed`);
    assert.ok(outcomes.length > 50);
    assert.ok(renewals >= 2, `the caller's SVID renewed ${renewals} times`);
    assert.deepEqual(failed, []);
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
