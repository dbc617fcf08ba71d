import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTraceparent, parseTraceparent, startHop } from '../../src/telemetry/trace-context.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('traceparent is parsed per W3C Trace Context, and invalid values are ignored', () => {
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-01`), { traceId: TRACE, spanId: SPAN, sampled: true });
  assert.deepEqual(parseTraceparent(`00-${TRACE.toUpperCase()}-${SPAN}-00`), { traceId: TRACE, spanId: SPAN, sampled: false });
  for (const bad of [undefined, '', 'garbage', `00-${'0'.repeat(32)}-${SPAN}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, `ff-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}`]) assert.equal(parseTraceparent(bad), undefined, String(bad));
  assert.equal(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true }), `00-${TRACE}-${SPAN}-01`);
});

test('a hop continues the incoming trace with a span id of its own, or starts a new trace', () => {
  const continued = startHop('test', `00-${TRACE}-${SPAN}-01`, {});
  assert.equal(continued.ctx.traceId, TRACE);
  assert.notEqual(continued.ctx.spanId, SPAN);
  assert.equal(continued.parent?.spanId, SPAN);
  assert.equal(continued.ctx.sampled, true);
  const fresh = startHop('test', 'not a traceparent', {});
  assert.match(fresh.ctx.traceId, /^[0-9a-f]{32}$/);
  assert.equal(fresh.parent, undefined);
});
