import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { callDecider, ownLegParty } from './call';
import type { CallCommand, PlaceCallbackCall } from './commands';
import type { CallEvent } from './events';
import { specFor, stateAfter } from '../shared/spec';
import { CALL, downloaded, dtmf, t } from './fixtures';

/**
 * A callback's try (issue 25): a CALLBACK call starts with CallbackCallPlaced (the port seized for the
 * shopper's leg, the origin click copied), rings in the center's consoles at once, is answered there
 * by an agent; the shopper's phone is dialled after, and its answer and digits are not the agent's.
 */
const given = specFor(callDecider);

const place = (over: Partial<PlaceCallbackCall['data']> = {}): PlaceCallbackCall => ({
  type: 'PlaceCallbackCall',
  data: {
    callId: CALL,
    merchantId: 'm1',
    callbackId: 'cb1',
    attempt: 1,
    callCenterId: 'cc1',
    number: '+33612345678',
    gatewayId: 'gw1',
    port: 3,
    ani: '+33100000201',
    originCallId: 'c0',
    linkId: 'l1',
    customerId: 'cust-7',
    sessionId: null,
    pageUrl: 'https://shop.example/p/lamp',
    referrer: null,
    context: { cart: ['sku-9'] },
    ratePlan: null,
    media: 'BROWSER',
    at: t(0),
    ...over,
  },
});
const placed = (over: Partial<PlaceCallbackCall['data']> = {}): CallEvent => ({ type: 'CallbackCallPlaced', data: place(over).data });
const rang: CallEvent = { type: 'CallRinging', data: { callId: CALL, gatewayEventId: null, at: t(0) } };
const agentAnswer: CallCommand = { type: 'AnswerCall', data: { callId: CALL, gatewayEventId: null, answeredBy: 'kA', at: t(10) } };
const agentAnswered: CallEvent = { type: 'CallAnswered', data: { callId: CALL, gatewayEventId: null, answeredBy: 'kA', at: t(10) } };

describe('callback call (issue 25)', () => {
  it('placed → CallbackCallPlaced and CallRinging in one append (the consoles ring)', () => given([]).when(place()).then([placed(), rang]));
  it('to the shopper\'s browser: no number and no port → placed, ringing in the consoles', () => {
    const browser = { number: null, gatewayId: null, port: null, ani: null };
    given([]).when(place(browser)).then([placed(browser), rang]);
    const s = stateAfter(callDecider, [placed(browser), rang]);
    assert.deepEqual(s.status === 'Ringing' ? [s.direction, s.gatewayId, s.port, s.ani] : s.status, ['CALLBACK', null, null, null]);
  });
  it('no number but a port, or a number without one → BAD_USER_INPUT', () => {
    given([]).when(place({ number: null })).thenThrows('BAD_USER_INPUT');
    given([]).when(place({ gatewayId: null, port: null, ani: null })).thenThrows('BAD_USER_INPUT');
  });
  it('the same placement again → nothing; an id an outbound call has → CONFLICT', () => {
    given([placed(), rang]).when(place()).then([]);
    given([downloaded()]).when(place()).thenThrows('CONFLICT');
  });
  it('bad input → BAD_USER_INPUT', () => {
    given([]).when(place({ number: '0612345678' })).thenThrows('BAD_USER_INPUT', /number/);
    given([]).when(place({ attempt: 0 })).thenThrows('BAD_USER_INPUT', /attempt/);
    given([]).when(place({ ani: 'anonymous' })).thenThrows('BAD_USER_INPUT');
    given([]).when(place({ callbackId: '' })).thenThrows('BAD_USER_INPUT');
    given([]).when(place({ media: 'SIP' as never })).thenThrows('BAD_USER_INPUT', /media/);
  });
  it('the state: RINGING in the consoles (BROWSER media), holding the seized port, direction CALLBACK', () => {
    const s = stateAfter(callDecider, [placed(), rang]);
    assert.equal(s.status, 'Ringing');
    if (s.status !== 'Ringing') return;
    assert.deepEqual([s.direction, s.media, s.gatewayId, s.port, s.ani, s.callCenterId, s.customerId], ['CALLBACK', 'BROWSER', 'gw1', 3, '+33100000201', 'cc1', 'cust-7']);
  });
  it('answered by an agent in the console; the phone leg answering later changes nothing on the call', () => {
    given([placed(), rang]).when(agentAnswer).then([agentAnswered]);
    given([placed(), rang, agentAnswered]).when({ type: 'AnswerCall', data: { callId: CALL, gatewayEventId: 'g-ans', answeredBy: null, at: t(14) } }).then([]);
  });
  it("the shopper's digits are recorded, never agent commands", () =>
    given([placed(), rang, agentAnswered])
      .when(dtmf('*76', 'g-d1', t(20), { table: { '*76': { action: 'PUSH_PAGE', argument: 'https://shop.example/offers' } }, allowedOrigins: null }))
      .then([{ type: 'DtmfReceived', data: { callId: CALL, digits: '*76', gatewayEventId: 'g-d1', at: t(20) } }]));
  it('its end releases the seized port (CallTerminated carries it)', () =>
    given([placed(), rang, agentAnswered])
      .when({ type: 'TerminateCall', data: { callId: CALL, cause: 'BUSY', by: 'CALLER', sipStatus: 486, gatewayEventId: 'g-busy', at: t(30) } })
      .then([{ type: 'CallTerminated', data: { callId: CALL, cause: 'BUSY', by: 'CALLER', sipStatus: 486, gatewayEventId: 'g-busy', reason: null, talkSeconds: 20, gatewayId: 'gw1', port: 3, at: t(30) } }]));
});

/**
 * A PSTN center's try (issue 25): the center's number is dialled from the seized port (the call's own
 * leg), so the try does not ring in the consoles: its ringing and the agent's answer are the gateway's
 * reports. The shopper is dialled after, as a second leg (whose reports are not the call's own).
 */
describe("callback call from a PSTN center (issue 25)", () => {
  const pstn = placed({ media: 'PSTN' });
  const gwRang: CallEvent = { type: 'CallRinging', data: { callId: CALL, gatewayEventId: 'g-ring', at: t(2) } };
  const gwAnswered: CallEvent = { type: 'CallAnswered', data: { callId: CALL, gatewayEventId: 'g-ans', answeredBy: null, at: t(8) } };
  it('placed → CallbackCallPlaced alone (dialled, not ringing in the consoles); the same placement again → nothing', () => {
    given([]).when(place({ media: 'PSTN' })).then([pstn]);
    given([pstn]).when(place({ media: 'PSTN' })).then([]);
  });
  it('the state: INITIATED, PSTN media, holding the seized port, direction CALLBACK', () => {
    const s = stateAfter(callDecider, [pstn]);
    assert.equal(s.status, 'Initiated');
    if (s.status !== 'Initiated') return;
    assert.deepEqual([s.direction, s.media, s.gatewayId, s.port, s.ani, s.callCenterId], ['CALLBACK', 'PSTN', 'gw1', 3, '+33100000201', 'cc1']);
  });
  it("the center's gateway reports ringing, then the agent's answer (a repeat is nothing)", () => {
    given([pstn]).when({ type: 'ReportRinging', data: { callId: CALL, gatewayEventId: 'g-ring', at: t(2) } }).then([gwRang]);
    given([pstn, gwRang]).when({ type: 'AnswerCall', data: { callId: CALL, gatewayEventId: 'g-ans', answeredBy: null, at: t(8) } }).then([gwAnswered]);
    given([pstn]).when({ type: 'AnswerCall', data: { callId: CALL, gatewayEventId: 'g-ans', answeredBy: null, at: t(8) } }).then([gwAnswered]);
    given([pstn, gwRang, gwAnswered]).when({ type: 'AnswerCall', data: { callId: CALL, gatewayEventId: 'g-ans', answeredBy: null, at: t(8) } }).then([]);
  });
  it('an agent cannot answer it in the console → CONFLICT', () => {
    given([pstn, gwRang]).when(agentAnswer).thenThrows('CONFLICT', /phone/);
  });
  it("the shopper's leg busy ends the call with the port it holds; the agent's answer is the billed span's start", () =>
    given([pstn, gwRang, gwAnswered])
      .when({ type: 'TerminateCall', data: { callId: CALL, cause: 'BUSY', by: 'CALLER', sipStatus: 486, gatewayEventId: null, at: t(30) } })
      .then([{ type: 'CallTerminated', data: { callId: CALL, cause: 'BUSY', by: 'CALLER', sipStatus: 486, gatewayEventId: null, reason: null, talkSeconds: 22, gatewayId: 'gw1', port: 3, at: t(30) } }]));
  it("a gateway's end report of the own leg is the center's (CALLEE) here, the shopper's phone's (CALLER) for a browser center's try", () => {
    assert.equal(ownLegParty(stateAfter(callDecider, [pstn, gwRang, gwAnswered])), 'CALLEE');
    assert.equal(ownLegParty(stateAfter(callDecider, [placed(), rang, agentAnswered])), 'CALLER');
    assert.equal(ownLegParty(stateAfter(callDecider, [downloaded()])), 'CALLEE');
  });
  it('a try placed before PSTN centers called back (upcast to BROWSER) still rings in the consoles', () => {
    const s = stateAfter(callDecider, [placed({ media: 'BROWSER' }), rang]);
    assert.equal(s.status === 'Ringing' && s.media, 'BROWSER');
  });
});
