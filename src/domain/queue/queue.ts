/**
 * The queue of one call center (issue 25): one stream per center (`queue-<callCenterId>`,
 * queueStreamId), decided here, purely. Time and the link's policy arrive on the commands.
 *
 *   JoinQueue ──► QueueCallJoined ──┬─ DispatchCall (the head only) ──► QueueCallDispatched
 *                                   ├─ AbandonWait ──────────────────► QueueCallAbandoned
 *                                   └─ TimeOutWait (at its deadline) ─► QueueWaitTimedOut (+ where it falls through)
 *
 * Order is the stream's: each join takes the next ticket (1, 2, 3…), the waiting list is in ticket
 * order, and only its head can be dispatched. The stream's expected version makes "a free slot takes
 * the head, exactly once" hold across instances: two dispatchers naming the same head race on one
 * append, and the loser re-decides on the winner's event and is refused.
 *
 * A dispatch names the call it expects at the head (compare-and-set), because the dispatcher took a
 * slot for that call before it appends. A stale dispatch is **refused** (CONFLICT), never silently
 * turned into a dispatch of whoever is at the head now: the slot was taken for another call, so the
 * dispatcher must re-read the queue and offer the slot to the new head (or give it back). The one
 * dispatch that decides [] is the same dispatch again (its append happened, its answer was lost).
 *
 * Stable codes, in `extensions.reason` beside `extensions.code`:
 *   QUEUE_NOT_ALLOWED (NO_ROUTE): the link has no queue policy; the shopper gets today's "no route";
 *   QUEUE_FULL (LIMIT_EXCEEDED): as many calls wait as the link's maximum queue length;
 *   QUEUE_OTHER_MERCHANT (FORBIDDEN): the center's queue belongs to another merchant;
 *   QUEUE_CALL_LEFT (CONFLICT): a join for a call that already left this queue (served, abandoned, timed out);
 *   QUEUE_NOT_HEAD (CONFLICT): a dispatch of a waiting call that is not the head;
 *   QUEUE_CALL_NOT_WAITING (CONFLICT): a dispatch of a call that does not wait (never joined, or abandoned or timed out);
 *   QUEUE_WAIT_NOT_OVER (CONFLICT): a time-out before the call's deadline;
 *   QUEUE_POLICY_INVALID, QUEUE_FALL_THROUGH_INVALID, QUEUE_WRONG_CENTER (BAD_USER_INPUT).
 *
 * Idempotency: a join of a waiting call, an abandon of a call that does not wait (hang-ups race with
 * dispatches) and a time-out of a call that has left (timers race too) decide [].
 *
 * The state remembers the last LEFT_MEMORY calls that left, so that a late join or a repeated
 * dispatch of a served call is recognised; past that, the call's own stream is the guard (a call is
 * initiated once: InitiateCall is only decided on a DOWNLOADED call).
 */
import type { Decider, DomainEvent } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, refusal } from '../shared/errors';
import { assertInstant, assertNonEmpty } from '../shared/validation';

/** The queue's stream: a category of ../shared/streams.ts (on the calls' bus topic). */
export { queueStreamId } from '../shared/streams';

/** What a link allows when no slot is free: how long a call may wait, and how many may wait at once. */
export interface QueuePolicy {
  maxWaitSeconds: number;
  maxLength: number;
}

/** Bounds of a policy a merchant may set (a wait of more than an hour is a callback's job). */
export const QUEUE_POLICY_BOUNDS = { maxWaitSeconds: 3600, maxLength: 1000 } as const;

/** How many departed calls the state remembers (see the header). */
export const LEFT_MEMORY = 1000;

/**
 * Where a timed-out wait goes: the next center of the link (its own queue or a free slot), an offer
 * of a callback to the shopper, or nowhere (the call ends). The application chooses it (routing); the
 * event records it.
 */
export type FallThrough = { kind: 'NEXT_CENTER'; callCenterId: string } | { kind: 'CALLBACK_OFFER' } | { kind: 'END' };

export type QueueCallJoined = DomainEvent<
  'QueueCallJoined',
  {
    callCenterId: string;
    merchantId: string;
    callId: string;
    linkId: string;
    /** The call's place in the order of arrival: 1 for the queue's first join, then 2, 3… */
    ticket: number;
    /** 1-based position when it joined. */
    position: number;
    /** The join instant plus the link's maximum wait: the deadline is fixed when the call joins. */
    timesOutAt: string;
    at: string;
  }
>;
export type QueueCallDispatched = DomainEvent<'QueueCallDispatched', { callCenterId: string; callId: string; ticket: number; waitedMs: number; at: string }>;
export type QueueCallAbandoned = DomainEvent<'QueueCallAbandoned', { callCenterId: string; callId: string; ticket: number; position: number; waitedMs: number; at: string }>;
export type QueueWaitTimedOut = DomainEvent<'QueueWaitTimedOut', { callCenterId: string; callId: string; ticket: number; waitedMs: number; fallThrough: FallThrough; at: string }>;
export type QueueEvent = QueueCallJoined | QueueCallDispatched | QueueCallAbandoned | QueueWaitTimedOut;

export const QUEUE_EVENT_TYPES: ReadonlyArray<QueueEvent['type']> = ['QueueCallJoined', 'QueueCallDispatched', 'QueueCallAbandoned', 'QueueWaitTimedOut'];

/** Routing found no free slot: the call asks to wait. `policy` is the link's (null: the link does not queue). */
export type JoinQueue = {
  type: 'JoinQueue';
  data: { callCenterId: string; merchantId: string; callId: string; linkId: string; policy: QueuePolicy | null; at: string };
};
/** A slot of the center is free and was taken for `callId`, which the dispatcher read at the head. */
export type DispatchCall = { type: 'DispatchCall'; data: { callCenterId: string; callId: string; at: string } };
/** The shopper hung up or closed the page while waiting. */
export type AbandonWait = { type: 'AbandonWait'; data: { callCenterId: string; callId: string; at: string } };
/** The wait's deadline passed (a timer): the call leaves the queue and goes to `fallThrough`. */
export type TimeOutWait = { type: 'TimeOutWait'; data: { callCenterId: string; callId: string; fallThrough: FallThrough; at: string } };
export type QueueCommand = JoinQueue | DispatchCall | AbandonWait | TimeOutWait;

export interface QueueEntry {
  callId: string;
  ticket: number;
  linkId: string;
  joinedAt: string;
  timesOutAt: string;
}

export type LeftOutcome = 'DISPATCHED' | 'ABANDONED' | 'TIMED_OUT';

export interface QueueState {
  callCenterId: string | null;
  merchantId: string | null;
  /** The calls that wait, in ticket order: the head first. */
  waiting: readonly QueueEntry[];
  /** Tickets given so far (the next join gets tickets + 1). */
  tickets: number;
  /** The last LEFT_MEMORY calls that left, oldest first. */
  left: ReadonlyArray<{ callId: string; ticket: number; outcome: LeftOutcome }>;
}

export const initialQueueState: QueueState = { callCenterId: null, merchantId: null, waiting: [], tickets: 0, left: [] };

// ---------------------------------------------------------------- queries (pure functions of the state)

/** The call's 1-based position, or null when it does not wait. */
export const positionOf = (state: QueueState, callId: string): number | null => {
  const i = state.waiting.findIndex((e) => e.callId === callId);
  return i < 0 ? null : i + 1;
};

export const queueLength = (state: QueueState): number => state.waiting.length;

/** The call a free slot takes next, or null when nobody waits. */
export const headOf = (state: QueueState): QueueEntry | null => state.waiting[0] ?? null;

/** The waiting calls whose deadline has passed at `at`, in queue order (what a timer sends TimeOutWait for). */
export const dueTimeOuts = (state: QueueState, at: string): QueueEntry[] => {
  const now = Date.parse(at);
  return state.waiting.filter((e) => Date.parse(e.timesOutAt) <= now);
};

// ---------------------------------------------------------------- decide

/** BAD_USER_INPUT (reason QUEUE_POLICY_INVALID) unless both numbers are integers within QUEUE_POLICY_BOUNDS. */
export const assertQueuePolicy = (policy: QueuePolicy): void => {
  const ok = (n: number, max: number) => Number.isSafeInteger(n) && n >= 1 && n <= max;
  if (typeof policy !== 'object' || !ok(policy.maxWaitSeconds, QUEUE_POLICY_BOUNDS.maxWaitSeconds) || !ok(policy.maxLength, QUEUE_POLICY_BOUNDS.maxLength))
    throw badInput(
      `a queue policy needs maxWaitSeconds from 1 to ${QUEUE_POLICY_BOUNDS.maxWaitSeconds} and maxLength from 1 to ${QUEUE_POLICY_BOUNDS.maxLength}`,
      { field: 'policy', reason: 'QUEUE_POLICY_INVALID' },
    );
};

const assertFallThrough = (f: FallThrough, callCenterId: string): void => {
  const kind = (f as { kind?: unknown } | null)?.kind;
  if (kind === 'CALLBACK_OFFER' || kind === 'END') return;
  if (kind === 'NEXT_CENTER' && typeof (f as { callCenterId?: unknown }).callCenterId === 'string') {
    const next = (f as { callCenterId: string }).callCenterId;
    if (next.trim().length > 0 && next !== callCenterId) return;
  }
  throw badInput('fallThrough is NEXT_CENTER (another center), CALLBACK_OFFER or END', { field: 'fallThrough', reason: 'QUEUE_FALL_THROUGH_INVALID' });
};

/** Every command names its center: the stream's own, once it has one. */
const assertCenter = (state: QueueState, d: { callCenterId: string; callId: string; at: string }): number => {
  assertNonEmpty(d.callCenterId, 'callCenterId');
  assertNonEmpty(d.callId, 'callId');
  if (state.callCenterId !== null && state.callCenterId !== d.callCenterId)
    throw badInput(`this is the queue of ${state.callCenterId}, not of ${d.callCenterId}`, { field: 'callCenterId', reason: 'QUEUE_WRONG_CENTER' });
  return assertInstant(d.at);
};

const waitedMs = (entry: QueueEntry, at: number): number => Math.max(0, at - Date.parse(entry.joinedAt));

const decide = (command: QueueCommand, state: QueueState): QueueEvent[] => {
  switch (command.type) {
    case 'JoinQueue': {
      const d = command.data;
      const at = assertCenter(state, d);
      assertNonEmpty(d.merchantId, 'merchantId');
      assertNonEmpty(d.linkId, 'linkId');
      if (d.policy !== null) assertQueuePolicy(d.policy);
      if (state.merchantId !== null && state.merchantId !== d.merchantId)
        throw refusal('FORBIDDEN', 'QUEUE_OTHER_MERCHANT', `call center ${d.callCenterId} is not this merchant's`);
      if (positionOf(state, d.callId) !== null) return [];
      const gone = state.left.find((l) => l.callId === d.callId);
      if (gone) throw refusal('CONFLICT', 'QUEUE_CALL_LEFT', `call ${d.callId} already left this queue (${gone.outcome})`, { outcome: gone.outcome });
      if (d.policy === null) throw refusal('NO_ROUTE', 'QUEUE_NOT_ALLOWED', `no call center can take the call now, and link ${d.linkId} does not queue calls`);
      if (state.waiting.length >= d.policy.maxLength)
        throw refusal('LIMIT_EXCEEDED', 'QUEUE_FULL', `the queue of ${d.callCenterId} is full (${state.waiting.length} of ${d.policy.maxLength} wait)`, { maxLength: d.policy.maxLength });
      const timesOutAt = new Date(at + d.policy.maxWaitSeconds * 1000).toISOString();
      const data = { callCenterId: d.callCenterId, merchantId: d.merchantId, callId: d.callId, linkId: d.linkId, ticket: state.tickets + 1, position: state.waiting.length + 1, timesOutAt, at: d.at };
      return [{ type: 'QueueCallJoined', data }];
    }
    case 'DispatchCall': {
      const d = command.data;
      const at = assertCenter(state, d);
      const head = headOf(state);
      if (head?.callId === d.callId) return [{ type: 'QueueCallDispatched', data: { callCenterId: d.callCenterId, callId: d.callId, ticket: head.ticket, waitedMs: waitedMs(head, at), at: d.at } }];
      if (positionOf(state, d.callId) !== null)
        throw refusal('CONFLICT', 'QUEUE_NOT_HEAD', `call ${d.callId} is not at the head of the queue: the head is served first`, { position: positionOf(state, d.callId) });
      if (state.left.some((l) => l.callId === d.callId && l.outcome === 'DISPATCHED')) return [];
      throw refusal('CONFLICT', 'QUEUE_CALL_NOT_WAITING', `call ${d.callId} does not wait in this queue`);
    }
    case 'AbandonWait': {
      const d = command.data;
      const at = assertCenter(state, d);
      const position = positionOf(state, d.callId);
      if (position === null) return [];
      const entry = state.waiting[position - 1];
      return [{ type: 'QueueCallAbandoned', data: { callCenterId: d.callCenterId, callId: d.callId, ticket: entry.ticket, position, waitedMs: waitedMs(entry, at), at: d.at } }];
    }
    case 'TimeOutWait': {
      const d = command.data;
      const at = assertCenter(state, d);
      assertFallThrough(d.fallThrough, d.callCenterId);
      const entry = state.waiting.find((e) => e.callId === d.callId);
      if (!entry) return [];
      if (at < Date.parse(entry.timesOutAt))
        throw refusal('CONFLICT', 'QUEUE_WAIT_NOT_OVER', `call ${d.callId} may wait until ${entry.timesOutAt}`, { timesOutAt: entry.timesOutAt });
      const fallThrough: FallThrough = d.fallThrough.kind === 'NEXT_CENTER' ? { kind: 'NEXT_CENTER', callCenterId: d.fallThrough.callCenterId } : { kind: d.fallThrough.kind };
      return [{ type: 'QueueWaitTimedOut', data: { callCenterId: d.callCenterId, callId: d.callId, ticket: entry.ticket, waitedMs: waitedMs(entry, at), fallThrough, at: d.at } }];
    }
    default:
      return unreachable(command);
  }
};

// ---------------------------------------------------------------- evolve

const leave = (state: QueueState, callId: string, outcome: LeftOutcome): QueueState => {
  const entry = state.waiting.find((e) => e.callId === callId);
  if (!entry) return state;
  const left = [...state.left, { callId, ticket: entry.ticket, outcome }];
  return { ...state, waiting: state.waiting.filter((e) => e.callId !== callId), left: left.length > LEFT_MEMORY ? left.slice(left.length - LEFT_MEMORY) : left };
};

const evolve = (state: QueueState, event: QueueEvent): QueueState => {
  switch (event.type) {
    case 'QueueCallJoined': {
      const d = event.data;
      const entry: QueueEntry = { callId: d.callId, ticket: d.ticket, linkId: d.linkId, joinedAt: d.at, timesOutAt: d.timesOutAt };
      return { ...state, callCenterId: d.callCenterId, merchantId: d.merchantId, waiting: [...state.waiting, entry], tickets: Math.max(state.tickets, d.ticket) };
    }
    case 'QueueCallDispatched':
      return leave(state, event.data.callId, 'DISPATCHED');
    case 'QueueCallAbandoned':
      return leave(state, event.data.callId, 'ABANDONED');
    case 'QueueWaitTimedOut':
      return leave(state, event.data.callId, 'TIMED_OUT');
    default:
      return unreachable(event);
  }
};

export const queueDecider: Decider<QueueState, QueueCommand, QueueEvent> = {
  name: 'queue@1',
  decide,
  evolve,
  initialState: initialQueueState,
  merchantOf: (state) => state.merchantId,
};
