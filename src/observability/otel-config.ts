/**
 * The OTEL_* variables webdial reads, parsed without loading the SDK (the server loads
 * src/observability/otel.ts only when tracing is on).
 */
/** Tracing as the standard OTEL_* variables configure it (null: off, the default). */
export interface TracingConfig {
  exporter: 'otlp' | 'console';
  serviceName: string;
  resourceAttributes: Record<string, string>;
  /** OTLP over HTTP (JSON): the traces URL, its headers and timeout. */
  otlp: { url: string; headers: Record<string, string>; timeoutMs: number };
  sampler: { name: 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio'; ratio: number };
  propagators: Array<'tracecontext' | 'baggage'>;
  batch: { scheduleDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
}

type Env = Record<string, string | undefined>;
type Fail = (variable: string, message: string) => never;

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/** `k=v,k2=v2` (W3C baggage-style lists: OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES), values URL-decoded. */
const keyValues = (env: Env, name: string, fail: Fail): Record<string, string> => {
  const raw = env[name];
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    const i = part.indexOf('=');
    const key = i > 0 ? part.slice(0, i).trim() : '';
    if (!key) fail(name, `must be a comma-separated list of key=value, got "${raw}"`);
    try {
      out[key] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      fail(name, `has a value that is not URL-encoded: "${part}"`);
    }
  }
  return out;
};

const intVar = (env: Env, name: string, dflt: number, min: number, max: number, fail: Fail): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
};

const httpUrl = (name: string, raw: string, fail: Fail): URL => {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail(name, `must be an http(s) URL, got "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(name, `must be an http(s) URL, got "${raw}"`);
  return u;
};

/**
 * Reads the standard OTEL_* variables. Tracing is off unless OTEL_TRACES_EXPORTER is `otlp` or
 * `console`, or an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT) and the
 * exporter is not `none`; OTEL_SDK_DISABLED=true forces it off. Every value is checked: an invalid
 * one fails with the variable's name (the caller's ConfigError), also while tracing stays off.
 */
export const parseTracingEnv = (env: Env, fail: Fail): TracingConfig | null => {
  const disabled = env.OTEL_SDK_DISABLED;
  if (disabled !== undefined && disabled !== '' && !/^(true|false)$/i.test(disabled)) fail('OTEL_SDK_DISABLED', `must be true or false, got "${disabled}"`);
  const exporterRaw = (env.OTEL_TRACES_EXPORTER ?? '').trim();
  const exporters = exporterRaw === '' ? [] : exporterRaw.split(',').map((s) => s.trim());
  for (const x of exporters) if (!['otlp', 'console', 'none'].includes(x)) fail('OTEL_TRACES_EXPORTER', `must be otlp, console or none, got "${exporterRaw}"`);
  if (exporters.length > 1) fail('OTEL_TRACES_EXPORTER', `one exporter at a time (otlp, console or none), got "${exporterRaw}"`);

  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || null;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT || null;
  if (tracesEndpoint) httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint, fail);
  if (endpoint) httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint, fail);
  // The signal URL as the specification builds it: the traces endpoint as is, or the base + /v1/traces.
  const url = tracesEndpoint ?? (endpoint ? `${endpoint.replace(/\/+$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces');
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const p = env[name];
    if (p && p !== 'http/json') fail(name, `webdial exports OTLP over HTTP as JSON: must be http/json, got "${p}"`);
  }
  const headers = { ...keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS', fail), ...keyValues(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', fail) };
  const timeoutMs = intVar(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', intVar(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000, 1, 600_000, fail), 1, 600_000, fail);

  const samplerRaw = env.OTEL_TRACES_SAMPLER || 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(samplerRaw)) fail('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}, got "${samplerRaw}"`);
  const argRaw = env.OTEL_TRACES_SAMPLER_ARG;
  let ratio = 1;
  if (argRaw !== undefined && argRaw !== '') {
    ratio = Number(argRaw);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) fail('OTEL_TRACES_SAMPLER_ARG', `must be a number from 0 to 1, got "${argRaw}"`);
  }
  const propagatorsRaw = env.OTEL_PROPAGATORS || 'tracecontext,baggage';
  const propagators = propagatorsRaw.split(',').map((s) => s.trim()).filter((p) => p !== 'none');
  for (const p of propagators) if (p !== 'tracecontext' && p !== 'baggage') fail('OTEL_PROPAGATORS', `webdial propagates tracecontext and baggage (W3C) only, got "${propagatorsRaw}"`);
  const serviceName = env.OTEL_SERVICE_NAME ?? 'webdial';
  if (serviceName.trim() === '') fail('OTEL_SERVICE_NAME', 'must not be empty');
  const resourceAttributes = keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES', fail);
  const maxQueueSize = intVar(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000, fail);
  const maxExportBatchSize = intVar(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', Math.min(512, maxQueueSize), 1, 1_000_000, fail);
  if (maxExportBatchSize > maxQueueSize) fail('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', `must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize}), got ${maxExportBatchSize}`);
  const batch = {
    scheduleDelayMs: intVar(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 0, 600_000, fail),
    exportTimeoutMs: intVar(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, 600_000, fail),
    maxQueueSize,
    maxExportBatchSize,
  };

  const exporter = exporters[0] ?? (tracesEndpoint || endpoint ? 'otlp' : 'none');
  if (exporter === 'none' || /^true$/i.test(disabled ?? '')) return null;
  return {
    exporter: exporter as 'otlp' | 'console',
    serviceName,
    resourceAttributes,
    otlp: { url, headers, timeoutMs },
    sampler: { name: samplerRaw as TracingConfig['sampler']['name'], ratio },
    propagators: propagators as TracingConfig['propagators'],
    batch,
  };
};

