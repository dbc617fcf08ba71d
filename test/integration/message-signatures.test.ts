import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type https from 'node:https';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { DEMO_TOPOLOGY, startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { signRequest } from '../../src/workload/sign-request.ts';
import { tempDir } from '../helpers/pki.ts';

const POLICY = `@id("frontend-uses-billing")
permit (
  principal == Interlock::Workload::"spiffe://east.acme.internal/ns/shop/sa/frontend",
  action == Interlock::Action::"call",
  resource == Interlock::Service::"west/billing"
);`;

describe('HTTP Message Signatures on critical routes', () => {
  let world: LabWorld;
  let agents: https.Agent[] = [];
  before(async () => {
    const dir = tempDir('interlock-sig-');
    const policyFile = join(dir, 'policy.cedar');
    writeFileSync(policyFile, POLICY);
    const topology = DEMO_TOPOLOGY.map((c) => (c.name === 'west' ? { ...c, service: { ...c.service, critical: ['POST /invoices'] } } : c));
    world = await startLab({ dir: join(dir, 'lab'), policyFile, topology });
  });
  after(async () => {
    agents.forEach((a) => a.destroy());
    await world?.close();
  });

  /** A call from east's frontend; each on a fresh connection so a refused request does not poison the next. */
  async function post(path: string, body: string, headers: Record<string, string>) {
    const east = world.clusters.get('east')!;
    const agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    agents.push(agent);
    return callThroughGateway(agent, east.gateway.outbound, { method: 'POST', host: 'billing.west.interlock', path, headers: { 'content-type': 'application/json', ...headers }, bodyChunks: [body] });
  }
  const sign = (path: string, body: string, now?: Date) => {
    const frontend = world.clusters.get('east')!.identities.get('frontend')!;
    return signRequest({ method: 'POST', authority: 'billing.west.interlock', path, body: Buffer.from(body), headers: { 'content-type': 'application/json' }, extraComponents: ['content-type'], keyPem: frontend.keyPem, spiffeId: frontend.spiffeId.id, ...(now ? { now } : {}) });
  };
  const body = '{"amount":100,"currency":"EUR"}';

  test('a request signed by the calling workload passes; the service gets the body unchanged', async () => {
    const result = await post('/invoices', body, sign('/invoices', body));
    assert.equal(result.status, 200, result.body);
    assert.equal(JSON.parse(result.body).bytesReceived, body.length);
  });

  test('unsigned, tampered (body, path, covered header) and future-dated requests are refused with IL_ERR_SIGNATURE_INVALID', async () => {
    const refused = async (result: Promise<{ status: number; errorCode?: string; body: string }>, why: RegExp) => {
      const r = await result;
      assert.equal(r.status, 401, r.body);
      assert.equal(r.errorCode, 'IL_ERR_SIGNATURE_INVALID');
      assert.match(r.body, why);
    };
    await refused(post('/invoices', body, {}), /no Signature-Input/);
    await refused(post('/invoices', body.replace('100', '900'), sign('/invoices', body)), /Content-Digest does not match/);
    await refused(post('/invoices/2', body, sign('/invoices', body)), /does not verify/);
    await refused(post('/invoices', body, { ...sign('/invoices', body), 'content-type': 'text/plain' }), /does not verify/);
    await refused(post('/invoices', body, sign('/invoices', body, new Date(Date.now() + 120_000))), /in the future/);
  });

  test('the same signed request sent twice: the second is refused as a replay', async () => {
    const headers = sign('/invoices', body);
    assert.equal((await post('/invoices', body, headers)).status, 200);
    const again = await post('/invoices', body, headers);
    assert.equal(again.status, 401);
    assert.match(again.body, /already used \(replay\)/);
  });

  test('routes not marked critical need no signature', async () => {
    const east = world.clusters.get('east')!;
    const agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    agents.push(agent);
    assert.equal((await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' })).status, 200);
  });
});
