import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { callDecider, isTerminal, talkMsBetween, talkSecondsBetween } from './call';
import type { CallCommand } from './commands';
import type { CallEvent } from './events';
import { specFor, stateAfter } from '../shared/spec';
import { DomainError } from '../shared/errors';
import { answer, answered, CALL, download, downloaded, dtmf, dtmfReceived, initiate, initiated, POLICY, ring, ringing, t, T0, terminate } from './fixtures';

const given = specFor(callDecider);

const terminatedEvent = (over: Partial<Extract<CallEvent, { type: 'CallTerminated' }>['data']> = {}): CallEvent => ({
  type: 'CallTerminated',
  data: {
    callId: CALL,
    cause: 'HANGUP',
    by: 'CALLER',
    sipStatus: null,
    gatewayEventId: null,
    reason: null,
    talkSeconds: 0,
    gatewayId: 'gw1',
    port: 3,
    at: t(75),
    ...over,
  },
});

const H = {
  absent: [] as CallEvent[],
  downloaded: [downloaded()],
  initiated: [downloaded(), initiated()],
  ringing: [downloaded(), initiated(), ringing()],
  answered: [downloaded(), initiated(), ringing(), answered()],
  answeredWithoutRinging: [downloaded(), initiated(), answered()],
  terminated: [downloaded(), initiated(), ringing(), answered(), terminatedEvent({ talkSeconds: 65 })],
};

describe('call decider: download', () => {
  it('absent → CallDownloaded', () => given(H.absent).when(download()).then([downloaded()]));
  it('refuses a second download of the same call id (CONFLICT)', () => given(H.downloaded).when(download()).thenThrows('CONFLICT'));
  it('refuses a download on a terminated call (CONFLICT)', () => given(H.terminated).when(download()).thenThrows('CONFLICT'));
  it('refuses a page that is not an http(s) URL', () =>
    given(H.absent).when({ ...download(), data: { ...download().data, pageUrl: 'javascript:alert(1)' } }).thenThrows('BAD_USER_INPUT'));
  it('refuses an invalid instant', () => given(H.absent).when(download('yesterday')).thenThrows('BAD_USER_INPUT'));
});

describe('call decider: the download policy (the merchant facts on RecordDownload)', () => {
  const withData = (over: Partial<ReturnType<typeof download>['data']>) => ({ ...download(), data: { ...download().data, ...over } });
  const withPolicy = (over: Partial<typeof POLICY>) => download(T0, { ...POLICY, ...over });
  it('a link that is not the merchant\'s → NOT_FOUND', () => given(H.absent).when(withData({ linkId: 'l9' })).thenThrows('NOT_FOUND'));
  it('a page on an origin the merchant does not allow → FORBIDDEN', () => given(H.absent).when(withData({ pageUrl: 'https://evil.example/p' })).thenThrows('FORBIDDEN'));
  it('a browser Origin the merchant does not allow → FORBIDDEN, whatever the page says', () =>
    given(H.absent).when(withPolicy({ requestOrigin: 'https://evil.example' })).thenThrows('FORBIDDEN'));
  it('no list of origins: any page → CallDownloaded', () =>
    given(H.absent).when(download(T0, { ...POLICY, allowedOrigins: null, requestOrigin: 'https://other.example' })).then([downloaded()]));
  it('a customer id over 200 characters → BAD_USER_INPUT', () => given(H.absent).when(withData({ customerId: 'x'.repeat(201) })).thenThrows('BAD_USER_INPUT'));
  it('a control character in the referrer → BAD_USER_INPUT', () => given(H.absent).when(withData({ referrer: 'a\u0000b' })).thenThrows('BAD_USER_INPUT'));
  it('a context nested deeper than 16 levels → BAD_USER_INPUT', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 17; i++) deep = { d: deep };
    return given(H.absent).when(withData({ context: deep })).thenThrows('BAD_USER_INPUT');
  });
  it('a context over the size limit → BAD_USER_INPUT', () => given(H.absent).when(withPolicy({ maxContextBytes: 5 })).thenThrows('BAD_USER_INPUT'));
  // Issue 20: lone surrogates reached PostgreSQL's jsonb and came back as an internal error.
  for (const [field, value] of [
    ['customerId', 'a\uD800b'],
    ['sessionId', '\uDC00'],
    ['referrer', 'https://x.example/\uDBFF'],
    ['callerRegion', 'eu\u0085west'],
  ] as const)
    it(`${field} ${JSON.stringify(value)} (a lone surrogate or a C1 control) → BAD_USER_INPUT`, () => given(H.absent).when(withData({ [field]: value })).thenThrows('BAD_USER_INPUT'));
  it('a lone surrogate in a context key or value → BAD_USER_INPUT', () => {
    given(H.absent).when(withData({ context: { cart: ['ok', 'x\uD83D'] } })).thenThrows('BAD_USER_INPUT');
    given(H.absent).when(withData({ context: { ['\uDE00k']: 1 } })).thenThrows('BAD_USER_INPUT');
  });
  it('a well-formed astral character (an emoji) is text → CallDownloaded', () =>
    given(H.absent).when(withData({ customerId: 'vip-\uD83D\uDE00' })).then((events) => assert.equal(events[0]?.type, 'CallDownloaded')));
});

describe('call decider: gateway event ids are bounded (issue 20)', () => {
  it('a gatewayEventId of 129 characters → BAD_USER_INPUT, nothing recorded', () => given(H.initiated).when(ring('g'.repeat(129))).thenThrows('BAD_USER_INPUT'));
  it('a gatewayEventId with a space or a control character → BAD_USER_INPUT', () => {
    given(H.ringing).when(answer('g ans')).thenThrows('BAD_USER_INPUT');
    given(H.answered).when(dtmf('1', 'g\u0000')).thenThrows('BAD_USER_INPUT');
    given(H.answered).when(terminate(t(75), '')).thenThrows('BAD_USER_INPUT');
  });
  it('128 printable characters are accepted', () => given(H.initiated).when(ring('g'.repeat(128))).then([ringing('g'.repeat(128))]));
});

describe('call decider: initiate', () => {
  it('downloaded → CallInitiated, with the merchant of the download', () => given(H.downloaded).when(initiate()).then([initiated()]));
  it('absent → NOT_FOUND', () => given(H.absent).when(initiate()).then({ error: 'NOT_FOUND', message: /call c1 not found/ }));
  for (const s of ['initiated', 'ringing', 'answered', 'terminated'] as const)
    it(`${s} → CONFLICT (initiate only once, and only from DOWNLOADED)`, () => given(H[s]).when(initiate()).thenThrows('CONFLICT'));
  it('refuses a destination that is not E.164', () =>
    given(H.downloaded).when({ ...initiate(), data: { ...initiate().data, destination: '0800 123' } }).thenThrows('BAD_USER_INPUT', /E\.164/));
  it('refuses an ANI that is not E.164', () =>
    given(H.downloaded).when({ ...initiate(), data: { ...initiate().data, ani: '+0123' } }).thenThrows('BAD_USER_INPUT'));
});

describe('call decider: ringing', () => {
  it('initiated → CallRinging', () => given(H.initiated).when(ring()).then([ringing()]));
  it('absent → NOT_FOUND', () => given(H.absent).when(ring()).thenThrows('NOT_FOUND'));
  it('downloaded → CONFLICT (not dialled yet)', () => given(H.downloaded).when(ring()).thenThrows('CONFLICT'));
  it('same gatewayEventId again → []', () => given(H.ringing).when(ring('g-ring')).then([]));
  it('ringing again with a new id → [] (state already reached)', () => given(H.ringing).when(ring('g-ring-2')).then([]));
  it('ringing after answered → []', () => given(H.answered).when(ring('late-180')).then([]));
  it('ringing after terminated → []', () => given(H.terminated).when(ring('late-180')).then([]));
});

describe('call decider: answer', () => {
  it('ringing → CallAnswered', () => given(H.ringing).when(answer()).then([answered()]));
  it('initiated → CallAnswered (200 OK without 180)', () => given(H.initiated).when(answer()).then([answered()]));
  it('absent → NOT_FOUND', () => given(H.absent).when(answer()).thenThrows('NOT_FOUND'));
  it('downloaded → CONFLICT', () => given(H.downloaded).when(answer()).thenThrows('CONFLICT'));
  it('same gatewayEventId again → []', () => given(H.answered).when(answer('g-ans')).then([]));
  it('answered again with a new id → []', () => given(H.answered).when(answer('g-ans-2')).then([]));
  it('answer after terminated → []', () => given(H.terminated).when(answer('late-200')).then([]));
  it('a gatewayEventId already used by another report is a repeat → []', () => given(H.ringing).when(answer('g-ring')).then([]));
});

describe('call decider: DTMF', () => {
  it('answered → DtmfReceived', () => given(H.answered).when(dtmf('*76')).then([dtmfReceived('*76')]));
  it('answered without ringing → DtmfReceived', () => given(H.answeredWithoutRinging).when(dtmf('1')).then([dtmfReceived('1')]));
  it('same gatewayEventId again → []', () => given([...H.answered, dtmfReceived('*76')]).when(dtmf('*76')).then([]));
  it('the same digits with a new id are new digits', () =>
    given([...H.answered, dtmfReceived('1')]).when(dtmf('1', 'g-d2')).then([dtmfReceived('1', 'g-d2')]));
  it('absent → NOT_FOUND', () => given(H.absent).when(dtmf('1')).thenThrows('NOT_FOUND'));
  for (const s of ['downloaded', 'initiated', 'ringing', 'terminated'] as const)
    it(`${s} → CONFLICT (DTMF only while ANSWERED)`, () => given(H[s]).when(dtmf('1')).thenThrows('CONFLICT'));
  for (const bad of ['', '12x', 'E', '1 2', 'a'])
    it(`refuses digits "${bad}" (BAD_USER_INPUT)`, () => given(H.answered).when(dtmf(bad)).thenThrows('BAD_USER_INPUT'));
  it('accepts every keypad digit', () =>
    given(H.answered).when(dtmf('0123456789*#ABCD')).then([dtmfReceived('0123456789*#ABCD')]));
});

describe('call decider: recognise DTMF commands', () => {
  const table = {
    '*76': { action: 'PUSH_PAGE' as const, argument: 'https://shop.example/help' },
    '*77': { action: 'PUSH_PAGE' as const, argument: 'https://elsewhere.example/' },
    '*7': { action: 'VOLUME' as const, argument: '+10' },
  };
  const recognize = (at: string): CallCommand => ({
    type: 'RecognizeDtmf',
    data: { callId: CALL, table, allowedOrigins: ['https://shop.example'], interDigitTimeoutMs: 3000, at },
  });
  const recognized = (sequence: string, argument: string, at: string, accepted = true, action: 'PUSH_PAGE' | 'VOLUME' = 'PUSH_PAGE'): CallEvent => ({
    type: 'DtmfCommandRecognized',
    data: {
      callId: CALL,
      sequence,
      action,
      argument,
      accepted,
      reason: accepted ? null : "origin https://elsewhere.example is not among the merchant's allowed origins",
      source: 'DTMF',
      agent: null,
      at,
    },
  });
  it('a complete sequence → DtmfCommandRecognized stamped at its last digit', () =>
    given([...H.answered, dtmfReceived('*76')]).when(recognize(t(20))).then([recognized('*76', 'https://shop.example/help', t(20))]));
  it('already recorded → []', () =>
    given([...H.answered, dtmfReceived('*76'), recognized('*76', 'https://shop.example/help', t(20))]).when(recognize(t(25))).then([]));
  it('a page outside the allowed origins is recorded as refused', () =>
    given([...H.answered, dtmfReceived('*77')]).when(recognize(t(20))).then([recognized('*77', 'https://elsewhere.example/', t(20), false)]));
  it('a sequence only a timeout ends waits for the deadline, then is stamped at it', () => {
    const history = [...H.answered, dtmfReceived('*7', 'g-d1', t(20))];
    given(history).when(recognize(t(22))).then([]);
    given(history).when(recognize(t(30))).then([recognized('*7', '+10', t(23), true, 'VOLUME')]);
  });
  it('digits across reports are one sequence', () =>
    given([...H.answered, dtmfReceived('*', 'g-d1', t(20)), dtmfReceived('76', 'g-d2', t(21))])
      .when(recognize(t(21)))
      .then([recognized('*76', 'https://shop.example/help', t(21))]));
  it('a report that completes a sequence decides its command in the same append', () =>
    given([...H.answered, dtmfReceived('*', 'g-d1', t(20))])
      .when(dtmf('76', 'g-d2', t(21), { table, allowedOrigins: ['https://shop.example'] }))
      .then([dtmfReceived('76', 'g-d2', t(21)), recognized('*76', 'https://shop.example/help', t(21))]));
  it('a report that only starts a sequence decides the digits alone; the deadline recognises the rest', () => {
    const rules = { table, allowedOrigins: ['https://shop.example'], interDigitTimeoutMs: 3000 };
    given(H.answered).when(dtmf('*7', 'g-d1', t(20), rules)).then([dtmfReceived('*7', 'g-d1', t(20))]);
    given([...H.answered, dtmfReceived('*7', 'g-d1', t(20))]).when(recognize(t(23))).then([recognized('*7', '+10', t(23), true, 'VOLUME')]);
  });
  it('a repeated report (same gatewayEventId) decides nothing, not even a command', () =>
    given([...H.answered, dtmfReceived('*76', 'g-d1', t(20)), recognized('*76', 'https://shop.example/help', t(20))])
      .when(dtmf('*76', 'g-d1', t(20), { table, allowedOrigins: ['https://shop.example'] }))
      .then([]));
  it('before the answer or after the end → [] (late timers)', () => {
    given(H.ringing).when(recognize(t(30))).then([]);
    given([...H.answered, dtmfReceived('*7'), terminatedEvent({ talkSeconds: 65 })]).when(recognize(t(90))).then([]);
  });
  it('absent → NOT_FOUND', () => given(H.absent).when(recognize(t(30))).thenThrows('NOT_FOUND'));
});

describe('call decider: terminate', () => {
  it('downloaded → CallTerminated without a port and 0 talk seconds', () =>
    given(H.downloaded).when(terminate()).then([terminatedEvent({ gatewayId: null, port: null })]));
  it('initiated → CallTerminated releasing the seized port', () => given(H.initiated).when(terminate()).then([terminatedEvent()]));
  it('ringing → CallTerminated, 0 talk seconds (never answered)', () => given(H.ringing).when(terminate()).then([terminatedEvent()]));
  it('answered → talkSeconds floored from answer to end', () =>
    given(H.answered).when(terminate(new Date(Date.parse(t(75)) + 999).toISOString())).then([
      terminatedEvent({ talkSeconds: 65, at: new Date(Date.parse(t(75)) + 999).toISOString() }),
    ]));
  it('answered, end stamped before answer (clock skew) → talkSeconds 0, never negative', () =>
    given(H.answered).when(terminate(t(9))).then([terminatedEvent({ talkSeconds: 0, at: t(9) })]));
  it('a FAILED termination keeps the reason the gateway gave (issue 22); a malformed reason is BAD_USER_INPUT', () => {
    given(H.ringing)
      .when({ ...terminate(), data: { ...terminate().data, cause: 'FAILED', by: 'CALLEE', reason: 'TRUNK_NO_RESPONSE', gatewayEventId: 'g-f' } })
      .then([terminatedEvent({ cause: 'FAILED', by: 'CALLEE', reason: 'TRUNK_NO_RESPONSE', gatewayEventId: 'g-f' })]);
    given(H.ringing).when({ ...terminate(), data: { ...terminate().data, reason: 'no such thing!' } }).thenThrows('BAD_USER_INPUT');
  });
  it('terminated → [] (hang-up races are normal)', () => given(H.terminated).when(terminate(t(80))).then([]));
  it('absent → NOT_FOUND', () => given(H.absent).when(terminate()).thenThrows('NOT_FOUND'));
  it('a repeated gateway BYE (same id) → []', () =>
    given([...H.answered, terminatedEvent({ gatewayEventId: 'bye-1', talkSeconds: 65, by: 'CALLEE' })])
      .when(terminate(t(90), 'bye-1'))
      .then([]));
  it('refuses a SIP status outside 100-699', () =>
    given(H.answered).when({ ...terminate(), data: { ...terminate().data, sipStatus: 42 } }).thenThrows('BAD_USER_INPUT'));
  it('carries cause, party and SIP status', () =>
    given(H.ringing)
      .when({ ...terminate(), data: { ...terminate().data, cause: 'BUSY', by: 'CALLEE', sipStatus: 486, gatewayEventId: 'g-486' } })
      .then([terminatedEvent({ cause: 'BUSY', by: 'CALLEE', sipStatus: 486, gatewayEventId: 'g-486' })]));
});

describe('call decider: joining the media room', () => {
  const join = (at = t(6)): CallCommand => ({ type: 'JoinMedia', data: { callId: CALL, room: `call-${CALL}`, at } });
  const joined = (at = t(6)): CallEvent => ({ type: 'CallerJoinedMedia', data: { callId: CALL, room: `call-${CALL}`, at } });
  for (const s of ['downloaded', 'initiated', 'ringing', 'answered'] as const)
    it(`${s} → CallerJoinedMedia`, () => given(H[s]).when(join()).then([joined()]));
  it('a second join with the same call → CONFLICT (a call token joins once)', () =>
    given([...H.downloaded, joined()]).when(join(t(8))).thenThrows('CONFLICT', /already joined/));
  it('still refused after answer', () => given([...H.answered, joined()]).when(join(t(20))).thenThrows('CONFLICT', /already joined/));
  it('terminated → CONFLICT', () => given(H.terminated).when(join()).thenThrows('CONFLICT'));
  it('absent → NOT_FOUND', () => given(H.absent).when(join()).thenThrows('NOT_FOUND'));
  it('the join survives the stages that follow it', () =>
    given([downloaded(), joined(), initiated(), ringing()]).when(join(t(9))).thenThrows('CONFLICT', /already joined/));
});

describe('call state (evolve)', () => {
  it('keeps what the decisions and timers need', () => {
    const s = stateAfter(callDecider, H.answered);
    assert.equal(s.status, 'Answered');
    if (s.status !== 'Answered') return;
    assert.equal(s.callCenterId, 'cc1');
    assert.equal(s.gatewayId, 'gw1');
    assert.equal(s.port, 3);
    assert.equal(s.ani, '+14155550003');
    assert.equal(s.downloadedAt, T0);
    assert.equal(s.initiatedAt, t(5));
    assert.equal(s.ringingAt, t(7));
    assert.equal(s.answeredAt, t(10));
    assert.deepEqual(s.seenGatewayEventIds, ['g-ring', 'g-ans']);
  });
  it('isTerminal only once terminated', () => {
    assert.equal(isTerminal(stateAfter(callDecider, H.answered)), false);
    assert.equal(isTerminal(stateAfter(callDecider, H.terminated)), true);
    assert.equal(callDecider.isTerminal?.(stateAfter(callDecider, H.terminated)), true);
  });
  it('counts DtmfCommandRecognized and keeps the digit reports while answered', () => {
    const rec: CallEvent = {
      type: 'DtmfCommandRecognized',
      data: { callId: CALL, sequence: '*76', action: 'PUSH_PAGE', argument: 'https://shop.example/x', accepted: true, reason: null, source: 'DTMF', agent: null, at: t(21) },
    };
    const s = stateAfter(callDecider, [...H.answered, dtmfReceived('*76'), rec]);
    assert.ok(s.status === 'Answered');
    assert.deepEqual(s.dtmf, { reports: [{ digits: '*76', at: t(20) }], recognized: 1 });
  });
  it('talkSecondsBetween (shown) floors and clamps', () => {
    assert.equal(talkSecondsBetween(null, t(100)), 0);
    assert.equal(talkSecondsBetween(t(0), t(59.999)), 59);
    assert.equal(talkSecondsBetween(t(10), t(0)), 0);
  });
  it('talkMsBetween (billed) keeps the milliseconds, clamps, and is null when never answered', () => {
    assert.equal(talkMsBetween(null, t(100)), null);
    assert.equal(talkMsBetween(t(0), t(0.6)), 600);
    assert.equal(talkMsBetween(t(0), t(9.5)), 9_500);
    assert.equal(talkMsBetween(t(0), t(0)), 0);
    assert.equal(talkMsBetween(t(10), t(0)), 0);
  });
});

// ---------------------------------------------------------------- properties

/** Any gateway-ish command, as a retried or reordered webhook stream would deliver it. */
const arbCommand: fc.Arbitrary<CallCommand> = fc.oneof(
  fc.constant(initiate()),
  fc.constantFrom('a', 'b', 'c').map((id) => ring(id)),
  fc.constantFrom('a', 'b', 'c').map((id) => answer(id)),
  fc.tuple(fc.constantFrom('1', '*76', '#'), fc.constantFrom('a', 'd', 'e')).map(([d, id]) => dtmf(d, id)),
  fc.constantFrom(null, 'a', 'z').map((id) => terminate(t(90), id)),
  fc.integer({ min: 20, max: 40 }).map(
    (s): CallCommand => ({
      type: 'RecognizeDtmf',
      data: { callId: CALL, table: { '*76': { action: 'VOLUME', argument: '+20' } }, allowedOrigins: null, at: t(s) },
    }),
  ),
);

describe('call decider properties', () => {
  it('whatever order commands arrive in, the stages only move forward and at most one CallTerminated is stored', () => {
    const rank = { Absent: 0, Downloaded: 1, Initiated: 2, Ringing: 3, Answered: 4, Terminated: 5 } as const;
    fc.assert(
      fc.property(fc.array(arbCommand, { maxLength: 25 }), (commands) => {
        let state = stateAfter(callDecider, H.downloaded);
        const stored: CallEvent[] = [];
        for (const c of commands) {
          let events: CallEvent[] = [];
          try {
            events = callDecider.decide(c, state);
          } catch (e) {
            assert.ok(e instanceof DomainError && e.code === 'CONFLICT', String(e));
            continue;
          }
          for (const e of events) {
            const next = callDecider.evolve(state, e);
            assert.ok(rank[next.status] >= rank[state.status], `${state.status} → ${next.status}`);
            state = next;
            stored.push(e);
          }
        }
        assert.ok(stored.filter((e) => e.type === 'CallTerminated').length <= 1);
        // Every DTMF digit stored arrived while the call was answered.
        const firstAnswer = stored.findIndex((e) => e.type === 'CallAnswered');
        const end = stored.findIndex((e) => e.type === 'CallTerminated');
        stored.forEach((e, i) => {
          if (e.type === 'DtmfReceived') assert.ok(firstAnswer >= 0 && i > firstAnswer && (end < 0 || i < end));
        });
      }),
    );
  });

  it('deciding the same command twice in a row stores nothing the second time (gateway retries)', () => {
    fc.assert(
      fc.property(fc.array(arbCommand, { maxLength: 10 }), arbCommand, (prefix, repeated) => {
        let state = stateAfter(callDecider, H.downloaded);
        const apply = (c: CallCommand) => {
          const events = callDecider.decide(c, state);
          for (const e of events) state = callDecider.evolve(state, e);
          return events;
        };
        for (const c of prefix) {
          try {
            apply(c);
          } catch {
            /* refused commands change nothing */
          }
        }
        let first: CallEvent[];
        try {
          first = apply(repeated);
        } catch {
          return; // refused once: refused again is fine too
        }
        if (repeated.type === 'InitiateCall') return; // the widget's initiate is not a gateway report: CONFLICT on repeat
        assert.deepEqual(apply(repeated), [], `repeat of ${repeated.type} after ${JSON.stringify(first)}`);
      }),
    );
  });
});
