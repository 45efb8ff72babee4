import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../../ports/event-store';
import { customerPushOf } from './subscriptions';

const stored = (type: string, data: Record<string, unknown>): StoredEvent => ({
  eventId: 'e1',
  type,
  streamId: 'call-c1',
  streamVersion: 5,
  position: '5',
  occurredAt: '2026-12-06T10:00:00.000Z',
  recordedAt: '2026-12-06T10:00:00.000Z',
  merchantId: 'm1',
  correlationId: 'x',
  causationId: null,
  schemaVersion: 1,
  data: { callId: 'c1', ...data },
});
const command = (argument: string | null, accepted = true) =>
  stored('DtmfCommandRecognized', { sequence: '##10', action: 'MEDIA_SETTING', argument, accepted, reason: accepted ? null : 'unknown', source: 'DTMF', agent: null, at: '2026-12-06T10:00:00.000Z' });

describe('customerSession: what the caller\'s widget is sent of the media settings (issue 24)', () => {
  it('an accepted MEDIA_SETTING command → a MEDIA_SETTING push with the setting and on/off', () => {
    assert.deepEqual(
      [customerPushOf(command('ECHO_CANCELLATION:OFF'))].map((p) => p && [p.kind, p.setting, p.enabled]),
      [['MEDIA_SETTING', 'ECHO_CANCELLATION', false]],
    );
    assert.deepEqual([customerPushOf(command('ECHO_SUPPRESSION:ON'))].map((p) => p && [p.kind, p.setting, p.enabled]), [['MEDIA_SETTING', 'ECHO_SUPPRESSION', true]]);
  });
  it('a refused one (an unknown code) is not sent', () => assert.equal(customerPushOf(command(null, false)), undefined));
  it("the caller's own report (CallerMediaSettingsApplied) is not sent back as a command: a caller cannot set anything at the other end", () =>
    assert.equal(
      customerPushOf(stored('CallerMediaSettingsApplied', { settings: { echoCancellation: false, noiseSuppression: true, autoGainControl: true, echoSuppression: false }, requested: [], choice: 'HEADSET', honoured: true, note: null, at: '2026-12-06T10:00:00.000Z' })),
      undefined,
    ));
});
