import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '../../ports/event-store';
import { productionUpcasters, UpcasterRegistry } from './upcasting';

const stored = (type: string, schemaVersion: number, data: unknown): StoredEvent => ({
  eventId: 'e1',
  type,
  streamId: 'call-1',
  streamVersion: 1,
  position: '00000000000000000001',
  occurredAt: '2026-01-01T00:00:00.000Z',
  recordedAt: '2026-01-01T00:00:00.000Z',
  merchantId: null,
  correlationId: 'c',
  causationId: null,
  schemaVersion,
  data,
});

test('upcasters chain from the stored version to the current one', () => {
  const r = new UpcasterRegistry({ Thing: 3 })
    .register('Thing', 1, (d) => ({ ...(d as object), b: 2 }))
    .register('Thing', 2, (d) => ({ ...(d as object), c: 3 }));
  const v1 = stored('Thing', 1, { a: 1 });
  assert.deepEqual(r.upcast(v1), { ...v1, schemaVersion: 3, data: { a: 1, b: 2, c: 3 } });
  assert.deepEqual(r.upcast(stored('Thing', 2, { a: 1 })).data, { a: 1, c: 3 });
  assert.deepEqual(v1.data, { a: 1 }, 'the stored event is not mutated');
});

test('current, newer and unknown types pass through unchanged', () => {
  const r = new UpcasterRegistry({ Thing: 2 }).register('Thing', 1, () => 'changed');
  for (const e of [stored('Thing', 2, 'x'), stored('Thing', 5, 'x'), stored('Other', 1, 'x')]) assert.equal(r.upcast(e), e);
  assert.equal(r.currentVersion('Other'), 1);
});

test('a missing step or a duplicate registration is a programming error', () => {
  const r = new UpcasterRegistry({ Thing: 3 }).register('Thing', 1, (d) => d);
  assert.throws(() => r.upcast(stored('Thing', 1, {})), /no upcaster for Thing from schema version 2 to 3/);
  assert.throws(() => r.register('Thing', 1, (d) => d), /registered twice/);
});

test('the production registry upcasts every bumped webdial event to its current version', () => {
  assert.equal(productionUpcasters.currentVersion('CallDownloaded'), 1);
  const same = stored('CallDownloaded', 1, { callId: 'x' });
  assert.equal(productionUpcasters.upcast(same), same);
  const v1: Array<[string, unknown, unknown]> = [
    ['CallCenterAdded', { callCenterId: 'cc' }, { callCenterId: 'cc', kind: 'PSTN' }],
    ['CallInitiated', { callId: 'x', gatewayId: 'gw', port: 1, ani: '+1' }, { callId: 'x', gatewayId: 'gw', port: 1, ani: '+1', media: 'PSTN' }],
    ['CallAnswered', { callId: 'x', gatewayEventId: 'g' }, { callId: 'x', gatewayEventId: 'g', answeredBy: null }],
    ['DtmfCommandRecognized', { callId: 'x', sequence: '*76' }, { callId: 'x', sequence: '*76', source: 'DTMF', agent: null }],
    ['ApiKeyIssued', { keyId: 'k', role: 'CRM' }, { keyId: 'k', role: 'CRM', callCenterId: null }],
    ['CallTerminated', { callId: 'x', cause: 'NO_ANSWER', talkSeconds: 0 }, { callId: 'x', cause: 'NO_ANSWER', talkSeconds: 0, reason: null }],
    // Issue 25: every try placed before PSTN centers called back rang in a browser center's consoles.
    ['CallbackCallPlaced', { callId: 'x', callbackId: 'cb' }, { callId: 'x', callbackId: 'cb', media: 'BROWSER' }],
  ];
  for (const [type, data, expected] of v1) {
    const up = productionUpcasters.upcast(stored(type, 1, data));
    assert.deepEqual(up.data, expected, type);
    assert.equal(up.schemaVersion, 2, type);
  }
});
