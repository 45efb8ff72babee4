import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold } from '../shared/decider';
import { DomainError } from '../shared/errors';
import { specFor, stateAfter } from '../shared/spec';
import { centersOnCall, holderOf, MAX_TRANSFERS_PER_CALL, transferDecider, transfersView, type Holder, type TransferCancelReason, type TransferCommand, type TransferEvent, type TransferFacts, type TransferLine, type TransferState } from './transfer';

const given = specFor(transferDecider);
const T0 = Date.parse('2026-12-07T09:00:00.000Z');
const t = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
// Merchant m-1: centers cc-1 and cc-2; agents ag-1 and ag-2 at cc-1, ag-3 at cc-2. The call was answered by ag-1 at cc-1.
const FACTS: TransferFacts = {
  call: { merchantId: 'm-1', status: 'ANSWERED', callCenterId: 'cc-1', answeredBy: 'ag-1' },
  callCenterIds: ['cc-1', 'cc-2'],
  agents: { 'ag-1': 'cc-1', 'ag-2': 'cc-1', 'ag-3': 'cc-2' },
};
const AG1: Holder = { callCenterId: 'cc-1', agent: 'ag-1' };

type To = Extract<TransferCommand, { type: 'StartTransfer' }>['data']['to'];
const blind = (callCenterId = 'cc-2'): To => ({ mode: 'BLIND', callCenterId });
const warm = (agent = 'ag-3'): To => ({ mode: 'WARM', agent });
const start = (to: To = blind(), over: { transferId?: string; agent?: string; facts?: Partial<TransferFacts>; call?: Partial<TransferFacts['call']>; seconds?: number } = {}): TransferCommand => ({
  type: 'StartTransfer',
  data: {
    callId: 'call-1',
    transferId: over.transferId ?? 'tr-1',
    agent: over.agent ?? 'ag-1',
    to,
    facts: { ...FACTS, ...over.facts, call: { ...FACTS.call, ...over.call } },
    at: t(over.seconds ?? 0),
  },
});
const started = (to: Holder = { callCenterId: 'cc-2', agent: null }, mode: 'BLIND' | 'WARM' = 'BLIND', transferId = 'tr-1', from: Holder = AG1): TransferEvent => ({
  type: 'TransferStarted',
  data: { callId: 'call-1', transferId, merchantId: 'm-1', mode, from, to, at: t(0) },
});
const complete = (transferId = 'tr-1', agent: string | null = 'ag-3'): TransferCommand => ({ type: 'CompleteTransfer', data: { callId: 'call-1', transferId, agent, at: t(30) } });
const completed = (to: Holder = { callCenterId: 'cc-2', agent: 'ag-3' }, mode: 'BLIND' | 'WARM' = 'BLIND', transferId = 'tr-1'): TransferEvent => ({
  type: 'TransferCompleted',
  data: { callId: 'call-1', transferId, mode, to, at: t(30) },
});
const cancel = (transferId = 'tr-1', reason: TransferCancelReason = 'AGENT_CANCELLED'): TransferCommand => ({
  type: 'CancelTransfer',
  data: { callId: 'call-1', transferId, reason, at: t(20) },
});
const cancelled = (transferId = 'tr-1'): TransferEvent => ({ type: 'TransferCancelled', data: { callId: 'call-1', transferId, reason: 'AGENT_CANCELLED', at: t(20) } });

describe('transfer: start', () => {
  it('blind, to another center of the merchant → TransferStarted (any agent there)', () => given([]).when(start()).then([started()]));
  it('warm, to a named colleague → TransferStarted to the colleague at their center', () =>
    given([]).when(start(warm())).then([started({ callCenterId: 'cc-2', agent: 'ag-3' }, 'WARM')]));
  it('warm, to a colleague of the same center', () => given([]).when(start(warm('ag-2'))).then([started({ callCenterId: 'cc-1', agent: 'ag-2' }, 'WARM')]));
  it('the same start again → []', () => given([started()]).when(start()).then([]));
  it("to another merchant's center → FORBIDDEN TRANSFER_OTHER_MERCHANT", () => given([]).when(start(blind('cc-9'))).then({ error: 'FORBIDDEN', reason: 'TRANSFER_OTHER_MERCHANT' }));
  it("to another merchant's agent → FORBIDDEN TRANSFER_OTHER_MERCHANT", () => given([]).when(start(warm('ag-9'))).then({ error: 'FORBIDDEN', reason: 'TRANSFER_OTHER_MERCHANT' }));
  it('an agent id that names an object property is no agent → FORBIDDEN', () => given([]).when(start(warm('toString'))).then({ error: 'FORBIDDEN', reason: 'TRANSFER_OTHER_MERCHANT' }));
  for (const status of ['DOWNLOADED', 'INITIATED', 'RINGING', 'TERMINATED'] as const)
    it(`a call ${status} → CONFLICT TRANSFER_CALL_NOT_ANSWERED`, () => given([]).when(start(blind(), { call: { status } })).then({ error: 'CONFLICT', reason: 'TRANSFER_CALL_NOT_ANSWERED' }));
  it('blind to the center that has it → BAD_USER_INPUT TRANSFER_SAME_CENTER', () => given([]).when(start(blind('cc-1'))).then({ error: 'BAD_USER_INPUT', reason: 'TRANSFER_SAME_CENTER' }));
  it('warm to oneself → BAD_USER_INPUT TRANSFER_TO_SELF', () => given([]).when(start(warm('ag-1'))).then({ error: 'BAD_USER_INPUT', reason: 'TRANSFER_TO_SELF' }));
  it('asked by an agent who does not have the call → CONFLICT TRANSFER_NOT_CALL_AGENT', () =>
    given([]).when(start(blind(), { agent: 'ag-2' })).then({ error: 'CONFLICT', reason: 'TRANSFER_NOT_CALL_AGENT' }));
  it('a PSTN call (answered on the phone, no agent key) → any agent may start it; the application checks the key\'s center', () =>
    given([]).when(start(blind(), { agent: 'ag-2', call: { answeredBy: null } })).then([started({ callCenterId: 'cc-2', agent: null }, 'BLIND', 'tr-1', { callCenterId: 'cc-1', agent: null })]));
  it('a second transfer while one is open → CONFLICT TRANSFER_IN_PROGRESS', () =>
    given([started()]).when(start(warm(), { transferId: 'tr-2' })).then({ error: 'CONFLICT', reason: 'TRANSFER_IN_PROGRESS' }));
  it('a transfer id already over → CONFLICT TRANSFER_CLOSED', () => given([started(), cancelled()]).when(start()).then({ error: 'CONFLICT', reason: 'TRANSFER_CLOSED' }));
  it('an unknown mode → BAD_USER_INPUT TRANSFER_INVALID', () => given([]).when(start({ mode: 'CONFERENCE' } as unknown as To)).then({ error: 'BAD_USER_INPUT', reason: 'TRANSFER_INVALID' }));
  it('a bad instant → BAD_USER_INPUT', () => given([]).when({ ...start(), data: { ...(start().data as object), at: 'now' } } as TransferCommand).thenThrows('BAD_USER_INPUT'));
});

describe('transfer: after a completed transfer, the new holder has the call', () => {
  const after = [started(), completed()];
  it('the first agent can no longer transfer it → CONFLICT TRANSFER_NOT_CALL_AGENT', () =>
    given(after).when(start(blind('cc-1'), { transferId: 'tr-2' })).then({ error: 'CONFLICT', reason: 'TRANSFER_NOT_CALL_AGENT' }));
  it('the new agent can, back to the first center', () =>
    given(after).when(start(blind('cc-1'), { transferId: 'tr-2', agent: 'ag-3' })).then([started({ callCenterId: 'cc-1', agent: null }, 'BLIND', 'tr-2', { callCenterId: 'cc-2', agent: 'ag-3' })]));
  it('blind to the center it is now at → TRANSFER_SAME_CENTER', () =>
    given(after).when(start(blind('cc-2'), { transferId: 'tr-2', agent: 'ag-3' })).then({ error: 'BAD_USER_INPUT', reason: 'TRANSFER_SAME_CENTER' }));
  it(`after ${MAX_TRANSFERS_PER_CALL} transfers → LIMIT_EXCEEDED TRANSFER_LIMIT`, () => {
    const history = Array.from({ length: MAX_TRANSFERS_PER_CALL }, (_, i) => [started(undefined, 'BLIND', `tr-${i}`), cancelled(`tr-${i}`)]).flat();
    given(history).when(start(blind(), { transferId: 'tr-x' })).then({ error: 'LIMIT_EXCEEDED', reason: 'TRANSFER_LIMIT' });
  });
  it('the holder is in the state', () => assert.deepEqual(stateAfter(transferDecider, after).holder, { callCenterId: 'cc-2', agent: 'ag-3' }));
});

describe('transfer: complete and cancel', () => {
  it('blind: complete → TransferCompleted with the agent who took it', () => given([started()]).when(complete()).then([completed()]));
  it('warm: complete → to the colleague (the agent on the command is ignored)', () =>
    given([started({ callCenterId: 'cc-2', agent: 'ag-3' }, 'WARM')]).when(complete('tr-1', null)).then([completed({ callCenterId: 'cc-2', agent: 'ag-3' }, 'WARM')]));
  it('complete again → []', () => given([started(), completed()]).when(complete()).then([]));
  it('complete a cancelled transfer → CONFLICT TRANSFER_CLOSED', () => given([started(), cancelled()]).when(complete()).then({ error: 'CONFLICT', reason: 'TRANSFER_CLOSED' }));
  it('complete an unknown transfer → NOT_FOUND TRANSFER_UNKNOWN', () => given([]).when(complete()).then({ error: 'NOT_FOUND', reason: 'TRANSFER_UNKNOWN' }));
  it('cancel → TransferCancelled; the call stays with its holder', () => given([started()]).when(cancel()).then([cancelled()]));
  it('cancel again → []', () => given([started(), cancelled()]).when(cancel()).then([]));
  it('cancel a completed transfer → CONFLICT TRANSFER_CLOSED', () => given([started(), completed()]).when(cancel()).then({ error: 'CONFLICT', reason: 'TRANSFER_CLOSED' }));
  it('cancel an unknown transfer → NOT_FOUND TRANSFER_UNKNOWN', () => given([started()]).when(cancel('tr-9')).then({ error: 'NOT_FOUND', reason: 'TRANSFER_UNKNOWN' }));
  it('an unknown reason → BAD_USER_INPUT', () => given([started()]).when(cancel('tr-1', 'BORED' as 'CALL_ENDED')).thenThrows('BAD_USER_INPUT'));
  it('merchantOf is the call\'s merchant', () => assert.equal(transferDecider.merchantOf?.(stateAfter(transferDecider, [started()])), 'm-1'));
});

// Issue 25: a blind transfer to a PSTN center (cc-2 here) dials its number as the call's second leg.
const LINE: TransferLine = { leg: 't1', destination: '+14155550100', gatewayId: 'gw-1', port: 3, ani: '+14155550003' };
const dial = (transferId = 'tr-1', over: Partial<TransferLine> = {}): TransferCommand => {
  const { leg: _leg, ...line } = { ...LINE, ...over };
  return { type: 'DialTransfer', data: { callId: 'call-1', transferId, ...line, at: t(1) } };
};
const dialled = (transferId = 'tr-1', line: TransferLine = LINE): TransferEvent => ({
  type: 'TransferDialled',
  data: { callId: 'call-1', transferId, merchantId: 'm-1', callCenterId: 'cc-2', line, at: t(1) },
});
const byPhone = (transferId = 'tr-1'): TransferEvent => completed({ callCenterId: 'cc-2', agent: null }, 'BLIND', transferId);

describe('transfer: blind to a PSTN center (its number dialled as a second leg of the call)', () => {
  it('dial an open blind transfer → TransferDialled with the line: leg t<n>, n the transfer\'s ordinal', () => given([started()]).when(dial()).then([dialled()]));
  it('the third transfer of the call dials leg t3', () =>
    given([started(), cancelled(), started(undefined, 'BLIND', 'tr-2'), cancelled('tr-2'), started(undefined, 'BLIND', 'tr-3')])
      .when(dial('tr-3'))
      .then([dialled('tr-3', { ...LINE, leg: 't3' })]));
  it('the same dial again → []', () => given([started(), dialled()]).when(dial()).then([]));
  it('a dial on another line → CONFLICT TRANSFER_DIALLED', () => given([started(), dialled()]).when(dial('tr-1', { port: 4 })).then({ error: 'CONFLICT', reason: 'TRANSFER_DIALLED' }));
  it('a warm transfer is not dialled → BAD_USER_INPUT TRANSFER_INVALID', () =>
    given([started({ callCenterId: 'cc-2', agent: 'ag-3' }, 'WARM')]).when(dial()).then({ error: 'BAD_USER_INPUT', reason: 'TRANSFER_INVALID' }));
  it('a cancelled transfer is not dialled → CONFLICT TRANSFER_CLOSED', () => given([started(), cancelled()]).when(dial()).then({ error: 'CONFLICT', reason: 'TRANSFER_CLOSED' }));
  it('an unknown transfer → NOT_FOUND TRANSFER_UNKNOWN', () => given([]).when(dial()).then({ error: 'NOT_FOUND', reason: 'TRANSFER_UNKNOWN' }));
  it('no port number → BAD_USER_INPUT', () => given([started()]).when(dial('tr-1', { port: -1 })).thenThrows('BAD_USER_INPUT'));
  it("the phone's answer completes it (agent null) → TransferCompleted to the center, no agent", () =>
    given([started(), dialled()]).when(complete('tr-1', null)).then([byPhone()]));
  it('a console cannot take a transfer dialled to a phone → FORBIDDEN TRANSFER_NOT_TARGET', () =>
    given([started(), dialled()]).when(complete('tr-1', 'ag-3')).then({ error: 'FORBIDDEN', reason: 'TRANSFER_NOT_TARGET' }));
  for (const reason of ['TARGET_BUSY', 'TARGET_NO_ANSWER', 'TARGET_FAILED', 'NO_PORT'] as const)
    it(`the leg fails → TransferCancelled ${reason}; the call stays with its holder, no line holds it`, () => {
      const failed: TransferEvent = { type: 'TransferCancelled', data: { callId: 'call-1', transferId: 'tr-1', reason, at: t(20) } };
      given([started(), dialled()]).when(cancel('tr-1', reason)).then([failed]);
      const s = stateAfter(transferDecider, [started(), dialled(), failed]);
      assert.deepEqual([s.holder, s.line, s.open], [null, null, null]);
    });
  it('answered: the phone line holds the call (state.line), the center is the holder, the first center is off it', () => {
    const s = stateAfter(transferDecider, [started(), dialled(), byPhone()]);
    assert.deepEqual([s.line, holderOf(s, AG1), centersOnCall(s, AG1)], [LINE, { callCenterId: 'cc-2', agent: null }, ['cc-2']]);
  });
  it('a call a phone holds: transferred on blind, from the phone (no agent), by whichever key the application let ask', () =>
    given([started(), dialled(), byPhone()])
      .when(start(blind('cc-1'), { transferId: 'tr-2', agent: 'crm-1' }))
      .then([started({ callCenterId: 'cc-1', agent: null }, 'BLIND', 'tr-2', { callCenterId: 'cc-2', agent: null })]));
  it('a call a phone holds is not consulted on (WARM) → CONFLICT TRANSFER_PSTN_UNSUPPORTED', () =>
    given([started(), dialled(), byPhone()]).when(start(warm('ag-2'), { transferId: 'tr-2', agent: 'crm-1' })).then({ error: 'CONFLICT', reason: 'TRANSFER_PSTN_UNSUPPORTED' }));
  it('the phone line holds the call until the next transfer completes; then the new holder\'s (none: a console)', () => {
    const handedOn = [started(), dialled(), byPhone(), started({ callCenterId: 'cc-1', agent: null }, 'BLIND', 'tr-2', { callCenterId: 'cc-2', agent: null })];
    assert.deepEqual(stateAfter(transferDecider, handedOn).line, LINE, 'while the next transfer is open');
    assert.equal(stateAfter(transferDecider, [...handedOn, completed({ callCenterId: 'cc-1', agent: 'ag-2' }, 'BLIND', 'tr-2')]).line, null);
    const t2: TransferLine = { ...LINE, leg: 't2', port: 4 };
    assert.deepEqual(stateAfter(transferDecider, [...handedOn, dialled('tr-2', t2), byPhone('tr-2')]).line, t2, 'to another phone: its line');
  });
  it('transfersView: the dial changes nothing shown; the answer completes it with no agent', () =>
    assert.deepEqual(
      fold(transfersView.evolve, transfersView.initialState, [started(), dialled(), byPhone()]).map((v) => [v.status, v.to]),
      [['COMPLETED', { callCenterId: 'cc-2', agent: null }]],
    ));
});

describe('transfer: properties', () => {
  const arbCommand: fc.Arbitrary<(s: TransferState) => TransferCommand> = fc.oneof(
    fc
      .record({ id: fc.constantFrom('tr-1', 'tr-2', 'tr-3', 'tr-4'), agent: fc.constantFrom('ag-1', 'ag-2', 'ag-3'), to: fc.oneof(fc.constantFrom('cc-1', 'cc-2', 'cc-9').map(blind), fc.constantFrom('ag-1', 'ag-2', 'ag-3', 'ag-9').map(warm)) })
      .map(({ id, agent, to }) => () => start(to, { transferId: id, agent })),
    fc.constantFrom('tr-1', 'tr-2', 'tr-3', 'tr-4').map((id) => (s: TransferState) => complete(id, s.open?.to.agent ?? 'ag-3')),
    fc.constantFrom('tr-1', 'tr-2', 'tr-3', 'tr-4').map((id) => () => cancel(id)),
    fc.constantFrom('tr-1', 'tr-2', 'tr-3', 'tr-4').map((id) => () => dial(id)),
    fc.constantFrom('tr-1', 'tr-2', 'tr-3', 'tr-4').map((id) => () => complete(id, null)),
  );
  it('whatever the commands: one transfer open at a time, each from the current holder to the merchant\'s own center, and the state is the fold of its events', () =>
    fc.assert(
      fc.property(fc.array(arbCommand, { maxLength: 40 }), (commands) => {
        let state = transferDecider.initialState;
        const events: TransferEvent[] = [];
        for (const make of commands) {
          let decided: TransferEvent[] = [];
          try {
            decided = transferDecider.decide(make(state), state);
          } catch (e) {
            if (!(e instanceof DomainError)) throw e;
          }
          for (const e of decided) {
            if (e.type === 'TransferStarted') {
              assert.equal(state.open, null, 'two transfers open');
              assert.deepEqual(e.data.from, state.holder ?? AG1, 'not from the holder');
              assert.ok(FACTS.callCenterIds.includes(e.data.to.callCenterId), `to ${e.data.to.callCenterId}`);
            }
            state = transferDecider.evolve(state, e);
            events.push(e);
          }
        }
        assert.deepStrictEqual(fold(transferDecider.evolve, transferDecider.initialState, events), state);
      }),
    ));
});

describe('transfer: who holds the call (holderOf, centersOnCall) and the list of transfers (transfersView)', () => {
  const state = (events: TransferEvent[]) => stateAfter(transferDecider, events);
  const list = (events: TransferEvent[]) => fold(transfersView.evolve, transfersView.initialState, events);
  it('given no transfer: the call\'s own center and agent hold it, and only that center is on the call', () => {
    assert.deepEqual(holderOf(state([]), AG1), AG1);
    assert.deepEqual(centersOnCall(state([]), AG1), ['cc-1']);
  });
  it('given an open blind transfer: the holder is unchanged, the target center is on the call too (offered)', () => {
    assert.deepEqual(holderOf(state([started()]), AG1), AG1);
    assert.deepEqual(centersOnCall(state([started()]), AG1), ['cc-1', 'cc-2']);
  });
  it('given a warm transfer to a colleague of the same center: that center once', () =>
    assert.deepEqual(centersOnCall(state([started({ callCenterId: 'cc-1', agent: 'ag-2' }, 'WARM')]), AG1), ['cc-1']));
  it('given a completed transfer: the new center and agent hold it, the first center is off the call', () => {
    assert.deepEqual(holderOf(state([started(), completed()]), AG1), { callCenterId: 'cc-2', agent: 'ag-3' });
    assert.deepEqual(centersOnCall(state([started(), completed()]), AG1), ['cc-2']);
  });
  it('given a cancelled transfer: back to the first holder alone', () => assert.deepEqual(centersOnCall(state([started(), cancelled()]), AG1), ['cc-1']));
  it('transfersView: each transfer once, with how it ended; a repeated start changes nothing', () => {
    const v = list([started(), started(), completed(), started({ callCenterId: 'cc-1', agent: null }, 'BLIND', 'tr-2', { callCenterId: 'cc-2', agent: 'ag-3' }), cancelled('tr-2')]);
    assert.deepEqual(
      v.map((x) => [x.transferId, x.status, x.to.agent, x.cancelReason, x.endedAt]),
      [
        ['tr-1', 'COMPLETED', 'ag-3', null, t(30)],
        ['tr-2', 'CANCELLED', null, 'AGENT_CANCELLED', t(20)],
      ],
    );
  });
});
