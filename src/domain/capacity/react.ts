/**
 * What a call's end does to the capacity it held, as one pure reaction (a process manager's step,
 * fmodel's Saga): `react(CallTerminated, holdings) → commands`. Every slot the ended call holds is
 * freed and every port it seized is released with the ANI quarantine; a holding of another call is
 * never touched. Who runs the commands (the command handler, with retries and idempotency) and where
 * the holdings come from (the live index, and what this process took) is the application's business.
 *
 * The commands are idempotent by their deciders: freeing a slot or releasing a port the call no
 * longer holds decides [] (src/domain/capacity/slot.ts, src/domain/gateway/gateway.ts).
 */
import type { CallTerminated } from '../call/events';
import type { ReleasePort } from '../gateway/events';
import { portStreamId, slotStreamId } from '../shared/streams';
import type { FreeSlot, SlotScope } from './slot';

/** A capacity slot held by a call. */
export interface SlotHolding {
  scope: SlotScope;
  ownerId: string;
  slot: number;
  callId: string;
}

/** A gateway port seized by a call. */
export interface PortHolding {
  gatewayId: string;
  port: number;
  callId: string;
}

/** What calls hold, as far as the caller knows (it may list other calls' holdings too). */
export interface Holdings {
  slots: readonly SlotHolding[];
  ports: readonly PortHolding[];
}

/** A command and the stream it goes to: a slot's (FreeSlot) or a port's (ReleasePort). */
export type ReleaseCommand = { streamId: string; command: FreeSlot } | { streamId: string; command: ReleasePort };

export interface ReleaseContext {
  /** When the release happens (ISO instant): the port's quarantine runs from it. */
  at: string;
  /** How long a released port's caller ID is not handed out again. */
  quarantineSeconds: number;
}

/**
 * The commands that give back what the call holds: its slots first, then its ports, each once
 * (a holding listed twice is released once), in the order given.
 */
export const releasesOf = (callId: string, holdings: Holdings, { at, quarantineSeconds }: ReleaseContext): ReleaseCommand[] => {
  const commands = new Map<string, ReleaseCommand>();
  for (const { scope, ownerId, slot, callId: holder } of holdings.slots) {
    if (holder !== callId) continue;
    const streamId = slotStreamId(scope, ownerId, slot);
    if (!commands.has(streamId)) commands.set(streamId, { streamId, command: { type: 'FreeSlot', data: { scope, ownerId, slot, callId, at } } });
  }
  for (const { gatewayId, port, callId: holder } of holdings.ports) {
    if (holder !== callId) continue;
    const streamId = portStreamId(gatewayId, port);
    if (!commands.has(streamId)) commands.set(streamId, { streamId, command: { type: 'ReleasePort', data: { gatewayId, port, callId, quarantineSeconds, at } } });
  }
  return [...commands.values()];
};

/** A call ended: give back everything it holds. */
export const react = (event: Pick<CallTerminated, 'type' | 'data'>, holdings: Holdings, context: ReleaseContext): ReleaseCommand[] =>
  releasesOf(event.data.callId, holdings, context);
