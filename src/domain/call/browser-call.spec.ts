import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { callDecider, sequenceFor } from './call';
import type { CallCommand } from './commands';
import type { CallEvent } from './events';
import { specFor, stateAfter } from '../shared/spec';
import { DomainError } from '../shared/errors';
import { answer, answered, CALL, downloaded, dtmf, initiate, initiated, ringing, t, terminate } from './fixtures';

/**
 * PC-to-PC calls (browser call centers) and the agent console's commands (issue 12): the same
 * lifecycle events as a PSTN call, without a port; console buttons decide the same
 * DtmfCommandRecognized that keyed DTMF does, marked source AGENT.
 */
const given = specFor(callDecider);

const initiateBrowser = (at = t(5)): Extract<CallCommand, { type: 'InitiateCall' }> => ({
  type: 'InitiateCall',
  data: { ...initiate(at).data, media: 'BROWSER', gatewayId: null, port: null, ani: null },
});
const browserInitiated = (at = t(5)): CallEvent => ({ type: 'CallInitiated', data: { ...initiateBrowser(at).data, merchantId: 'm1' } });
const offered = (at = t(5)): CallEvent => ({ type: 'CallRinging', data: { callId: CALL, gatewayEventId: null, at } });
const agentAnswer = (agent: string, at = t(10)): CallCommand => ({ type: 'AnswerCall', data: { callId: CALL, gatewayEventId: null, answeredBy: agent, at } });
const agentAnswered = (agent: string, at = t(10)): CallEvent => ({ type: 'CallAnswered', data: { callId: CALL, gatewayEventId: null, answeredBy: agent, at } });

const TABLE = {
  '*76': { action: 'PUSH_PAGE' as const, argument: 'https://shop.example/offers' },
  '*22': { action: 'VOLUME' as const, argument: '+20' },
};
const ORIGINS = ['https://shop.example'];
const command = (action: 'PUSH_PAGE' | 'VOLUME' | 'OPEN_CHANNEL', argument: string | null, agent = 'kA', at = t(30)): CallCommand => ({
  type: 'IssueAgentCommand',
  data: { callId: CALL, agent, action, argument, table: TABLE, allowedOrigins: ORIGINS, at },
});
const recognized = (over: Partial<Extract<CallEvent, { type: 'DtmfCommandRecognized' }>['data']>): CallEvent => ({
  type: 'DtmfCommandRecognized',
  data: { callId: CALL, sequence: null, action: 'PUSH_PAGE', argument: null, accepted: true, reason: null, source: 'AGENT', agent: 'kA', at: t(30), ...over },
});

const B = {
  downloaded: [downloaded()],
  ringing: [downloaded(), browserInitiated(), offered()],
  answered: [downloaded(), browserInitiated(), offered(), agentAnswered('kA')],
  terminated: [
    downloaded(),
    browserInitiated(),
    offered(),
    agentAnswered('kA'),
    { type: 'CallTerminated', data: { callId: CALL, cause: 'HANGUP', by: 'CALLEE', sipStatus: null, gatewayEventId: null, reason: null, talkSeconds: 20, gatewayId: null, port: null, at: t(30) } },
  ] as CallEvent[],
};
const P = {
  ringing: [downloaded(), initiated(), ringing()],
  answered: [downloaded(), initiated(), ringing(), answered()],
};

describe('browser call: initiation rings the console at once, with no port', () => {
  it('downloaded → CallInitiated (media BROWSER, no port) and CallRinging', () =>
    given(B.downloaded).when(initiateBrowser()).then([browserInitiated(), offered()]));
  it('a BROWSER initiation that names a port → BAD_USER_INPUT', () =>
    given(B.downloaded).when({ ...initiateBrowser(), data: { ...initiateBrowser().data, gatewayId: 'gw1', port: 3 } }).thenThrows('BAD_USER_INPUT', /no gateway port/));
  it('a PSTN initiation without a port → BAD_USER_INPUT', () =>
    given(B.downloaded).when({ ...initiate(), data: { ...initiate().data, gatewayId: null, port: null, ani: null } }).thenThrows('BAD_USER_INPUT'));
  it('an unknown media → BAD_USER_INPUT', () =>
    given(B.downloaded).when({ ...initiate(), data: { ...initiate().data, media: 'SIP' as never } }).thenThrows('BAD_USER_INPUT', /media/));
  it('the state remembers the media and that there is no port', () => {
    const s = stateAfter(callDecider, B.ringing);
    assert.ok(s.status === 'Ringing');
    assert.deepEqual([s.media, s.gatewayId, s.port, s.ani], ['BROWSER', null, null, null]);
  });
});

describe('browser call: the agent answers in the console', () => {
  it('ringing → CallAnswered by that agent', () => given(B.ringing).when(agentAnswer('kA')).then([agentAnswered('kA')]));
  it('the same agent again → [] (a double click)', () => given(B.answered).when(agentAnswer('kA', t(11))).then([]));
  it('another agent → CONFLICT: answered by another agent', () => given(B.answered).when(agentAnswer('kB')).thenThrows('CONFLICT', /another agent/));
  it('after the caller hung up → CONFLICT (the console shows the call ended)', () => given(B.terminated).when(agentAnswer('kA')).thenThrows('CONFLICT', /TERMINATED/));
  it('a gateway report on a browser call → CONFLICT', () => given(B.ringing).when(answer('g-1')).thenThrows('CONFLICT', /agent in the console/));
  it('a console answer on a PSTN call → CONFLICT', () => {
    given(P.ringing).when(agentAnswer('kA')).thenThrows('CONFLICT', /PSTN call is answered on the phone/);
    given(P.answered).when(agentAnswer('kA')).thenThrows('CONFLICT', /PSTN/);
  });
  it('before initiation → CONFLICT', () => given(B.downloaded).when(agentAnswer('kA')).thenThrows('CONFLICT'));
  it('an empty agent → BAD_USER_INPUT', () => given(B.ringing).when(agentAnswer('  ')).thenThrows('BAD_USER_INPUT'));
  it('the agent hangs up like a callee: terminate records CALLEE, no port to release', () =>
    given(B.answered)
      .when({ ...terminate(t(40)), data: { ...terminate(t(40)).data, by: 'CALLEE' } })
      .then([{ type: 'CallTerminated', data: { callId: CALL, cause: 'HANGUP', by: 'CALLEE', sipStatus: null, gatewayEventId: null, reason: null, talkSeconds: 30, gatewayId: null, port: null, at: t(40) } }]));
});

describe('agent console commands are the typed events DTMF produces', () => {
  it('push a page within the allowed origins → DtmfCommandRecognized accepted, source AGENT, with the table\'s sequence', () =>
    given(B.answered).when(command('PUSH_PAGE', 'https://shop.example/offers')).then([recognized({ sequence: '*76', argument: 'https://shop.example/offers' })]));
  it('a page the table does not name → sequence null', () =>
    given(B.answered).when(command('PUSH_PAGE', 'https://shop.example/size-guide')).then([recognized({ argument: 'https://shop.example/size-guide' })]));
  it('a page outside the allowed origins is refused and recorded, as with DTMF', () =>
    given(B.answered)
      .when(command('PUSH_PAGE', 'https://elsewhere.example/x'))
      .then([recognized({ argument: 'https://elsewhere.example/x', accepted: false, reason: "origin https://elsewhere.example is not among the merchant's allowed origins" })]));
  it('volume → accepted with the table\'s sequence', () => given(B.answered).when(command('VOLUME', '+20')).then([recognized({ action: 'VOLUME', argument: '+20', sequence: '*22' })]));
  it('open chat → accepted as #NN#, and the channel is open for chat', () => {
    given(B.answered).when(command('OPEN_CHANNEL', '07')).then([recognized({ action: 'OPEN_CHANNEL', argument: '07', sequence: '#07#' })]);
    const history = [...B.answered, recognized({ action: 'OPEN_CHANNEL', argument: '07', sequence: '#07#' })];
    given(history)
      .when({ type: 'SendChannelMessage', data: { callId: CALL, channelId: '07', from: 'AGENT', text: 'hello', at: t(31) } })
      .then([{ type: 'ChannelMessageSent', data: { callId: CALL, channelId: '07', from: 'AGENT', text: 'hello', at: t(31) } }]);
  });
  it('chat text with NUL, an escape or a lone surrogate → BAD_USER_INPUT; newlines and tabs are text (issue 20)', () => {
    const history = [...B.answered, recognized({ action: 'OPEN_CHANNEL', argument: '07', sequence: '#07#' })];
    const say = (text: string) => ({ type: 'SendChannelMessage' as const, data: { callId: CALL, channelId: '07', from: 'CALLER' as const, text, at: t(31) } });
    for (const bad of ['a\u0000b', '\u001b[2Jcleared', 'x\u007f', 'broken \uD800']) given(history).when(say(bad)).thenThrows('BAD_USER_INPUT');
    given(history).when(say('line one\n\tline two')).then([{ type: 'ChannelMessageSent', data: say('line one\n\tline two').data }]);
  });
  it('the same buttons work on a PSTN call the agent took on the phone', () =>
    given(P.answered).when(command('VOLUME', '-20', 'kZ')).then([recognized({ action: 'VOLUME', argument: '-20', agent: 'kZ' })]));
  for (const [action, argument] of [
    ['PUSH_PAGE', 'shop.example/x'],
    ['PUSH_PAGE', 'javascript:alert(1)'],
    ['PUSH_PAGE', null],
    ['VOLUME', '+200'],
    ['VOLUME', 'loud'],
    ['OPEN_CHANNEL', '7'],
    ['OPEN_CHANNEL', null],
  ] as const)
    it(`${action} "${argument}" → BAD_USER_INPUT`, () => given(B.answered).when(command(action, argument)).thenThrows('BAD_USER_INPUT', new RegExp(action)));
  it('an unknown action → BAD_USER_INPUT', () => given(B.answered).when(command('RING_BELL' as never, null)).thenThrows('BAD_USER_INPUT', /action/));
  it('refused once the call has ended (CONFLICT naming TERMINATED)', () => given(B.terminated).when(command('VOLUME', '+20')).thenThrows('CONFLICT', /TERMINATED/));
  it('refused before the answer (CONFLICT)', () => given(B.ringing).when(command('VOLUME', '+20')).thenThrows('CONFLICT', /RINGING/));
  it('on a browser call, only the agent who answered', () => given(B.answered).when(command('VOLUME', '+20', 'kB')).thenThrows('CONFLICT', /agent who holds/));
  it('after a transfer (holder kB on the command), the new agent gives them and the one who answered no longer does', () => {
    const handedTo = (agent: string): CallCommand => {
      const c = command('VOLUME', '+20', agent);
      return { ...c, data: { ...c.data, holder: 'kB' } } as CallCommand;
    };
    given(B.answered).when(handedTo('kB')).then([recognized({ action: 'VOLUME', argument: '+20', sequence: '*22', agent: 'kB' })]);
    given(B.answered).when(handedTo('kA')).thenThrows('CONFLICT', /agent who holds/);
  });
  it('sequenceFor: the first table key with that command, else #NN# for a channel, else null', () => {
    assert.equal(sequenceFor(TABLE, 'VOLUME', '+20'), '*22');
    assert.equal(sequenceFor(TABLE, 'VOLUME', '+10'), null);
    assert.equal(sequenceFor(TABLE, 'OPEN_CHANNEL', '12'), '#12#');
  });
});

describe('properties', () => {
  const table = { '*76': { action: 'PUSH_PAGE' as const, argument: 'https://shop.example/offers' }, '*7': { action: 'VOLUME' as const, argument: '+10' } };
  const arbStep = fc.oneof(
    fc.record({ kind: fc.constant('digits' as const), digits: fc.constantFrom('*', '7', '6', '#', '1', '*76', '#12#') }),
    fc.record({ kind: fc.constant('button' as const), action: fc.constantFrom('VOLUME' as const, 'OPEN_CHANNEL' as const), n: fc.integer({ min: 0, max: 9 }) }),
  );

  it('console buttons never change what the keyed digits are recognised as', () => {
    fc.assert(
      fc.property(fc.array(arbStep, { maxLength: 20 }), (steps) => {
        const run = (withButtons: boolean) => {
          let state = stateAfter(callDecider, P.answered);
          const out: CallEvent[] = [];
          const apply = (c: CallCommand) => {
            for (const e of callDecider.decide(c, state)) {
              state = callDecider.evolve(state, e);
              out.push(e);
            }
          };
          steps.forEach((s, i) => {
            const at = t(20 + i);
            if (s.kind === 'digits') {
              apply(dtmf(s.digits, `g-${i}`, at));
              apply({ type: 'RecognizeDtmf', data: { callId: CALL, table, allowedOrigins: ORIGINS, at } });
            } else if (withButtons) {
              apply({ type: 'IssueAgentCommand', data: { callId: CALL, agent: 'kA', action: s.action, argument: s.action === 'VOLUME' ? `+${s.n}` : `0${s.n}`, table, allowedOrigins: ORIGINS, at } });
            }
          });
          return out.filter((e) => e.type === 'DtmfCommandRecognized' && e.data.source === 'DTMF');
        };
        assert.deepEqual(run(true), run(false));
      }),
      { numRuns: 300 },
    );
  });

  it('on a browser call, whichever agents click in whatever order, exactly one answers and only that one commands', () => {
    const arbClick = fc.record({ agent: fc.constantFrom('kA', 'kB', 'kC'), what: fc.constantFrom('answer' as const, 'volume' as const) });
    fc.assert(
      fc.property(fc.array(arbClick, { minLength: 1, maxLength: 15 }), (clicks) => {
        let state = stateAfter(callDecider, B.ringing);
        const stored: CallEvent[] = [];
        clicks.forEach((c, i) => {
          const cmd = c.what === 'answer' ? agentAnswer(c.agent, t(10 + i)) : command('VOLUME', '+20', c.agent, t(10 + i));
          try {
            for (const e of callDecider.decide(cmd, state)) {
              state = callDecider.evolve(state, e);
              stored.push(e);
            }
          } catch (e) {
            assert.ok(e instanceof DomainError && e.code === 'CONFLICT', String(e));
          }
        });
        const answers = stored.filter((e): e is Extract<CallEvent, { type: 'CallAnswered' }> => e.type === 'CallAnswered');
        const firstAnswer = clicks.find((c) => c.what === 'answer');
        assert.equal(answers.length, firstAnswer ? 1 : 0);
        for (const e of stored) if (e.type === 'DtmfCommandRecognized') assert.equal(e.data.agent, answers[0]!.data.answeredBy);
      }),
      { numRuns: 300 },
    );
  });
});
