import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

/**
 * Exports the gateway's spans (telemetry/trace-context.ts) over OTLP/HTTP
 * (JSON) to a collector, when `tracing.otlpEndpoint` is configured; without
 * it no SDK is registered and spans cost nothing. Batches go out every
 * `intervalMs`; close() flushes what is left.
 */
export interface TracingOptions {
  readonly serviceName: string;
  readonly otlpEndpoint: string;
  readonly attributes?: Record<string, string>;
  readonly intervalMs?: number;
}

export function startTracing(options: TracingOptions): { close(): Promise<void> } {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, ...(options.attributes ?? {}) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpEndpoint }), { scheduledDelayMillis: options.intervalMs ?? 1_000 })],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    close: async () => {
      await provider.forceFlush().catch(() => undefined);
      await provider.shutdown().catch(() => undefined);
      trace.disable();
    },
  };
}
