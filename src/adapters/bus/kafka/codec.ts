import type { StoredEvent } from '../../../ports/event-store';
import { busKeyOf } from '../../../ports/bus';

/**
 * The Kafka wire format of an event (ARCHITECTURE §4), both ways.
 *
 * - key: the stream id, so one stream always lands on one partition and keeps its order (a call's
 *   transfers: the call's stream id, so that they keep their order with the call's events: busKeyOf);
 * - value: the whole envelope as JSON (UTF-8): the value alone is enough to rebuild the event;
 * - headers: type, merchantId, position, eventId, streamVersion, schemaVersion and a content type,
 *   so that tools and consumers can route or filter without parsing the value.
 *
 * Decoding trusts nothing: a message that is not a complete envelope, or whose key or headers
 * contradict its value, is a KafkaDecodeError (the bus dead-letters it at once: retrying cannot help).
 */

export const CONTENT_TYPE = 'application/vnd.webdial.event+json';
/** A watermark marker: no key, no value, only this content type and the position. */
export const WATERMARK_CONTENT_TYPE = 'application/vnd.webdial.watermark';

/** Header names, in one place: the dead-letter path and external tools read them too. */
export const H = {
  contentType: 'content-type',
  type: 'type',
  merchantId: 'merchantId',
  position: 'position',
  eventId: 'eventId',
  streamVersion: 'streamVersion',
  schemaVersion: 'schemaVersion',
  /** W3C trace context of the producing span (tracing on): consumers continue the trace from it. */
  traceparent: 'traceparent',
} as const;

export interface WireMessage {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** What decode needs from a consumed message (kafkajs' KafkaMessage fits). */
export interface ConsumedMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export class KafkaDecodeError extends Error {
  readonly code = 'KAFKA_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'KafkaDecodeError';
  }
}

export const encodeEvent = (e: StoredEvent): WireMessage => {
  const headers: Record<string, string> = {
    [H.contentType]: CONTENT_TYPE,
    [H.type]: e.type,
    [H.position]: e.position,
    [H.eventId]: e.eventId,
    [H.streamVersion]: String(e.streamVersion),
    [H.schemaVersion]: String(e.schemaVersion),
  };
  // A header cannot be null: events without a merchant (e.g. gateway set-up) simply have none.
  if (e.merchantId !== null) headers[H.merchantId] = e.merchantId;
  if (e.traceparent) headers[H.traceparent] = e.traceparent;
  return { key: busKeyOf(e.streamId), value: JSON.stringify(e), headers };
};

/** The first value of a header as a string, or undefined. */
export const headerText = (headers: ConsumedMessage['headers'], name: string): string | undefined => {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  return first === undefined ? undefined : first.toString('utf8');
};

const isString = (v: unknown): v is string => typeof v === 'string';
const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/**
 * The relay's watermark marker for one partition: "everything up to `position` has been published".
 * Sent to every partition after the events (the producer keeps a partition's order), so a consumer
 * that reads it knows it has seen every event of that partition at or before the position.
 */
export const encodeWatermark = (position: string): { key: null; value: null; headers: Record<string, string> } => ({
  key: null,
  value: null,
  headers: { [H.contentType]: WATERMARK_CONTENT_TYPE, [H.position]: position },
});

export type Decoded = { kind: 'event'; event: StoredEvent } | { kind: 'watermark'; position: string };

/** An event, or the relay's watermark marker; anything else is a KafkaDecodeError. */
export const decodeMessage = (m: ConsumedMessage): Decoded => {
  if (headerText(m.headers, H.contentType) === WATERMARK_CONTENT_TYPE) {
    const position = headerText(m.headers, H.position);
    if (!position) throw new KafkaDecodeError('watermark marker without a position');
    return { kind: 'watermark', position };
  }
  return { kind: 'event', event: decodeEvent(m) };
};

export const decodeEvent = (m: ConsumedMessage): StoredEvent => {
  if (m.value === null) throw new KafkaDecodeError('message has no value (a tombstone is not an event)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(m.value.toString('utf8'));
  } catch (err) {
    throw new KafkaDecodeError(`value is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new KafkaDecodeError('value is not a JSON object');
  const o = parsed as Record<string, unknown>;
  const bad = (field: string, want: string) => new KafkaDecodeError(`envelope field ${field} must be ${want}, got ${JSON.stringify(o[field])}`);
  for (const f of ['eventId', 'type', 'streamId', 'position', 'occurredAt', 'recordedAt', 'correlationId'] as const)
    if (!isString(o[f]) || o[f] === '') throw bad(f, 'a non-empty string');
  for (const f of ['merchantId', 'causationId'] as const) if (!isNullableString(o[f])) throw bad(f, 'a string or null');
  if (!isPositiveInt(o.streamVersion)) throw bad('streamVersion', 'an integer >= 1');
  if (!isPositiveInt(o.schemaVersion)) throw bad('schemaVersion', 'an integer >= 1');
  if (!('data' in o)) throw new KafkaDecodeError('envelope has no data');
  const e: StoredEvent = {
    eventId: o.eventId as string,
    type: o.type as string,
    streamId: o.streamId as string,
    streamVersion: o.streamVersion,
    position: o.position as string,
    occurredAt: o.occurredAt as string,
    recordedAt: o.recordedAt as string,
    merchantId: o.merchantId as string | null,
    correlationId: o.correlationId as string,
    causationId: o.causationId as string | null,
    schemaVersion: o.schemaVersion,
    data: o.data,
  };
  // The header names the producing span (a child of the envelope's context): it wins. Tracing data
  // is never a reason to refuse a message, so a malformed one is simply dropped.
  const traceparent = headerText(m.headers, H.traceparent) ?? (typeof o.traceparent === 'string' ? o.traceparent : undefined);
  if (traceparent && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent)) e.traceparent = traceparent;
  // Key and headers are derived from the value when publishing: a mismatch means a foreign or corrupted message.
  const key = m.key?.toString('utf8');
  // A transfer's events published before busKeyOf keyed them by their call carry their own stream id.
  if (key !== busKeyOf(e.streamId) && key !== e.streamId) throw new KafkaDecodeError(`key ${JSON.stringify(key)} is not the envelope's streamId ${e.streamId} (nor its bus key)`);
  const checks: [string, string | undefined][] = [
    [H.type, e.type],
    [H.eventId, e.eventId],
    [H.position, e.position],
  ];
  for (const [name, want] of checks) {
    const got = headerText(m.headers, name);
    if (got !== undefined && got !== want) throw new KafkaDecodeError(`header ${name}=${got} contradicts the envelope (${want})`);
  }
  return e;
};
