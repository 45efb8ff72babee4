import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { disableTracing, enableTracing } from './tracing';
import type { TracingConfig } from './otel-config';

export type { TracingConfig } from './otel-config';

const samplerOf = (s: TracingConfig['sampler']): Sampler => {
  switch (s.name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(s.ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.ratio) });
  }
};

export interface RunningTracing {
  /** Exports what is buffered and stops (the server's shutdown). */
  shutdown(): Promise<void>;
  /** Exports what is buffered now (tests). */
  flush(): Promise<void>;
}

/**
 * Registers the SDK (NodeTracerProvider, AsyncLocalStorage context, W3C propagators) and switches
 * webdial's spans on. `exporter` replaces the configured one (tests pass an InMemorySpanExporter;
 * spans are then exported one by one, not batched).
 */
export const startTracing = (config: TracingConfig, options: { exporter?: SpanExporter } = {}): RunningTracing => {
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(
        config.exporter === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter({ url: config.otlp.url, headers: config.otlp.headers, timeoutMillis: config.otlp.timeoutMs }),
        { scheduledDelayMillis: config.batch.scheduleDelayMs, exportTimeoutMillis: config.batch.exportTimeoutMs, maxQueueSize: config.batch.maxQueueSize, maxExportBatchSize: config.batch.maxExportBatchSize },
      );
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName }),
    sampler: samplerOf(config.sampler),
    spanProcessors: [processor],
  });
  const propagators = [...(config.propagators.includes('tracecontext') ? [new W3CTraceContextPropagator()] : []), ...(config.propagators.includes('baggage') ? [new W3CBaggagePropagator()] : [])];
  provider.register({ propagator: new CompositePropagator({ propagators }) });
  enableTracing();
  return {
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      disableTracing();
      await provider.shutdown();
    },
  };
};
