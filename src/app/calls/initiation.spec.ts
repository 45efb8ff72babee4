import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../../adapters/eventstore/sqlite';
import type { EventStore } from '../../ports/event-store';
import { ExternalMedia } from '../../media/external';
import { merchantDecider } from '../../domain/merchant/merchant';
import { gatewayDecider } from '../../domain/gateway/gateway';
import { callDecider } from '../../domain/call/call';
import { callStreamId, gatewayStreamId, merchantStreamId, portStreamId, slotStreamId } from '../../domain/shared/streams';
import { DomainError } from '../../domain/shared/errors';
import { CommandHandler } from '../command-handler';
import { LiveState } from '../live-state';
import { CallTokens } from '../call-token';
import { randomIds } from '../ids';
import { Capacity } from './capacity';
import { CallReader } from './reader';
import { CallDownloads } from './download';
import { CallInitiation } from './initiation';

const now = new Date('2026-11-23T14:00:00.000Z');
const clock = { now: () => now };
const at = now.toISOString();
const meta = { correlationId: 'c-1', causationId: null, merchantId: 'm1' };

/** A merchant (limit 5) with one always-open PSTN center (capacity 2) in eu-west, a link to it, and `ports` gateway ports there. */
const world = async (ports: number, wrap: (h: CommandHandler, store: EventStore) => CommandHandler = (h) => h) => {
  const store = new SqliteEventStore(':memory:');
  const handler = wrap(new CommandHandler(store, randomIds), store);
  const m = merchantStreamId('m1');
  for (const command of [
    { type: 'CreateMerchant', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: 5, allowedOrigins: ['https://shop.example'], at } },
    { type: 'AddCallCenter', data: { callCenterId: 'ber', name: 'Berlin', phoneNumber: '+493055501000', timeZone: 'Europe/Berlin', weeklyHours: null, capacity: 2, region: 'eu-west', kind: 'PSTN', at } },
    { type: 'CreateLink', data: { linkId: 'l1', label: 'Call us', callCenterIds: ['ber'], at } },
  ] as const)
    await handler.handle(merchantDecider, m, command as never, meta);
  if (ports > 0)
    await handler.handle(gatewayDecider, gatewayStreamId('gw'), { type: 'CreateGateway', data: { gatewayId: 'gw', name: 'EU', region: 'eu-west', ports: Array.from({ length: ports }, (_, i) => ({ number: i + 1, ani: `+49305550900${i}` })), at } }, meta);
  const live = new LiveState(store);
  await live.start();
  const reader = new CallReader(handler);
  const media = new ExternalMedia();
  const tokens = new CallTokens(Buffer.alloc(32, 7), 600);
  const capacity = new Capacity(handler, live, clock, { aniQuarantineSeconds: 0 });
  const downloads = new CallDownloads(handler, reader, media, tokens, clock, randomIds, { maxContextBytes: 8192 });
  const initiation = new CallInitiation(handler, reader, capacity, media, tokens, clock, { ringingTimeoutSeconds: 30, maxCallDurationSeconds: 3600 });
  const download = () => downloads.record({ merchantId: 'm1', linkId: 'l1', pageUrl: 'https://shop.example/p', referrer: null, customerId: null, sessionId: null, callerRegion: null, context: null }, 'c-1');
  return { store, handler, live, download, initiation, close: async () => (await live.stop(), await store.close()) };
};

const typesOf = async (store: EventStore, stream: string) => (await store.readStream(stream)).map((e) => e.type);
const refusedWith = (code: string) => (e: unknown) => e instanceof DomainError && e.code === code;

describe('CallInitiation: route → slots → port → initiate, and what a failed step gives back', () => {
  it('placed: the merchant’s and the center’s slots and a port are held, the call INITIATED', async () => {
    const w = await world(1);
    const { callId, callToken } = await w.download();
    const call = await w.initiation.initiate(callToken, 'c-1');
    assert.equal(call.state, 'INITIATED');
    assert.deepEqual(await typesOf(w.store, slotStreamId('merchant', 'm1', 1)), ['SlotTaken']);
    assert.deepEqual(await typesOf(w.store, slotStreamId('center', 'ber', 1)), ['SlotTaken']);
    assert.deepEqual(await typesOf(w.store, portStreamId('gw', 1)), ['PortSeized']);
    assert.equal((await w.handler.load(callDecider, callStreamId(callId))).state.status, 'Initiated');
    await w.close();
  });

  it('no free port: NO_PORT, the call terminated with that cause, both slots freed', async () => {
    const w = await world(0);
    const { callId, callToken } = await w.download();
    await assert.rejects(w.initiation.initiate(callToken, 'c-1'), refusedWith('NO_PORT'));
    const { state } = await w.handler.load(callDecider, callStreamId(callId));
    assert.equal(state.status === 'Terminated' && state.cause, 'NO_PORT');
    assert.deepEqual(await typesOf(w.store, slotStreamId('merchant', 'm1', 1)), ['SlotTaken', 'SlotFreed']);
    assert.deepEqual(await typesOf(w.store, slotStreamId('center', 'ber', 1)), ['SlotTaken', 'SlotFreed']);
    await w.close();
  });

  it('the call ended before InitiateCall was stored (abandoned meanwhile): the port released, both slots freed', async () => {
    // Another process ends the call just before this one records the initiation.
    const w = await world(1, (h, store) => {
      const other = new CommandHandler(store, randomIds);
      const handle = h.handle.bind(h);
      h.handle = (async (decider: never, streamId: string, command: { type: string; data: { callId: string } }, m: typeof meta) => {
        if (command.type === 'InitiateCall')
          await other.handle(callDecider, streamId, { type: 'TerminateCall', data: { callId: command.data.callId, cause: 'ABANDONED', by: 'SYSTEM', sipStatus: null, gatewayEventId: null, at } }, m);
        return handle(decider, streamId, command as never, m);
      }) as CommandHandler['handle'];
      return h;
    });
    const { callToken } = await w.download();
    await assert.rejects(w.initiation.initiate(callToken, 'c-1'), refusedWith('CONFLICT'));
    assert.deepEqual(await typesOf(w.store, portStreamId('gw', 1)), ['PortSeized', 'PortReleased']);
    assert.deepEqual(await typesOf(w.store, slotStreamId('merchant', 'm1', 1)), ['SlotTaken', 'SlotFreed']);
    assert.deepEqual(await typesOf(w.store, slotStreamId('center', 'ber', 1)), ['SlotTaken', 'SlotFreed']);
    await w.close();
  });
});
