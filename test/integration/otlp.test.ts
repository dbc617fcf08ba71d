import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type https from 'node:https';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { tempDir } from '../helpers/pki.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Array<{ key: string; value: { stringValue?: string } }>;
}
interface ExportedSpan extends OtlpSpan {
  service: string;
}

/** A stand-in for an OpenTelemetry collector: accepts OTLP/HTTP JSON on 127.0.0.1 and keeps the spans. */
function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const payload = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
      for (const rs of payload.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ ...span, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, spans, close: () => new Promise((done) => server.close(() => done())) }),
    );
  });
}

describe('spans exported over OTLP', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let world: LabWorld;
  let agent: https.Agent;
  before(async () => {
    collector = await startCollector();
    world = await startLab({ dir: join(tempDir('interlock-otlp-'), 'lab'), otlpEndpoint: collector.url });
    const east = world.clusters.get('east')!;
    agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
  });
  after(async () => {
    agent?.destroy();
    await world?.close();
    await collector?.close();
  });

  test("one call east→west: east's outbound span is the parent of west's inbound span, both in the caller's trace, with identity and decision attributes", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const result = await callThroughGateway(agent, world.clusters.get('east')!.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/3', headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    assert.equal(result.status, 200);
    let mine: ExportedSpan[] = [];
    for (let i = 0; i < 100 && mine.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      mine = collector.spans.filter((s) => s.traceId === traceId);
    }
    const outbound = mine.find((s) => s.name === 'interlock.gateway.outbound');
    const inbound = mine.find((s) => s.name === 'interlock.gateway.inbound');
    assert.ok(outbound && inbound, `spans received: ${JSON.stringify(mine.map((s) => s.name))}`);
    assert.equal(outbound.service, 'interlock-gateway-east');
    assert.equal(inbound.service, 'interlock-gateway-west');
    assert.equal(outbound.parentSpanId, 'b7ad6b7169203331', "the caller's span is the parent");
    assert.equal(inbound.parentSpanId, outbound.spanId);
    const attr = (s: OtlpSpan, key: string) => s.attributes.find((a) => a.key === key)?.value.stringValue;
    assert.equal(attr(inbound, 'interlock.caller'), 'spiffe://east.acme.internal/ns/shop/sa/frontend');
    assert.equal(attr(inbound, 'interlock.decision'), 'allow');
    assert.equal(attr(outbound, 'interlock.peer_cluster'), 'west');
  });
});
