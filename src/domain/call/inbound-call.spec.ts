import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { callDecider } from './call';
import type { CallCommand, ReceiveInboundCall } from './commands';
import type { CallEvent } from './events';
import { specFor, stateAfter } from '../shared/spec';
import { CALL, downloaded, dtmf, t } from './fixtures';

/**
 * Inbound calls (issue 23): a phone dialled one of the merchant's numbers. The call starts with
 * InboundCallReceived (no download, no port; the caller's number is the ANI), rings in the consoles
 * of its destination and is answered there; the phone's digits are recorded but are never agent
 * commands; a refusal is recorded as arrived and ended in one append, without ringing.
 */
const given = specFor(callDecider);

const receive = (over: Partial<ReceiveInboundCall['data']> = {}): ReceiveInboundCall => ({
  type: 'ReceiveInboundCall',
  data: {
    callId: CALL,
    merchantId: 'm1',
    did: '+33100000301',
    ani: '+33612345678',
    destination: 'CALL_CENTER',
    callCenterId: 'cc1',
    agent: null,
    linkId: null,
    sipCallId: 'SCL_1',
    keyed: null,
    ratePlan: null,
    at: t(0),
    refused: null,
    ...over,
  },
});
const received = (over: Partial<ReceiveInboundCall['data']> = {}): CallEvent => {
  const { refused: _, ...data } = receive(over).data;
  return { type: 'InboundCallReceived', data };
};
const rang = (at = t(0)): CallEvent => ({ type: 'CallRinging', data: { callId: CALL, gatewayEventId: null, at } });
const agentAnswer = (agent: string, at = t(10)): CallCommand => ({ type: 'AnswerCall', data: { callId: CALL, gatewayEventId: null, answeredBy: agent, at } });
const agentAnswered = (agent: string, at = t(10)): CallEvent => ({ type: 'CallAnswered', data: { callId: CALL, gatewayEventId: null, answeredBy: agent, at } });
const TABLE = { '*76': { action: 'PUSH_PAGE' as const, argument: 'https://shop.example/offers' } };

describe('inbound call: arrival', () => {
  it('a routed arrival → InboundCallReceived and CallRinging in one append (the consoles ring)', () => given([]).when(receive()).then([received(), rang()]));

  it('the same arrival again (a webhook delivered twice, another instance) → nothing', () => {
    given([received(), rang()]).when(receive()).then([]);
    given([received(), rang(), agentAnswered('kA')]).when(receive({ at: t(12) })).then([]);
  });

  it('a refused arrival (busy) → InboundCallReceived and CallTerminated BUSY 486 by SYSTEM, no ringing', () =>
    given([])
      .when(receive({ refused: { cause: 'BUSY', sipStatus: 486, reason: 'BUSY' } }))
      .then([
        received(),
        { type: 'CallTerminated', data: { callId: CALL, cause: 'BUSY', by: 'SYSTEM', sipStatus: 486, gatewayEventId: null, reason: 'BUSY', talkSeconds: 0, gatewayId: null, port: null, at: t(0) } },
      ]));

  it('an id an outbound call already has → CONFLICT', () => given([downloaded()]).when(receive()).thenThrows('CONFLICT'));

  it('bad input → BAD_USER_INPUT, nothing decided', () => {
    given([]).when(receive({ did: '0100000301' })).thenThrows('BAD_USER_INPUT', /did/);
    given([]).when(receive({ ani: 'x'.repeat(33) })).thenThrows('BAD_USER_INPUT', /ani/);
    given([]).when(receive({ ani: '+33 6 12' })).thenThrows('BAD_USER_INPUT', /ani/);
    given([]).when(receive({ destination: 'AGENT', agent: null })).thenThrows('BAD_USER_INPUT', /agent/);
    given([]).when(receive({ destination: 'CALL_CENTER', agent: 'kA' })).thenThrows('BAD_USER_INPUT', /agent/);
    given([]).when(receive({ at: 'yesterday' })).thenThrows('BAD_USER_INPUT');
  });

  it('an anonymous caller (the carrier withheld the number) is still a call', () =>
    given([]).when(receive({ ani: 'anonymous' })).then([received({ ani: 'anonymous' }), rang()]));

  it('the state: RINGING, BROWSER media, no port, the caller as ANI, direction INBOUND', () => {
    const s = stateAfter(callDecider, [received(), rang()]);
    assert.equal(s.status, 'Ringing');
    if (s.status !== 'Ringing') return;
    assert.deepEqual([s.direction, s.media, s.gatewayId, s.port, s.ani, s.callCenterId, s.offeredTo], ['INBOUND', 'BROWSER', null, null, '+33612345678', 'cc1', null]);
  });
});

describe('inbound call: answered in the console', () => {
  it('any agent of the center answers a CALL_CENTER number; the first wins', () => {
    given([received(), rang()]).when(agentAnswer('kA')).then([agentAnswered('kA')]);
    given([received(), rang(), agentAnswered('kA')]).when(agentAnswer('kB')).thenThrows('CONFLICT', /another agent/);
  });

  it("an AGENT number rings for that agent only: another agent's answer → CONFLICT", () => {
    const toAgent = [received({ destination: 'AGENT', agent: 'kA' }), rang()];
    given(toAgent).when(agentAnswer('kB')).thenThrows('CONFLICT', /another agent/);
    given(toAgent).when(agentAnswer('kA')).then([agentAnswered('kA')]);
  });

  it("the media server's answer (sip.callStatus active, after the console subscribed) is a repeat once the agent answered", () =>
    given([received(), rang(), agentAnswered('kA')])
      .when({ type: 'AnswerCall', data: { callId: CALL, gatewayEventId: 'lk-ans', answeredBy: null, at: t(11) } })
      .then([]));
});

describe("inbound call: the caller's digits", () => {
  it('are recorded, never recognised as agent commands (they would push pages to nobody)', () =>
    given([received(), rang(), agentAnswered('kA')])
      .when(dtmf('*76', 'g-d1', t(20), { table: TABLE, allowedOrigins: null }))
      .then([{ type: 'DtmfReceived', data: { callId: CALL, digits: '*76', gatewayEventId: 'g-d1', at: t(20) } }]));

  it('the DTMF timer recognises nothing on an inbound call', () =>
    given([received(), rang(), agentAnswered('kA'), { type: 'DtmfReceived', data: { callId: CALL, digits: '*76', gatewayEventId: 'g-d1', at: t(20) } }])
      .when({ type: 'RecognizeDtmf', data: { callId: CALL, at: t(30), table: TABLE, allowedOrigins: null } })
      .then([]));
});

describe('inbound call: properties', () => {
  it('whatever arrives, in whatever order, a call id is received once: every later arrival decides nothing', () =>
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 8 }), (instants) => {
        const history: CallEvent[] = [];
        for (const s of instants) history.push(...callDecider.decide(receive({ at: t(s) }), stateAfter(callDecider, history)));
        assert.equal(history.filter((e) => e.type === 'InboundCallReceived').length, 1);
        assert.equal(history.filter((e) => e.type === 'CallRinging').length, 1);
      }),
    ));
});
