/**
 * Capacity slots: the consistency boundary for "at most N live calls" — a merchant's concurrent-call
 * limit and a call center's capacity. A limit of N is N streams (`slot-<scope>_<k>`, k = 1..N), each
 * held by at most one call. Taking a slot appends with the version just read, so two processes racing
 * for the last slot cannot both win: the loser gets a version conflict, re-reads, finds it held, and
 * tries the next. A count read from a projection could be stale; a held slot cannot be.
 *
 *   Free ──TakeSlot(call)──► Held(call) ──FreeSlot(call)──► Free
 *
 * Taking a slot the same call holds, or freeing one it does not hold, decides [] (retries, races).
 */
import type { Decider } from '../shared/decider';
import { unreachable } from '../shared/decider';
import type { DomainEvent } from '../shared/decider';
import { DomainError } from '../shared/errors';

/** 'merchant' slots enforce maxConcurrentCalls; 'center' slots a call center's capacity. */
export type SlotScope = 'merchant' | 'center';

export type SlotTaken = DomainEvent<'SlotTaken', { scope: SlotScope; ownerId: string; slot: number; callId: string; at: string }>;
export type SlotFreed = DomainEvent<'SlotFreed', { scope: SlotScope; ownerId: string; slot: number; callId: string; at: string }>;
export type SlotEvent = SlotTaken | SlotFreed;

export type TakeSlot = { type: 'TakeSlot'; data: SlotTaken['data'] };
export type FreeSlot = { type: 'FreeSlot'; data: SlotFreed['data'] };
export type SlotCommand = TakeSlot | FreeSlot;

export type SlotState = { status: 'Free' } | { status: 'Held'; callId: string };

/** The slot is taken by another call: try the next one. */
export const SLOT_TAKEN = 'slot taken';

const decide = (command: SlotCommand, state: SlotState): SlotEvent[] => {
  switch (command.type) {
    case 'TakeSlot':
      if (state.status === 'Held' && state.callId === command.data.callId) return [];
      if (state.status === 'Held') throw new DomainError('CONFLICT', SLOT_TAKEN, { slot: command.data.slot });
      return [{ type: 'SlotTaken', data: { ...command.data } }];
    case 'FreeSlot':
      if (state.status !== 'Held' || state.callId !== command.data.callId) return [];
      return [{ type: 'SlotFreed', data: { ...command.data } }];
    default:
      return unreachable(command);
  }
};

const evolve = (state: SlotState, event: SlotEvent): SlotState => {
  switch (event.type) {
    case 'SlotTaken':
      return { status: 'Held', callId: event.data.callId };
    case 'SlotFreed':
      return state.status === 'Held' && state.callId === event.data.callId ? { status: 'Free' } : state;
    default:
      return unreachable(event);
  }
};

export const slotDecider: Decider<SlotState, SlotCommand, SlotEvent> = { name: 'slot@1', decide, evolve, initialState: { status: 'Free' } };
