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
    // Enough requests to mean something, however slow the machine.
    for (let i = 0; i < 100 && outcomes.length < 50; i++) await new Promise((r) => setTimeout(r, 100));
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

  /** Two request loops from east's frontend to west's billing, the client renewing its SVID as its SDK does. */
  function startTraffic() {
    const east = world.clusters.get('east')!;
    const frontend = east.workloads.get('frontend')!;
    let agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    const retired: https.Agent[] = [];
    let renewals = 0;
    const onRotated = () => {
      renewals++;
      retired.push(agent);
      agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    };
    frontend.on('rotated', onRotated);
    let stop = false;
    const outcomes: Array<{ status: number; code?: string }> = [];
    const loop = async () => {
      while (!stop) {
        const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/' }).catch((error: Error) => ({ status: 0, errorCode: error.message }));
        outcomes.push({ status: result.status, ...(result.errorCode ? { code: result.errorCode } : {}) });
      }
    };
    const loops = [loop(), loop()];
    return {
      outcomes,
      get renewals() {
        return renewals;
      },
      stop: async () => {
        stop = true;
        await Promise.all(loops);
        frontend.off('rotated', onRotated);
        [agent, ...retired].forEach((a) => a.destroy());
      },
    };
  }

  async function custodianCli(name: string) {
    const tokenFile = join(world.dir, `${name}.token`);
    writeFileSync(tokenFile, (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name, roles: ['key-custodian'] })).token + '\n', { mode: 0o600 });
    return (...args: string[]) => runCliAsync([...args, '--server', world.controlPlane.url, '--ca-file', world.controlPlane.bundleFile, '--token-file', tokenFile]);
  }

  type Health = { identity: { issuerSerial: string }; trust: { authorities: Array<{ serial: string; kind: string }> } };
  const healthOf = async (cluster: string) => (await getAdminJson<Health>(world.clusters.get(cluster)!.gateway.admin, '/healthz')).body;

  /** Gateways hear of a withdrawal on the watch stream: wait until `cluster`'s gateway no longer holds `serial`. */
  async function untilWithdrawn(cluster: string, serial: string): Promise<Health> {
    let health = await healthOf(cluster);
    for (let i = 0; i < 50 && health.trust.authorities.some((a) => a.serial === normalizeSerial(serial)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await healthOf(cluster);
    }
    return health;
  }

  test("staged rotation of east's intermediate CA (interlock ca rotate) under traffic, SVIDs renewing every few seconds: zero failed requests", async () => {
    const traffic = startTraffic();
    const cli = await custodianCli('rita');
    try {
      const before = (await healthOf('east')).identity.issuerSerial;
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
      const health = await untilWithdrawn('east', previous);
      assert.equal(normalizeSerial(health.identity.issuerSerial), normalizeSerial(next), 'the east gateway holds an SVID from the new CA');
      assert.ok(!health.trust.authorities.some((a) => a.serial === normalizeSerial(previous)), 'the old CA is gone from the gateway trust state');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await traffic.stop();
    }
    const failed = traffic.outcomes.filter((o) => o.status !== 200);
    console.log(`# ${traffic.outcomes.length} requests across the staged east CA rotation and ${traffic.renewals} renewals of the caller's SVID, ${failed.length} failed`);
    assert.ok(traffic.outcomes.length > 50);
    assert.ok(traffic.renewals >= 2, `the caller's SVID renewed ${traffic.renewals} times`);
    assert.deepEqual(failed, []);
  });

  test('staged root rotation (interlock ca rotate-root) under traffic: every cluster moves to intermediates under the new root, the old root is withdrawn, zero failed requests', async () => {
    const traffic = startTraffic();
    const cli = await custodianCli('rosa');
    let oldRoot = '';
    try {
      const rotated = await cli('ca', 'rotate-root', '--poll', '200', '--wait', '120');
      assert.equal(rotated.status, 0, rotated.stderr + rotated.stdout);
      assert.match(rotated.stdout, /old CA withdrawn/);
      assert.match(rotated.stdout, /need the new one/);
      const pairs = [...rotated.stdout.matchAll(/^\s+(root|cluster \w+): (\w+) → (\w+)$/gm)].map((m) => ({ what: m[1]!, previous: m[2]!, next: m[3]! }));
      assert.deepEqual(pairs.map((p) => p.what).sort(), ['cluster east', 'cluster west', 'root']);
      oldRoot = pairs.find((p) => p.what === 'root')!.previous;
      for (const cluster of ['east', 'west']) {
        const health = await untilWithdrawn(cluster, oldRoot);
        const pair = pairs.find((p) => p.what === `cluster ${cluster}`)!;
        assert.equal(normalizeSerial(health.identity.issuerSerial), normalizeSerial(pair.next), `${cluster} gateway moved to its new intermediate`);
        assert.deepEqual(health.trust.authorities.filter((a) => a.kind === 'root').length, 1);
      }
      // Policy bundles are still accepted: the signer was re-issued under the new root.
      const { body: ready } = await getAdminJson<{ policy: { state: string } }>(world.clusters.get('west')!.gateway.admin, '/readyz');
      assert.equal(ready.policy.state, 'fresh');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await traffic.stop();
    }
    const failed = traffic.outcomes.filter((o) => o.status !== 200);
    console.log(`# ${traffic.outcomes.length} requests across the staged root rotation, ${failed.length} failed`);
    assert.ok(traffic.outcomes.length > 50);
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
