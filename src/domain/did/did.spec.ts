import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { specFor, stateAfter } from '../shared/spec';
import { DomainError } from '../shared/errors';
import { didDecider, menuChoice, type DidCommand, type DidDestination, type DidEvent, type DidFacts } from './did';

const given = specFor(didDecider);
const AT = '2026-12-06T23:00:00.000Z';
const N = '+33100000201';
const facts: DidFacts = { callCenterIds: ['cc-1', 'cc-2'], linkIds: ['l-1'], agentKeyIds: ['k-1'], blocks: [] };
const toCenter: DidDestination = { kind: 'CALL_CENTER', callCenterId: 'cc-1' };
const assign = (over: Partial<Extract<DidCommand, { type: 'AssignDid' }>['data']> = {}): DidCommand => ({
  type: 'AssignDid',
  data: { number: N, merchantId: 'm-1', destination: toCenter, facts, at: AT, ...over },
});
const release = (merchantId = 'm-1', number = N): DidCommand => ({ type: 'ReleaseDid', data: { number, merchantId, at: AT } });
const assigned = (merchantId = 'm-1', destination: DidDestination = toCenter, number = N): DidEvent => ({ type: 'DidAssigned', data: { number, merchantId, destination, at: AT } });
const released = (merchantId = 'm-1'): DidEvent => ({ type: 'DidReleased', data: { number: N, merchantId, at: AT } });

const reasonOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof DomainError) return `${e.code}/${String(e.details.reason ?? '')}`;
    throw e;
  }
  return undefined;
};

describe('virtual numbers (DIDs): assign', () => {
  it('a free number → DidAssigned', () => given([]).when(assign()).then([assigned()]));
  for (const destination of [{ kind: 'AGENT', keyId: 'k-1' }, { kind: 'LINK', linkId: 'l-1' }] as DidDestination[])
    it(`to ${destination.kind}`, () => given([]).when(assign({ destination })).then([assigned('m-1', destination)]));
  it('the same assignment again → [] (a retry changes nothing)', () => given([assigned()]).when(assign()).then([]));
  it('the owner moves it to another destination', () =>
    given([assigned()]).when(assign({ destination: { kind: 'CALL_CENTER', callCenterId: 'cc-2' } })).then([assigned('m-1', { kind: 'CALL_CENTER', callCenterId: 'cc-2' })]));
  it('taken by another merchant → CONFLICT DID_TAKEN', () => {
    given([assigned('m-2')]).when(assign()).thenThrows('CONFLICT', /another merchant/);
    assert.equal(reasonOf(() => didDecider.decide(assign(), stateAfter(didDecider, [assigned('m-2')]))), 'CONFLICT/DID_TAKEN');
  });
  it('released by its owner, another merchant may take it', () => given([assigned('m-2'), released('m-2')]).when(assign()).then([assigned()]));
  for (const bad of ['33100000201', '+0331000', '+1234567890123456', '+33 1 00 00 02 01', '', '+', '+33abc'])
    it(`malformed "${bad}" → BAD_USER_INPUT DID_MALFORMED`, () => assert.equal(reasonOf(() => didDecider.decide(assign({ number: bad }), { status: 'Free', number: null })), 'BAD_USER_INPUT/DID_MALFORMED'));
  it('outside the deployment blocks → BAD_USER_INPUT DID_NOT_OURS', () =>
    assert.equal(reasonOf(() => didDecider.decide(assign({ facts: { ...facts, blocks: ['+3319'] } }), { status: 'Free', number: null })), 'BAD_USER_INPUT/DID_NOT_OURS'));
  it('inside a block → assigned', () => given([]).when(assign({ facts: { ...facts, blocks: ['+4420', '+331000002'] } })).then([assigned()]));
  for (const destination of [{ kind: 'CALL_CENTER', callCenterId: 'cc-x' }, { kind: 'AGENT', keyId: 'k-x' }, { kind: 'LINK', linkId: 'l-x' }] as DidDestination[])
    it(`a ${destination.kind} the merchant does not have → NOT_FOUND`, () => given([]).when(assign({ destination })).thenThrows('NOT_FOUND'));
});

describe('virtual numbers (DIDs): release', () => {
  it('the owner releases → DidReleased', () => given([assigned()]).when(release()).then([released()]));
  it('another merchant cannot → NOT_FOUND DID_NOT_ASSIGNED', () => given([assigned('m-2')]).when(release()).thenThrows('NOT_FOUND'));
  it('a free number → NOT_FOUND', () => given([]).when(release()).thenThrows('NOT_FOUND'));
  it('evolve: released is free', () => assert.equal(stateAfter(didDecider, [assigned(), released()]).status, 'Free'));
});

describe('virtual numbers (DIDs): properties', () => {
  const merchants = fc.constantFrom('m-1', 'm-2', 'm-3');
  const command = fc.oneof(
    fc.record({ m: merchants, cc: fc.constantFrom('cc-1', 'cc-2') }).map(({ m, cc }) => assign({ merchantId: m, destination: { kind: 'CALL_CENTER', callCenterId: cc } })),
    merchants.map((m) => release(m)),
    fc.string({ maxLength: 20 }).map((number) => assign({ number })),
  );
  it('whatever the commands, a number has at most one merchant, only its owner changes it, and a refused command decides nothing', () =>
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), (commands) => {
        let state = didDecider.initialState;
        for (const c of commands) {
          let events: DidEvent[] = [];
          try {
            events = didDecider.decide(c, state);
          } catch (e) {
            if (!(e instanceof DomainError)) throw e;
            continue; // refused: no events, the state stays
          }
          const before = state;
          for (const e of events) state = didDecider.evolve(state, e);
          if (before.status === 'Assigned' && events.length > 0) assert.equal(c.data.merchantId, before.merchantId, 'only the owner changes an assigned number');
          if (state.status === 'Assigned') assert.match(state.number, /^\+[1-9]\d{1,14}$/);
        }
      }),
    ));
});

describe("virtual numbers (DIDs): a merchant's main number (MENU)", () => {
  const menu = (entries: Array<{ id: string; destination: Exclude<DidDestination, { kind: 'MENU' }> }>): DidDestination => ({ kind: 'MENU', entries });
  const ok = menu([
    { id: '1', destination: toCenter },
    { id: '42', destination: { kind: 'AGENT', keyId: 'k-1' } },
    { id: '123456789012', destination: { kind: 'LINK', linkId: 'l-1' } },
  ]);
  it('a menu of IDs (1 to 12 digits) leading to centers, agents or links → DidAssigned with it', () => given([]).when(assign({ destination: ok })).then([assigned('m-1', ok)]));

  it('bad menus get a clear reason and change nothing', () => {
    const decide = (destination: DidDestination) => () => didDecider.decide(assign({ destination }) as never, didDecider.initialState);
    assert.equal(reasonOf(decide(menu([{ id: '1234567890123', destination: toCenter }]))), 'BAD_USER_INPUT/ID_TOO_LONG');
    assert.equal(reasonOf(decide(menu([{ id: '4a', destination: toCenter }]))), 'BAD_USER_INPUT/ID_MALFORMED');
    assert.equal(reasonOf(decide(menu([{ id: '', destination: toCenter }]))), 'BAD_USER_INPUT/ID_MALFORMED');
    assert.equal(reasonOf(decide(menu([{ id: '1', destination: toCenter }, { id: '1', destination: toCenter }]))), 'BAD_USER_INPUT/ID_MALFORMED');
    assert.equal(reasonOf(decide(menu([]))), 'BAD_USER_INPUT/MENU_EMPTY');
    assert.equal(reasonOf(decide(menu(Array.from({ length: 101 }, (_, i) => ({ id: String(i), destination: toCenter }))))), 'BAD_USER_INPUT/MENU_TOO_LONG');
    assert.equal(reasonOf(decide(menu([{ id: '1', destination: { kind: 'AGENT', keyId: 'k-gone' } }]))), 'NOT_FOUND/');
    assert.equal(reasonOf(decide({ kind: 'MENU', entries: [{ id: '1', destination: ok as never }] })), 'BAD_USER_INPUT/');
  });

  it('menuChoice: the entry keyed, or why not (more than 12 digits, no such ID, nothing keyed)', () => {
    if (ok.kind !== 'MENU') return;
    assert.deepEqual(menuChoice(ok.entries, '42'), { ok: true, entry: ok.entries[1] });
    assert.deepEqual(menuChoice(ok.entries, '123456789012'), { ok: true, entry: ok.entries[2] });
    assert.deepEqual(menuChoice(ok.entries, '1234567890123'), { ok: false, reason: 'ID_TOO_LONG' });
    assert.deepEqual(menuChoice(ok.entries, '9'), { ok: false, reason: 'NO_SUCH_ID' });
    assert.deepEqual(menuChoice(ok.entries, ''), { ok: false, reason: 'NO_SUCH_ID' });
  });
});
