import { context, defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * webdial's tracing helpers on the OpenTelemetry API. Off by default: until `enableTracing()` (called
 * by startTracing when the OTEL_* variables switch it on) every helper runs its function directly,
 * with no span object, no context switch and no header written, so tracing costs nothing when off.
 *
 * The trace of a command: GraphQL operation → command → eventstore.append → relay.publish (the
 * envelope's `traceparent`) → bus consume (the Kafka message's `traceparent` header) → projection
 * batch / webhook planning / subscription delivery.
 */
let enabled = false;

export const enableTracing = (): void => {
  enabled = true;
};
export const disableTracing = (): void => {
  enabled = false;
};
export const tracingEnabled = (): boolean => enabled;

const tracer = () => trace.getTracer('webdial');

const W3C = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** webdial's own hops (envelope, Kafka headers) always speak W3C trace context, whatever OTEL_PROPAGATORS says for HTTP. */
const w3c = new W3CTraceContextPropagator();

/** The context a W3C `traceparent` names (the root context when absent or malformed). */
export const contextOf = (traceparent: string | null | undefined): Context =>
  traceparent && W3C.test(traceparent) ? w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter) : ROOT_CONTEXT;

/** The active span's context as a W3C `traceparent`, or undefined (tracing off, or no span). */
export const currentTraceparent = (ctx: Context = context.active()): string | undefined => {
  if (!enabled) return undefined;
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, defaultTextMapSetter);
  return carrier.traceparent;
};

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent: a context, or a traceparent string (default: the active context). */
  parent?: Context | string | null;
  links?: Link[];
}

/**
 * Runs `fn` inside a new span (the active span while it runs), ending it when `fn` settles and
 * recording a thrown error. With tracing off: `fn(undefined)`, nothing else.
 */
export const inSpan = <T>(name: string, options: SpanOptions, fn: (span: Span | undefined) => Promise<T>): Promise<T> => {
  if (!enabled) return fn(undefined);
  const parent = typeof options.parent === 'string' || options.parent === null ? contextOf(options.parent) : (options.parent ?? context.active());
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      throw e;
    } finally {
      span.end();
    }
  });
};

/** A span link to each distinct trace context among `traceparents` (a batch that mixes traces). */
export const linksTo = (traceparents: Iterable<string | undefined>): Link[] => {
  if (!enabled) return [];
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const tp of traceparents) {
    if (!tp || seen.has(tp)) continue;
    seen.add(tp);
    const sc = trace.getSpanContext(contextOf(tp));
    if (sc) links.push({ context: sc });
  }
  return links;
};

/**
 * One piece of work over a batch that may carry several commands' events (a relay publish, a
 * consumer's batch): a span per distinct trace among the items' `traceparent`s, each a child of its
 * trace, all open while `fn` runs once over the whole batch. `fn` gets the items with `traceparent`
 * replaced by their span's context (what a publish writes into Kafka headers, so consumers continue
 * from it); the active span meanwhile is the first one. With tracing off: `fn(items)`.
 */
export const tracedBatch = async <I extends { traceparent?: string }, T>(
  name: string,
  items: readonly I[],
  options: Omit<SpanOptions, 'parent'>,
  fn: (items: readonly I[]) => Promise<T>,
): Promise<T> => {
  if (!enabled || items.length === 0) return fn(items);
  const spans = new Map<string, { span: Span; ctx: Context; traceparent: string | undefined }>();
  for (const item of items) {
    const key = item.traceparent && W3C.test(item.traceparent) ? item.traceparent : '';
    if (spans.has(key)) continue;
    const parent = contextOf(key || null);
    const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links }, parent);
    const ctx = trace.setSpan(parent, span);
    spans.set(key, { span, ctx, traceparent: currentTraceparent(ctx) });
  }
  const rewritten = items.map((item) => {
    const s = spans.get(item.traceparent && W3C.test(item.traceparent) ? item.traceparent : '')!;
    return s.traceparent ? { ...item, traceparent: s.traceparent } : item;
  });
  for (const { span } of spans.values()) span.setAttribute('webdial.batch.events', items.length);
  try {
    return await context.with([...spans.values()][0].ctx, () => fn(rewritten));
  } catch (e) {
    for (const { span } of spans.values()) span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
    throw e;
  } finally {
    for (const { span } of spans.values()) span.end();
  }
};

/** What an HTTP middleware needs of a request and its response (express's fit). */
interface HttpExchange {
  req: { method: string; path?: string; headers: Record<string, string | string[] | undefined> };
  res: { statusCode: number; once(event: 'close', fn: () => void): unknown };
}

/**
 * Express middleware: a SERVER span per request, continuing an incoming `traceparent` (the global
 * propagators of OTEL_PROPAGATORS), active while the request is handled; the GraphQL layer names it
 * after the operation (nameActiveSpan). With tracing off: next().
 */
export const traceRequests = (req: HttpExchange['req'], res: HttpExchange['res'], next: () => void): void => {
  if (!enabled) return next();
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer().startSpan(`${req.method} ${req.path ?? ''}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.path ?? '' } }, parent);
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
};

/** Renames the active span and adds attributes (tracing on); `error` marks it failed. */
export const nameActiveSpan = (name: string | null, attributes: Attributes, error?: string): void => {
  if (!enabled) return;
  const span = trace.getActiveSpan();
  if (!span) return;
  if (name) span.updateName(name);
  span.setAttributes(attributes);
  if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
};

export { SpanKind };
