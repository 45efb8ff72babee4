import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../../adapters/eventstore/sqlite';
import { merchantDecider } from '../../domain/merchant/merchant';
import { apiKeyDecider } from '../../domain/merchant/api-key-decider';
import type { DidDestination } from '../../domain/did/did';
import { apiKeyStreamId, callStreamId, merchantStreamId } from '../../domain/shared/streams';
import type { InboundArrival } from '../../ports/media';
import { CommandHandler } from '../command-handler';
import { DidService } from '../did-service';
import { LiveState } from '../live-state';
import { randomIds } from '../ids';
import { Capacity } from './capacity';
import { CallReader } from './reader';
import { InboundCalls, type InboundOutcome } from './inbound';

const now = new Date('2026-11-23T14:00:00.000Z');
const clock = { now: () => now };
const at = now.toISOString();
const meta = { correlationId: 'c-1', causationId: null, merchantId: 'm1' };
const MAIN = '+33100000500';
const DIRECT = '+33100000501';

/**
 * InboundCalls on a real (SQLite) store: a merchant with a browser desk of `capacity` and a phone
 * center; a direct number to the desk and a main number whose menu leads to the desk (1), an agent
 * of it (42) and the phone center (7).
 */
const world = async (capacity = 1) => {
  const store = new SqliteEventStore(':memory:');
  const handler = new CommandHandler(store, randomIds);
  for (const command of [
    { type: 'CreateMerchant', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: null, allowedOrigins: null, at } },
    { type: 'AddCallCenter', data: { callCenterId: 'desk', name: 'Desk', phoneNumber: '+33100009000', timeZone: 'Europe/Paris', weeklyHours: null, capacity, region: 'eu-west', kind: 'BROWSER', at } },
    { type: 'AddCallCenter', data: { callCenterId: 'phone', name: 'Phone', phoneNumber: '+33100009001', timeZone: 'Europe/Paris', weeklyHours: null, capacity: 5, region: 'eu-west', kind: 'PSTN', at } },
  ] as const)
    await handler.handle(merchantDecider, merchantStreamId('m1'), command as never, meta);
  await handler.handle(apiKeyDecider, apiKeyStreamId('kA'), { type: 'IssueApiKey', data: { keyId: 'kA', keyHash: 'a'.repeat(64), role: 'AGENT', merchantId: 'm1', callCenterId: 'desk', at } }, meta);
  const dids = new DidService(handler, clock, []);
  await dids.assign('m1', DIRECT, { kind: 'CALL_CENTER', callCenterId: 'desk' }, 'c-1');
  const menu: DidDestination = {
    kind: 'MENU',
    entries: [
      { id: '1', destination: { kind: 'CALL_CENTER', callCenterId: 'desk' } },
      { id: '42', destination: { kind: 'AGENT', keyId: 'kA' } },
      { id: '7', destination: { kind: 'CALL_CENTER', callCenterId: 'phone' } },
    ],
  };
  await dids.assign('m1', MAIN, menu, 'c-1');
  const live = new LiveState(store);
  await live.start();
  const outcomes: InboundOutcome[] = [];
  const capacityOf = new Capacity(handler, live, clock, { aniQuarantineSeconds: 0 });
  const inbound = new InboundCalls(handler, new CallReader(handler), dids, capacityOf, clock, (o) => outcomes.push(o));
  let n = 0;
  const arrival = (did: string): InboundArrival => ({ callId: `in_${did}_${++n}`, did, caller: '+33612345678', sipCallId: `SCL_${n}` });
  const types = async (callId: string) => (await store.readStream(callStreamId(callId))).map((e) => e.type);
  const received = async (callId: string) => (await store.readStream(callStreamId(callId))).find((e) => e.type === 'InboundCallReceived')?.data as Record<string, unknown> | undefined;
  return { store, inbound, outcomes, arrival, types, received, close: async () => (await live.stop(), await store.close()) };
};

describe('InboundCalls: a phone call to a direct number', () => {
  it('rings the desk: InboundCallReceived + CallRinging; the same arrival again records nothing more', async () => {
    const w = await world();
    const a = w.arrival(DIRECT);
    assert.deepEqual(await w.inbound.arrived(a), { kind: 'RING' });
    assert.deepEqual(await w.inbound.arrived(a), { kind: 'RING' });
    assert.deepEqual(await w.types(a.callId), ['InboundCallReceived', 'CallRinging']);
    assert.deepEqual(w.outcomes, ['RINGING', 'REPEAT']);
    await w.close();
  });

  it('busy when the desk has no free slot: recorded BUSY 486, never ringing; the slot is held by the first call only', async () => {
    const w = await world(1);
    assert.deepEqual(await w.inbound.arrived(w.arrival(DIRECT)), { kind: 'RING' });
    const second = w.arrival(DIRECT);
    const decision = await w.inbound.arrived(second);
    assert.equal(decision.kind, 'REFUSE');
    assert.equal(decision.kind === 'REFUSE' && decision.sipStatus, 486);
    assert.deepEqual(await w.types(second.callId), ['InboundCallReceived', 'CallTerminated']);
    assert.deepEqual(w.outcomes, ['RINGING', 'BUSY']);
    await w.close();
  });

  it('a number nobody holds is refused and counted, and records nothing', async () => {
    const w = await world();
    const a = w.arrival('+33100000599');
    assert.equal((await w.inbound.arrived(a)).kind, 'REFUSE');
    assert.deepEqual(await w.types(a.callId), []);
    assert.deepEqual(w.outcomes, ['UNKNOWN_DID']);
    await w.close();
  });
});

describe("InboundCalls: the merchant's main number (a menu of IDs keyed on the phone)", () => {
  it('the arrival asks for the prompt (3 tries) and records nothing yet', async () => {
    const w = await world();
    const a = w.arrival(MAIN);
    assert.deepEqual(await w.inbound.arrived(a), { kind: 'MENU', triesLeft: 3 });
    assert.deepEqual(await w.types(a.callId), []);
    await w.close();
  });

  it('a wrong ID gets the prompt again; the right one rings its destination, with every try recorded', async () => {
    const w = await world();
    const a = w.arrival(MAIN);
    await w.inbound.arrived(a);
    assert.deepEqual(await w.inbound.keyed(a, ['9']), { kind: 'MENU', triesLeft: 2 });
    assert.deepEqual(await w.inbound.keyed(a, ['9', '42']), { kind: 'RING' });
    assert.deepEqual(await w.types(a.callId), ['InboundCallReceived', 'CallRinging']);
    const r = await w.received(a.callId);
    assert.deepEqual([r?.destination, r?.agent, r?.callCenterId, r?.keyed, r?.did], ['AGENT', 'kA', 'desk', ['9', '42'], MAIN]);
    assert.deepEqual(w.outcomes, ['MENU', 'MENU_RETRY', 'RINGING']);
    await w.close();
  });

  it('an ID of more than 12 digits is a wrong try; after 3 wrong tries the call ends, nothing recorded', async () => {
    const w = await world();
    const a = w.arrival(MAIN);
    await w.inbound.arrived(a);
    assert.deepEqual(await w.inbound.keyed(a, ['1234567890123']), { kind: 'MENU', triesLeft: 2 });
    assert.deepEqual(await w.inbound.keyed(a, ['1234567890123', '']), { kind: 'MENU', triesLeft: 1 });
    const last = await w.inbound.keyed(a, ['1234567890123', '', '5']);
    assert.equal(last.kind, 'REFUSE');
    assert.deepEqual(await w.types(a.callId), []);
    assert.deepEqual(w.outcomes, ['MENU', 'MENU_RETRY', 'MENU_RETRY', 'MENU_NO_MATCH']);
    await w.close();
  });

  it('an ID leading to a phone center (no consoles) is refused NO_ROUTE and recorded against it', async () => {
    const w = await world();
    const a = w.arrival(MAIN);
    await w.inbound.arrived(a);
    const d = await w.inbound.keyed(a, ['7']);
    assert.equal(d.kind, 'REFUSE');
    assert.deepEqual(await w.types(a.callId), ['InboundCallReceived', 'CallTerminated']);
    assert.deepEqual((await w.received(a.callId))?.keyed, ['7']);
    await w.close();
  });
});
