import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallEvent } from '../../domain/call/events';
import { answered, downloaded, dtmfReceived, initiated, ringing, t, T0 } from '../../domain/call/fixtures';
import { viewSpecFor } from '../testing/view-spec';
import { callHistoryView, callView, toCall, type CallHistoryEvent, type CallRow } from './view';

const given = viewSpecFor(callView);

const downloadedRow: CallRow = {
  id: 'c1',
  merchant_id: 'm1',
  direction: 'OUTBOUND',
  did: null,
  callback_media: null,
  link_id: 'l1',
  state: 'DOWNLOADED',
  call_center_id: null,
  destination: null,
  gateway_id: null,
  port: null,
  ani: null,
  downloaded_at: T0,
  initiated_at: null,
  ringing_at: null,
  answered_at: null,
  terminated_at: null,
  termination_cause: null,
  terminated_by: null,
  sip_status: null,
  talk_seconds: null,
  dtmf: '[]',
};
const initiatedRow: CallRow = { ...downloadedRow, state: 'INITIATED', call_center_id: 'cc1', destination: '+14155550100', gateway_id: 'gw1', port: 3, ani: '+14155550003', initiated_at: t(5) };
const terminated = (cause: 'HANGUP' | 'NO_ANSWER', talkSeconds: number, sipStatus: number | null = null): CallEvent => ({
  type: 'CallTerminated',
  data: { callId: 'c1', cause, by: 'CALLER', sipStatus, gatewayEventId: null, reason: null, talkSeconds, gatewayId: 'gw1', port: 3, at: t(75) },
});

describe('call view (call-history row, mutation answers): given events, when one more, then the row', () => {
  it('a download creates the row', () => given([]).when(downloaded()).then(downloadedRow));
  it('an initiation names the center, the line and when', () => given([downloaded()]).when(initiated()).then(initiatedRow));
  it('ringing, then the answer', () => {
    given([downloaded(), initiated()]).when(ringing()).then({ ...initiatedRow, state: 'RINGING', ringing_at: t(7) });
    given([downloaded(), initiated(), ringing()]).when(answered()).then({ ...initiatedRow, state: 'ANSWERED', ringing_at: t(7), answered_at: t(10) });
  });
  it('digits are listed in order', () =>
    given([downloaded(), initiated(), answered(), dtmfReceived('*7')])
      .when(dtmfReceived('6', 'g-d2', t(21)))
      .then((row) => assert.deepEqual(JSON.parse(row!.dtmf), [{ digits: '*7', at: t(20) }, { digits: '6', at: t(21) }])));
  it('the end records cause, party, SIP status and talk time', () =>
    given([downloaded(), initiated()])
      .when(terminated('NO_ANSWER', 0, 480))
      .then({ ...initiatedRow, state: 'TERMINATED', terminated_at: t(75), termination_cause: 'NO_ANSWER', terminated_by: 'CALLER', sip_status: 480, talk_seconds: 0 }));
  it('commands, chat and the media join leave the row as it was', () => {
    const before = [downloaded(), initiated(), answered()];
    for (const e of [
      { type: 'DtmfCommandRecognized', data: { callId: 'c1', sequence: '*76', action: 'VOLUME', argument: '+20', accepted: true, reason: null, source: 'DTMF', agent: null, at: t(30) } },
      { type: 'ChannelMessageSent', data: { callId: 'c1', channelId: '12', from: 'AGENT', text: 'hi', at: t(31) } },
      { type: 'CallerJoinedMedia', data: { callId: 'c1', room: 'r', at: t(32) } },
    ] as CallEvent[])
      given(before).when(e).then({ ...initiatedRow, state: 'ANSWERED', answered_at: t(10) });
  });
  it('an event of a call never downloaded creates nothing', () => given([]).when(initiated()).then(null));
  it('instants are stored normalised (sortable as text)', () =>
    given([]).when({ ...downloaded(), data: { ...(downloaded().data as object), at: '2026-11-23T11:00:00+01:00' } } as CallEvent).then((row) => assert.equal(row!.downloaded_at, T0)));
  it('an inbound call (issue 23): created by its arrival, INITIATED then RINGING, the caller as ANI, the number dialled as did and destination', () => {
    const arrival = { type: 'InboundCallReceived', data: { callId: 'c1', merchantId: 'm1', did: '+33100000301', ani: '+33612345678', destination: 'CALL_CENTER', callCenterId: 'cc1', agent: null, linkId: null, sipCallId: null, ratePlan: null, at: t(1) } } as CallEvent;
    const row: CallRow = { ...downloadedRow, direction: 'INBOUND', did: '+33100000301', link_id: null, state: 'INITIATED', call_center_id: 'cc1', destination: '+33100000301', ani: '+33612345678', downloaded_at: t(1), initiated_at: t(1) };
    given([]).when(arrival).then(row);
    given([arrival]).when({ type: 'CallRinging', data: { callId: 'c1', gatewayEventId: null, at: t(1) } }).then({ ...row, state: 'RINGING', ringing_at: t(1) });
    given([arrival]).when(arrival).then(row);
    assert.equal(toCall(row).direction, 'INBOUND');
  });
  it('reads back as the API’s Call', () =>
    assert.deepEqual(toCall(initiatedRow), {
      id: 'c1',
      merchantId: 'm1',
      direction: 'OUTBOUND',
      did: null,
      callbackMedia: null,
      linkId: 'l1',
      state: 'INITIATED',
      callCenterId: 'cc1',
      destination: '+14155550100',
      gatewayId: 'gw1',
      port: 3,
      ani: '+14155550003',
      downloadedAt: T0,
      initiatedAt: t(5),
      ringingAt: null,
      answeredAt: null,
      terminatedAt: null,
      terminationCause: null,
      terminatedBy: null,
      talkSeconds: null,
      dtmf: [],
    }));
});

describe('call-history view (ch_calls): the call row, and the position of the newest event that reached it', () => {
  const given = viewSpecFor(callHistoryView);
  const stored = (e: CallEvent, position: string): CallHistoryEvent => ({ ...e, eventId: `e-${position}`, streamVersion: Number(position), position, occurredAt: T0 });
  it('a download creates the row at its position', () => given([]).when(stored(downloaded(), '1')).then({ ...downloadedRow, last_position: '1' }));
  it('an event that leaves the call as it was still moves the position', () =>
    given([stored(downloaded(), '1'), stored(initiated(), '2'), stored(answered(), '3')])
      .when(stored({ type: 'CallerJoinedMedia', data: { callId: 'c1', room: 'r', at: t(32) } } as CallEvent, '4'))
      .then({ ...initiatedRow, state: 'ANSWERED', answered_at: t(10), last_position: '4' }));
  it('an event of a call never downloaded creates nothing', () => given([]).when(stored(initiated(), '2')).then(null));
});
