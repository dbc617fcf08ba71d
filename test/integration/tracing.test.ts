import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type https from 'node:https';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { parseTraceparent } from '../../src/telemetry/trace-context.ts';
import { tempDir } from '../helpers/pki.ts';

type Record = { seq: number; type: string; data: { traceId?: string; spanId?: string; parentSpanId?: string; decision?: string } };
const records = (path: string): Record[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record) : []);
/** The calling gateway writes its record once the answer has gone out, so it may land a moment after the client has it. */
async function eventually(path: string, match: (r: Record) => boolean): Promise<Record | undefined> {
  for (let i = 0; i < 50; i++) {
    const found = records(path).find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

describe('one trace id across clusters', () => {
  let world: LabWorld;
  let agent: https.Agent;
  before(async () => {
    world = await startLab({ dir: join(tempDir('interlock-trace-'), 'lab') });
    const east = world.clusters.get('east')!;
    agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
  });
  after(async () => {
    agent?.destroy();
    await world?.close();
  });

  test("the caller's traceparent is continued by both gateways: the same trace id in east's call record, west's decision record and at the service, each hop the parent of the next", async () => {
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const callerSpan = '1122334455667788';
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/7', headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    assert.equal(result.status, 200);
    const eastCall = await eventually(east.gateway.auditPath, (r) => r.type === 'call.outbound' && r.data.traceId === traceId);
    const westDecision = records(west.gateway.auditPath).find((r) => r.type === 'policy.decision' && r.data.traceId === traceId);
    assert.ok(eastCall, 'east recorded the call with the trace id');
    // The call record says what crossed: status, body sizes, duration.
    const crossed = eastCall.data as unknown as { status: number; requestBytes: number; responseBytes: number; durationMs: number };
    assert.equal(crossed.status, 200);
    assert.equal(crossed.requestBytes, 0);
    assert.equal(crossed.responseBytes, Buffer.byteLength(result.body));
    assert.ok(crossed.durationMs > 0);
    assert.ok(westDecision, 'west recorded its decision with the trace id');
    assert.equal(westDecision.data.decision, 'allow');
    assert.equal(westDecision.data.parentSpanId, eastCall.data.spanId, "east's hop is the parent of west's");
    const atService = parseTraceparent((JSON.parse(result.body) as { traceparent: string }).traceparent);
    assert.equal(atService?.traceId, traceId);
    assert.equal(atService?.spanId, westDecision.data.spanId, "west's hop is the parent of the service's");
  });

  test('a call without traceparent starts a trace at the first gateway, and a denied call is traced too', async () => {
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    const seenBefore = records(east.gateway.auditPath).at(-1)?.seq ?? 0;
    const denied = await callThroughGateway(agent, east.gateway.outbound, { method: 'DELETE', host: 'billing.west.interlock', path: '/invoices/7' });
    assert.equal(denied.status, 403);
    const eastCall = (await eventually(east.gateway.auditPath, (r) => r.type === 'call.outbound' && r.seq > seenBefore))!;
    assert.match(eastCall.data.traceId!, /^[0-9a-f]{32}$/);
    const westDecision = records(west.gateway.auditPath).find((r) => r.type === 'policy.decision' && r.data.traceId === eastCall.data.traceId);
    assert.equal(westDecision?.data.decision, 'deny');
  });
});
