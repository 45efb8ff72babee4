import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../../../ports/event-store';
import { decodeEvent, encodeEvent, KafkaDecodeError, type ConsumedMessage } from './codec';

const event = (over: Partial<StoredEvent> = {}): StoredEvent => ({
  eventId: '01938a6e-7c00-7000-8000-000000000001',
  type: 'CallAnswered',
  streamId: 'call-c_1',
  streamVersion: 3,
  position: '00000000000000000042',
  occurredAt: '2026-11-23T10:00:00.000Z',
  recordedAt: '2026-11-23T10:00:00.010Z',
  merchantId: 'm_1',
  correlationId: 'corr-1',
  causationId: null,
  schemaVersion: 1,
  data: { callId: 'c_1', at: '2026-11-23T10:00:00.000Z', nested: { ok: [1, 2] } },
  ...over,
});

/** What a consumer receives for what the producer sent: Buffers, as kafkajs hands them over. */
const asConsumed = (w: ReturnType<typeof encodeEvent>): ConsumedMessage => ({
  key: Buffer.from(w.key),
  value: Buffer.from(w.value),
  headers: Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k, Buffer.from(v)])),
});

const decodeError = (m: ConsumedMessage): string => {
  try {
    decodeEvent(m);
  } catch (e) {
    assert.ok(e instanceof KafkaDecodeError, `expected KafkaDecodeError, got ${e}`);
    assert.equal(e.code, 'KAFKA_DECODE');
    return e.message;
  }
  return 'decoded';
};

test('encode: key is the stream id, headers carry type, merchant, position, id and versions', () => {
  const w = encodeEvent(event());
  assert.equal(w.key, 'call-c_1');
  assert.deepEqual(w.headers, {
    'content-type': 'application/vnd.webdial.event+json',
    type: 'CallAnswered',
    merchantId: 'm_1',
    position: '00000000000000000042',
    eventId: '01938a6e-7c00-7000-8000-000000000001',
    streamVersion: '3',
    schemaVersion: '1',
  });
});

test('encode: an event without merchant has no merchantId header (headers cannot be null)', () => {
  const w = encodeEvent(event({ merchantId: null, streamId: 'gateway-g_1' }));
  assert.equal('merchantId' in w.headers, false);
  assert.equal(decodeEvent(asConsumed(w)).merchantId, null);
});

test('decode(encode(e)) gives e back, field for field', () => {
  for (const e of [event(), event({ causationId: 'ev-0', merchantId: null, data: null }), event({ data: 'ünïcødé ☎' })])
    assert.deepEqual(decodeEvent(asConsumed(encodeEvent(e))), e);
});

test('decode accepts string headers and messages without headers (the value is authoritative)', () => {
  const w = encodeEvent(event());
  assert.deepEqual(decodeEvent({ key: Buffer.from(w.key), value: Buffer.from(w.value), headers: w.headers }), event());
  assert.deepEqual(decodeEvent({ key: Buffer.from(w.key), value: Buffer.from(w.value) }), event());
});

test('decode refuses tombstones, non-JSON and non-objects', () => {
  assert.match(decodeError({ key: Buffer.from('call-c_1'), value: null }), /tombstone/);
  assert.match(decodeError({ key: Buffer.from('call-c_1'), value: Buffer.from('{nope') }), /not JSON/);
  assert.match(decodeError({ key: Buffer.from('call-c_1'), value: Buffer.from('[1,2]') }), /not a JSON object/);
});

test('decode names the first missing or mistyped envelope field', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ eventId: undefined }, /eventId must be a non-empty string/],
    [{ type: '' }, /type must be a non-empty string/],
    [{ position: 42 }, /position must be a non-empty string/],
    [{ merchantId: 7 }, /merchantId must be a string or null/],
    [{ streamVersion: 0 }, /streamVersion must be an integer >= 1/],
    [{ schemaVersion: 1.5 }, /schemaVersion must be an integer >= 1/],
  ];
  for (const [patch, re] of cases) {
    const value = JSON.stringify({ ...event(), ...patch });
    assert.match(decodeError({ key: Buffer.from('call-c_1'), value: Buffer.from(value) }), re);
  }
  const { data: _data, ...noData } = event();
  assert.match(decodeError({ key: Buffer.from('call-c_1'), value: Buffer.from(JSON.stringify(noData)) }), /no data/);
});

test("a call's transfer is keyed by the call's stream (one partition keeps their order); decoded under that key or, published before, its own", () => {
  const transfer = event({ streamId: 'transfer-c_1', type: 'TransferCompleted' });
  const w = encodeEvent(transfer);
  assert.equal(w.key, 'call-c_1');
  assert.deepEqual(decodeEvent(asConsumed(w)), transfer);
  assert.deepEqual(decodeEvent({ ...asConsumed(w), key: Buffer.from('transfer-c_1') }), transfer);
  assert.match(decodeError({ ...asConsumed(w), key: Buffer.from('call-c_2') }), /key "call-c_2" is not the envelope's streamId transfer-c_1/);
});

test('decode refuses a key or header that contradicts the value', () => {
  const w = asConsumed(encodeEvent(event()));
  assert.match(decodeError({ ...w, key: Buffer.from('call-other') }), /key "call-other" is not the envelope's streamId/);
  assert.match(decodeError({ ...w, key: null }), /key undefined/);
  assert.match(decodeError({ ...w, headers: { ...w.headers, type: Buffer.from('CallRinging') } }), /header type=CallRinging contradicts/);
  assert.match(decodeError({ ...w, headers: { ...w.headers, position: [Buffer.from('1'), Buffer.from('42')] } }), /header position=1/);
});
