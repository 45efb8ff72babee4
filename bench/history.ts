import { randomUUID } from 'node:crypto';
import { callDecider } from '../src/domain/call/call';
import type { CallCommand } from '../src/domain/call/commands';
import { portDecider } from '../src/domain/gateway/gateway';
import type { PortCommand } from '../src/domain/gateway/events';
import { slotDecider, type SlotCommand } from '../src/domain/capacity/slot';
import type { Decider } from '../src/domain/shared/decider';
import { CURRENT_SCHEMA_VERSION, type WebdialEventType } from '../src/domain/events';
import type { RatePlan } from '../src/domain/rating/rate-plan';
import { callStreamId, portStreamId, slotStreamId } from '../src/domain/shared/streams';
import type { EventStore, NewEvent } from '../src/ports/event-store';
import { uuidv7 } from '../src/app/ids';

/** What the history is seeded onto: ids the running server created through the API. */
export interface HistoryTarget {
  merchantId: string;
  linkId: string;
  callCenterId: string;
  destination: string;
  gatewayId: string;
  port: number;
  ani: string;
  ratePlan: RatePlan;
}

const newEvent = (e: { type: string; data: unknown }, merchantId: string | null): NewEvent => ({
  eventId: uuidv7(),
  type: e.type,
  data: e.data,
  occurredAt: (e.data as { at: string }).at,
  merchantId,
  correlationId: 'history-seed',
  causationId: null,
  schemaVersion: CURRENT_SCHEMA_VERSION[e.type as WebdialEventType] ?? 1,
});

/** Runs commands through a decider, purely: the events they decide, and the state after them. */
const run = <S, C, E extends { type: string; data: unknown }>(d: Decider<S, C, E>, state: S, commands: C[]): { state: S; events: E[] } => {
  const events: E[] = [];
  for (const c of commands) {
    const decided = d.decide(c, state);
    for (const e of decided) state = d.evolve(state, e);
    events.push(...decided);
  }
  return { state, events };
};

/**
 * Seeds `calls` completed calls onto one merchant, call center and gateway port — the worst case
 * for a store folded from the start: the center's slot 1 and the port's stream each gain two events
 * per call (200,000 events for 100,000 calls). Events are decided by the real deciders (so they are
 * exactly what the server would store) and written with bulk appends: each call's five events in
 * one append, the slot's and the port's in appends of a thousand, many appends at once so that the
 * store commits them in groups. The slot and port streams then get the snapshot the command
 * handler would have written along the way. `onProgress` is told the calls written so far.
 */
export const seedHistory = async (store: EventStore, t: HistoryTarget, calls: number, onProgress: (done: number) => void = () => undefined) => {
  const start = Date.parse('2026-01-01T00:00:00.000Z');
  const slotStream = slotStreamId('center', t.callCenterId, 1);
  const portStream = portStreamId(t.gatewayId, t.port);
  let slotState = slotDecider.initialState;
  let portState = portDecider.initialState;
  let slotVersion = (await store.readStream(slotStream)).length;
  let portVersion = (await store.readStream(portStream)).length;
  const CHUNK = 1000;
  for (let from = 0; from < calls; from += CHUNK) {
    const n = Math.min(CHUNK, calls - from);
    const slotEvents: NewEvent[] = [];
    const portEvents: NewEvent[] = [];
    const callAppends: Array<Promise<unknown>> = [];
    for (let i = from; i < from + n; i++) {
      const callId = `c_hist${String(i).padStart(7, '0')}`;
      const at = (s: number) => new Date(start + i * 60_000 + s * 1000).toISOString();
      const slot = run(slotDecider, slotState, [
        { type: 'TakeSlot', data: { scope: 'center', ownerId: t.callCenterId, slot: 1, callId, at: at(1) } },
        { type: 'FreeSlot', data: { scope: 'center', ownerId: t.callCenterId, slot: 1, callId, at: at(40) } },
      ] as SlotCommand[]);
      slotState = slot.state;
      slotEvents.push(...slot.events.map((e) => newEvent(e, t.merchantId)));
      const port = run(portDecider, portState, [
        { type: 'SeizePort', data: { gatewayId: t.gatewayId, port: t.port, ani: t.ani, callId, merchantId: t.merchantId, at: at(1) } },
        { type: 'ReleasePort', data: { gatewayId: t.gatewayId, port: t.port, callId, quarantineSeconds: 0, at: at(40) } },
      ] as PortCommand[]);
      portState = port.state;
      portEvents.push(...port.events.map((e) => newEvent(e, null)));
      const call = run(callDecider, callDecider.initialState, [
        { type: 'RecordDownload', data: { callId, merchantId: t.merchantId, linkId: t.linkId, customerId: `cust-${i % 5000}`, sessionId: null, pageUrl: 'https://shop.example/p/1', referrer: null, context: { cart: ['sku-1'] }, callerRegion: null, at: at(0) } },
        {
          type: 'InitiateCall',
          data: {
            callId,
            callCenterId: t.callCenterId,
            media: 'PSTN',
            destination: t.destination,
            gatewayId: t.gatewayId,
            port: t.port,
            ani: t.ani,
            routing: { rule: 'FIRST_OPEN', requestedCallCenterId: t.callCenterId, reason: 'open' },
            ratePlan: t.ratePlan,
            at: at(1),
          },
        },
        { type: 'ReportRinging', data: { callId, gatewayEventId: `r-${i}`, at: at(3) } },
        { type: 'AnswerCall', data: { callId, gatewayEventId: `a-${i}`, answeredBy: null, at: at(8) } },
        { type: 'TerminateCall', data: { callId, cause: 'HANGUP', by: 'CALLEE', sipStatus: 200, gatewayEventId: `t-${i}`, at: at(40) } },
      ] as unknown as CallCommand[]);
      callAppends.push(store.append(callStreamId(callId), call.events.map((e) => newEvent(e, t.merchantId)), 0));
    }
    await Promise.all([
      ...callAppends,
      store.append(slotStream, slotEvents, slotVersion),
      store.append(portStream, portEvents, portVersion),
    ]);
    slotVersion += slotEvents.length;
    portVersion += portEvents.length;
    onProgress(from + n);
  }
  await store.writeSnapshot(slotStream, slotDecider.name, { version: slotVersion, state: slotState });
  await store.writeSnapshot(portStream, portDecider.name, { version: portVersion, state: portState });
  return { calls, events: calls * 9, slotStreamEvents: slotVersion, portStreamEvents: portVersion, seedId: randomUUID() };
};
