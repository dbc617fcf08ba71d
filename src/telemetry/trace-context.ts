import { randomBytes } from 'node:crypto';
import { trace, context as otelContext, TraceFlags, type Span, type Context } from '@opentelemetry/api';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the
 * `traceparent` header that carries one trace id across the workload, both
 * gateways and the service. Each gateway hop is a span of its own: it keeps
 * the trace id, takes the caller's span as parent and sends its own span id
 * onward. Spans are opened through @opentelemetry/api, so an OpenTelemetry
 * SDK registered in the process records them; without one they cost nothing.
 */
export const TRACEPARENT = 'traceparent';

export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

const HEADER = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** §3.2: version 00 (and, for forward compatibility, later versions' first four fields); all-zero ids are invalid. */
export function parseTraceparent(value: string | string[] | undefined): TraceContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = HEADER.exec(value.trim().toLowerCase());
  if (!match || match[1] === 'ff') return undefined;
  const [, , traceId, spanId, flags] = match;
  if (/^0+$/.test(traceId!) || /^0+$/.test(spanId!)) return undefined;
  return { traceId: traceId!, spanId: spanId!, sampled: (parseInt(flags!, 16) & 1) === 1 };
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

/**
 * The span for one gateway hop: continues the incoming trace (or starts
 * one), with a fresh span id for the header sent onward. Returns the
 * OpenTelemetry span too, for attributes and end().
 */
export function startHop(name: string, incoming: string | string[] | undefined, attributes: Record<string, string>): { ctx: TraceContext; parent: TraceContext | undefined; span: Span; otel: Context } {
  const parent = parseTraceparent(incoming);
  const parentContext = parent ? trace.setSpanContext(otelContext.active(), { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true }) : otelContext.active();
  const span = trace.getTracer('interlock').startSpan(name, { attributes }, parentContext);
  // With an SDK the span has its own ids; without one it is a no-op that echoes its parent, so make ours.
  const recorded = span.spanContext();
  const ownIds = span.isRecording() && recorded.traceId !== '0'.repeat(32);
  const ctx: TraceContext = ownIds
    ? { traceId: recorded.traceId, spanId: recorded.spanId, sampled: (recorded.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED }
    : { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), sampled: parent?.sampled ?? false };
  return { ctx, parent, span, otel: trace.setSpan(parentContext, span) };
}
