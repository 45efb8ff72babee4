import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { benchEmbedded } from './e2e';
import { round } from './stats';
import { inSpan, tracedBatch, tracingEnabled } from '../src/observability/tracing';
import { startTracing } from '../src/observability/otel';
import { parseTracingEnv } from '../src/observability/otel-config';

/**
 * What tracing costs. (1) The helpers on the hot path (inSpan, tracedBatch) with tracing off, per
 * call, next to calling the function directly. (2) Full calls through the embedded stack with
 * tracing off and on (every span recorded, into an in-memory exporter), alternated, best of two.
 */
export const benchTracing = async (opts: { quick?: boolean } = {}) => {
  if (tracingEnabled()) throw new Error('tracing must start off');
  const n = opts.quick ? 200_000 : 2_000_000;
  const work = async () => 1;
  const items = [{ traceparent: undefined as string | undefined }];
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn();
    return Number(process.hrtime.bigint() - t0) / n;
  };
  await time(work); // warm-up
  const direct = await time(work);
  const span = await time(() => inSpan('x', {}, work));
  const batch = await time(() => tracedBatch('x', items, {}, work));

  const calls = opts.quick ? 60 : 300;
  const off: number[] = [];
  const on: number[] = [];
  const config = parseTracingEnv({ OTEL_TRACES_EXPORTER: 'otlp' }, (v, m) => {
    throw new Error(`${v}: ${m}`);
  })!;
  for (let round_ = 0; round_ < 2; round_++) {
    off.push((await benchEmbedded({ calls })).callsPerSecond);
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing(config, { exporter });
    try {
      on.push((await benchEmbedded({ calls })).callsPerSecond);
    } finally {
      await tracing.shutdown();
    }
  }
  return {
    helpersOffNsPerCall: { direct: round(direct, 1), inSpan: round(span, 1), tracedBatch: round(batch, 1), iterations: n },
    embeddedCallsPerSecond: { tracingOff: Math.max(...off), tracingOn: Math.max(...on), runs: { off, on }, calls },
  };
};
