/**
 * A virtual number (DID): one stream per number (`did-<E.164>`), so that a number is unique across
 * merchants by construction: two merchants assigning the same number write to the same stream, and
 * the second append (expected version) re-decides on the first's event and is refused DID_TAKEN.
 *
 * An admin or the owning merchant assigns the number to a destination: a call center, one AGENT key
 * (a person), or a link's routing. The facts the decision needs from other streams (the merchant's
 * centers, links and agent keys; the deployment's number blocks) arrive on the command: pure.
 *
 * Stable codes, in `extensions.reason` beside `extensions.code`:
 *   DID_MALFORMED (BAD_USER_INPUT): not E.164;
 *   DID_NOT_OURS (BAD_USER_INPUT): outside the deployment's blocks of numbers (a foreign DID);
 *   DID_TAKEN (CONFLICT): assigned to another merchant;
 *   DID_NOT_ASSIGNED (NOT_FOUND): releasing a number this merchant does not hold.
 */
import type { Decider, DomainEvent } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, DomainError } from '../shared/errors';
import { E164 } from '../shared/validation';

export type DidDestination =
  | { kind: 'CALL_CENTER'; callCenterId: string }
  | { kind: 'AGENT'; keyId: string }
  | { kind: 'LINK'; linkId: string };

export type DidAssigned = DomainEvent<'DidAssigned', { number: string; merchantId: string; destination: DidDestination; at: string }>;
export type DidReleased = DomainEvent<'DidReleased', { number: string; merchantId: string; at: string }>;
export type DidEvent = DidAssigned | DidReleased;

/** What the merchant has, for the destination check (gathered by the application from its streams). */
export interface DidFacts {
  callCenterIds: readonly string[];
  linkIds: readonly string[];
  /** The merchant's live AGENT keys. */
  agentKeyIds: readonly string[];
  /** The deployment's number blocks as E.164 prefixes (`+3310000`); empty: any E.164 number. */
  blocks: readonly string[];
}

export type AssignDid = { type: 'AssignDid'; data: { number: string; merchantId: string; destination: DidDestination; facts: DidFacts; at: string } };
export type ReleaseDid = { type: 'ReleaseDid'; data: { number: string; merchantId: string; at: string } };
export type DidCommand = AssignDid | ReleaseDid;

export type DidState =
  | { status: 'Free'; number: string | null }
  | { status: 'Assigned'; number: string; merchantId: string; destination: DidDestination; assignedAt: string };

export const initialDidState: DidState = { status: 'Free', number: null };

/** The longest number accepted before any parsing (the API bounds it too). */
export const DID_MAX_LENGTH = 16;

export const assertDid = (number: unknown, blocks: readonly string[] = []): string => {
  if (typeof number !== 'string' || number.length > DID_MAX_LENGTH || !E164.test(number))
    throw badInput(`number must be an E.164 number like +33100000101, got "${String(number).slice(0, 40)}"`, { field: 'number', reason: 'DID_MALFORMED' });
  if (blocks.length > 0 && !blocks.some((b) => number.startsWith(b)))
    throw badInput(`number ${number} is not in this deployment's blocks of numbers (${blocks.join(', ')})`, { field: 'number', reason: 'DID_NOT_OURS' });
  return number;
};

const assertDestination = (d: DidDestination, facts: DidFacts): void => {
  if (typeof d !== 'object' || d === null) throw badInput('destination is required', { field: 'destination' });
  switch (d.kind) {
    case 'CALL_CENTER':
      if (!facts.callCenterIds.includes(d.callCenterId)) throw new DomainError('NOT_FOUND', `call center ${d.callCenterId} not found`, { id: d.callCenterId, field: 'callCenterId' });
      return;
    case 'LINK':
      if (!facts.linkIds.includes(d.linkId)) throw new DomainError('NOT_FOUND', `link ${d.linkId} not found`, { id: d.linkId, field: 'linkId' });
      return;
    case 'AGENT':
      if (!facts.agentKeyIds.includes(d.keyId)) throw new DomainError('NOT_FOUND', `agent key ${d.keyId} not found`, { id: d.keyId, field: 'agentKeyId' });
      return;
    default:
      return unreachable(d);
  }
};

const sameDestination = (a: DidDestination, b: DidDestination): boolean => JSON.stringify(a) === JSON.stringify(b);

const decide = (command: DidCommand, state: DidState): DidEvent[] => {
  switch (command.type) {
    case 'AssignDid': {
      const d = command.data;
      assertDid(d.number, d.facts.blocks);
      assertDestination(d.destination, d.facts);
      if (state.status === 'Assigned') {
        if (state.merchantId !== d.merchantId) throw new DomainError('CONFLICT', `number ${d.number} is assigned to another merchant`, { field: 'number', reason: 'DID_TAKEN' });
        if (sameDestination(state.destination, d.destination)) return [];
      }
      return [{ type: 'DidAssigned', data: { number: d.number, merchantId: d.merchantId, destination: d.destination, at: d.at } }];
    }
    case 'ReleaseDid': {
      const d = command.data;
      assertDid(d.number);
      if (state.status !== 'Assigned' || state.merchantId !== d.merchantId)
        throw new DomainError('NOT_FOUND', `number ${d.number} is not assigned to this merchant`, { field: 'number', reason: 'DID_NOT_ASSIGNED' });
      return [{ type: 'DidReleased', data: { number: d.number, merchantId: d.merchantId, at: d.at } }];
    }
    default:
      return unreachable(command);
  }
};

const evolve = (state: DidState, event: DidEvent): DidState => {
  switch (event.type) {
    case 'DidAssigned':
      return { status: 'Assigned', number: event.data.number, merchantId: event.data.merchantId, destination: event.data.destination, assignedAt: event.data.at };
    case 'DidReleased':
      return { status: 'Free', number: event.data.number };
    default:
      return unreachable(event);
  }
};

export const didDecider: Decider<DidState, DidCommand, DidEvent> = { name: 'did@1', decide, evolve, initialState: initialDidState };
