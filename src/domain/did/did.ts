/**
 * A virtual number (DID): one stream per number (`did-<E.164>`), so that a number is unique across
 * merchants by construction: two merchants assigning the same number write to the same stream, and
 * the second append (expected version) re-decides on the first's event and is refused DID_TAKEN.
 *
 * An admin or the owning merchant assigns the number to a destination: a call center, one AGENT key
 * (a person), a link's routing, or a MENU: the merchant's main number, which answers with a spoken
 * prompt and routes by the ID the caller keys (each ID 1 to 12 digits, leading to one of the three
 * other destinations). The facts the decision needs from other streams (the merchant's
 * centers, links and agent keys; the deployment's number blocks) arrive on the command: pure.
 *
 * Stable codes, in `extensions.reason` beside `extensions.code`:
 *   DID_MALFORMED (BAD_USER_INPUT): not E.164;
 *   DID_NOT_OURS (BAD_USER_INPUT): outside the deployment's blocks of numbers (a foreign DID);
 *   DID_TAKEN (CONFLICT): assigned to another merchant;
 *   DID_NOT_ASSIGNED (NOT_FOUND): releasing a number this merchant does not hold;
 *   ID_TOO_LONG (BAD_USER_INPUT): a menu ID of more than 12 digits; ID_MALFORMED: not digits, or
 *   twice in one menu; MENU_EMPTY / MENU_TOO_LONG: no entry, or more than MENU_MAX_ENTRIES.
 */
import type { Decider, DomainEvent } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, DomainError } from '../shared/errors';
import { E164 } from '../shared/validation';

/** Where a number (or a menu ID) leads directly. */
export type DirectDestination = { kind: 'CALL_CENTER'; callCenterId: string } | { kind: 'AGENT'; keyId: string } | { kind: 'LINK'; linkId: string };

/** One choice of a main number's menu: the ID keyed on the phone (1 to 12 digits) and where it leads. */
export interface MenuEntry {
  id: string;
  destination: DirectDestination;
}

export type DidDestination = DirectDestination | { kind: 'MENU'; entries: MenuEntry[] };

/** The longest ID a caller may key at a main number's prompt. */
export const MENU_ID_MAX_DIGITS = 12;
export const MENU_MAX_ENTRIES = 100;

/**
 * An ID keyed at a main number's prompt (the digits before `#`), against the menu: the entry it
 * names, or why not (ID_TOO_LONG: more than 12 digits; NO_SUCH_ID: digits no entry has, or nothing keyed).
 */
export const menuChoice = (entries: readonly MenuEntry[], keyed: string): { ok: true; entry: MenuEntry } | { ok: false; reason: 'ID_TOO_LONG' | 'NO_SUCH_ID' } => {
  if (keyed.length > MENU_ID_MAX_DIGITS) return { ok: false, reason: 'ID_TOO_LONG' };
  const entry = entries.find((e) => e.id === keyed);
  return entry ? { ok: true, entry } : { ok: false, reason: 'NO_SUCH_ID' };
};

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
  if (d.kind === 'MENU') return assertMenu(d.entries, facts);
  assertDirect(d, facts);
};

const assertMenu = (entries: readonly MenuEntry[], facts: DidFacts): void => {
  // Array.isArray would narrow the entries to any[]: ask it about a copy, keep the type.
  const value: unknown = entries;
  if (!Array.isArray(value) || entries.length === 0) throw badInput('a menu needs at least one entry', { field: 'menu', reason: 'MENU_EMPTY' });
  if (entries.length > MENU_MAX_ENTRIES) throw badInput(`a menu has at most ${MENU_MAX_ENTRIES} entries`, { field: 'menu', reason: 'MENU_TOO_LONG' });
  const ids = new Set<string>();
  for (const e of entries) {
    const id = typeof e?.id === 'string' ? e.id : '';
    if (!/^\d+$/.test(id)) throw badInput(`a menu ID is 1 to ${MENU_ID_MAX_DIGITS} digits, got "${id.slice(0, 40)}"`, { field: 'menu', reason: 'ID_MALFORMED' });
    if (id.length > MENU_ID_MAX_DIGITS)
      throw badInput(`a menu ID has at most ${MENU_ID_MAX_DIGITS} digits (a caller keys it on the phone), got ${id.length}`, { field: 'menu', reason: 'ID_TOO_LONG' });
    if (ids.has(id)) throw badInput(`menu ID ${id} appears twice`, { field: 'menu', reason: 'ID_MALFORMED' });
    ids.add(id);
    if (typeof e.destination !== 'object' || e.destination === null || (e.destination as { kind: string }).kind === 'MENU')
      throw badInput(`menu ID ${id} must lead to a call center, an agent or a link`, { field: 'menu' });
    assertDirect(e.destination, facts);
  }
};

const assertDirect = (d: DirectDestination, facts: DidFacts): void => {
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
