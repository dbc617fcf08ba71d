import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CANARY_HEADER, createCanary, findCanaries, scanForCanaries } from '../../src/lab/canary.ts';

test('canary payloads are synthetic and carry the run marker in the body and a header value', () => {
  const canary = createCanary();
  assert.match(canary.marker, /^ILCANARY-[0-9a-f]{16}$/);
  const body = canary.body(2048);
  assert.ok(body.length >= 2048);
  assert.equal(JSON.parse(body).synthetic, true);
  // Repeated, so a copy survives any split into TCP segments.
  assert.ok(body.split(canary.marker).length - 1 >= 10);
  assert.match(canary.headers()[CANARY_HEADER]!, new RegExp(canary.marker));
  assert.notEqual(createCanary().marker, canary.marker, 'each run has its own marker');
});

test('the test-data check catches a marker planted in a log line, an audit record or a metric label', () => {
  const canary = createCanary();
  const clean = [
    { name: 'gateway.log', content: '{"level":30,"event":"gateway.ready","cluster":"east"}\n' },
    { name: 'gateway-west.audit.jsonl', content: '{"seq":1,"type":"policy.decision","data":{"path":"/invoices/1"}}\n' },
    { name: 'metrics west', content: 'interlock_requests_total{direction="inbound",peer="east"} 3\n' },
  ];
  assert.deepEqual(scanForCanaries(clean), []);
  const planted = [
    { name: 'gateway.log', content: `{"level":50,"msg":"request failed","header":"${canary.marker};synthetic"}\n` },
    { name: 'gateway-west.audit.jsonl', content: `{"seq":2,"type":"policy.decision","data":{"note":"${canary.marker}"}}\n` },
    { name: 'metrics west', content: `interlock_requests_total{caller="${canary.marker}"} 1\n` },
  ];
  const findings = scanForCanaries(planted);
  assert.deepEqual(findings.map((f) => f.source), ['gateway.log', 'gateway-west.audit.jsonl', 'metrics west']);
  assert.ok(findings.every((f) => f.marker === canary.marker && f.excerpt.includes(canary.marker)));
});

test("another run's marker is caught too, in bytes as well as text", () => {
  const other = createCanary();
  assert.equal(findCanaries('capture', Buffer.concat([Buffer.from([0x17, 0x03, 0x03]), Buffer.from(other.marker)])).length, 1);
  assert.deepEqual(findCanaries('capture', 'ILCANARY-nothex'), []);
});
