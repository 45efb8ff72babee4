/**
 * Transfers of a live call (issue 25): one stream per call (`transfer-<callId>`, ../shared/streams.ts transferStreamId),
 * decided here, purely. The call's facts (its merchant, status, center and answering agent) and the
 * merchant's centers and agents arrive on the command.
 *
 *   StartTransfer(BLIND: another center) ─► TransferStarted ─┬─ CompleteTransfer ─► TransferCompleted
 *   StartTransfer(WARM: a named colleague) ─► TransferStarted ─┴─ CancelTransfer ───► TransferCancelled
 *   BLIND to a PSTN center: TransferStarted ─► DialTransfer ─► TransferDialled (the line dialled) ─► completed by the phone's answer, or cancelled
 *
 * BLIND: the caller is re-routed to another center of the same merchant and the first agent leaves;
 * complete when the new center's agent has the call. WARM: the agent consults a named colleague
 * first; complete when the agent has joined the colleague to the caller and left, cancel to return to
 * the caller. One transfer at a time per call; after a completed one, the new center and agent hold
 * the call, and only they can hand it on.
 *
 * Why a stream of its own, not events on the call's stream: the call's event union is matched
 * exhaustively by the read side (call-history's timeline, billing, crm-context), the webhooks, the
 * GraphQL subscriptions and the upcasters, and each of those must say what a hand-over means to it
 * (billing splits the legs, the screen pop follows the call): that is the wiring, not built yet.
 * A stream per call keeps a call's transfers serialised (two agents cannot start two at once) without
 * touching the call's stream. The price: "the call is answered" is a fact read from the call's stream
 * just before, not decided in the same append; a call that ends meanwhile is cancelled (CALL_ENDED)
 * by the application.
 *
 * Stable codes, in `extensions.reason` beside `extensions.code`:
 *   TRANSFER_CALL_NOT_ANSWERED (CONFLICT): only an answered call is transferred;
 *   TRANSFER_OTHER_MERCHANT (FORBIDDEN): the target center or colleague is not the call's merchant's
 *     (an unknown id gets the same answer: another merchant's ids are not confirmed to exist);
 *   TRANSFER_NOT_CALL_AGENT (CONFLICT): the agent asking is not the one who holds the call;
 *   TRANSFER_SAME_CENTER, TRANSFER_TO_SELF, TRANSFER_INVALID (BAD_USER_INPUT);
 *   TRANSFER_IN_PROGRESS, TRANSFER_CLOSED (CONFLICT); TRANSFER_UNKNOWN (NOT_FOUND);
 *   TRANSFER_LIMIT (LIMIT_EXCEEDED): MAX_TRANSFERS_PER_CALL started (no endless ping-pong);
 *   TRANSFER_PSTN_UNSUPPORTED (CONFLICT): a WARM transfer of a call a PSTN center's phone holds (a
 *     BLIND one goes: its phone line leaves when the new holder takes the call);
 *   TRANSFER_NOT_TARGET (FORBIDDEN): a console completing a transfer dialled to a phone (its answer completes it);
 *   TRANSFER_DIALLED (CONFLICT): a transfer dialled already on another line.
 *
 * A BLIND transfer to a PSTN center (issue 25) dials the center's number as a second phone leg of the
 * call: `TransferDialled` records the line (the leg's name `t<n>`, n the transfer's ordinal, and the
 * seized port and its caller ID), the phone's answer completes it with `to.agent` null (the phone
 * holds the call: `TransferState.line`), its failure cancels it (TARGET_BUSY, TARGET_NO_ANSWER,
 * TARGET_FAILED; NO_PORT when no port was free to dial on). A call a phone holds is transferred on
 * BLIND by a key of that center or of the merchant (the phone has no key: `from.agent` is null); the
 * line stays the holder's until the transfer completes, and the application then hangs it up.
 *
 * Idempotency: the same start again, a completion of a completed transfer and a cancel of a cancelled
 * one decide [].
 */
import type { Decider, DomainEvent } from '../shared/decider';
import { unreachable } from '../shared/decider';
import type { CallStatus } from '../call/events';
import { badInput, refusal } from '../shared/errors';
import { assertInstant, assertNonEmpty } from '../shared/validation';


/** Transfers a call may start (completed or not): a bound on hand-over loops. */
export const MAX_TRANSFERS_PER_CALL = 10;

export type TransferMode = 'BLIND' | 'WARM';
export type TransferCancelReason = 'AGENT_CANCELLED' | 'TARGET_UNAVAILABLE' | 'CALL_ENDED' | 'TARGET_BUSY' | 'TARGET_NO_ANSWER' | 'TARGET_FAILED' | 'NO_PORT';
/** Who has the call: a center, and its agent (an AGENT key id) when known (null: a PSTN center's phone). */
export interface Holder {
  callCenterId: string;
  agent: string | null;
}

/**
 * The phone line a transfer to a PSTN center is dialled on: the call's second leg `leg` (`t<n>`; the
 * media's id is ports/media.ts legIdOf(callId, leg)) to the center's number, on a seized gateway port
 * whose caller ID (`ani`) identifies the call to the center's CRM.
 */
export interface TransferLine {
  leg: string;
  destination: string;
  gatewayId: string;
  port: number;
  ani: string;
}

export type TransferStarted = DomainEvent<'TransferStarted', { callId: string; transferId: string; merchantId: string; mode: TransferMode; from: Holder; to: Holder; at: string }>;
export type TransferCompleted = DomainEvent<'TransferCompleted', { callId: string; transferId: string; mode: TransferMode; to: Holder; at: string }>;
export type TransferCancelled = DomainEvent<'TransferCancelled', { callId: string; transferId: string; reason: TransferCancelReason; at: string }>;
/** A blind transfer's target center is a PSTN one: its number dialled on `line` (the center, for the read side). */
export type TransferDialled = DomainEvent<'TransferDialled', { callId: string; transferId: string; merchantId: string; callCenterId: string; line: TransferLine; at: string }>;
export type TransferEvent = TransferStarted | TransferDialled | TransferCompleted | TransferCancelled;

export const TRANSFER_EVENT_TYPES: ReadonlyArray<TransferEvent['type']> = ['TransferStarted', 'TransferDialled', 'TransferCompleted', 'TransferCancelled'];

/** What the decision needs from the call's stream and the merchant's, read by the application. */
export interface TransferFacts {
  call: { merchantId: string; status: CallStatus; callCenterId: string | null; answeredBy: string | null };
  /** The call's merchant's centers. */
  callCenterIds: readonly string[];
  /** The call's merchant's agents (AGENT key ids) and the center each answers for. */
  agents: Readonly<Record<string, string>>;
}

export type StartTransfer = {
  type: 'StartTransfer';
  data: {
    callId: string;
    transferId: string;
    /** The agent asking (an AGENT key id). */
    agent: string;
    /** BLIND: to another center ({ callCenterId }); WARM: to a named colleague ({ agent }). */
    to: { mode: 'BLIND'; callCenterId: string } | { mode: 'WARM'; agent: string };
    facts: TransferFacts;
    at: string;
  };
};
/** `agent`: for a BLIND transfer, the new center's agent who took the call (null: a PSTN center's phone); a WARM one goes to its colleague. */
export type CompleteTransfer = { type: 'CompleteTransfer'; data: { callId: string; transferId: string; agent: string | null; at: string } };
export type CancelTransfer = { type: 'CancelTransfer'; data: { callId: string; transferId: string; reason: TransferCancelReason; at: string } };
/** The open BLIND transfer goes to a PSTN center: its number is dialled on this port (the leg's name is the decider's). */
export type DialTransfer = { type: 'DialTransfer'; data: { callId: string; transferId: string; destination: string; gatewayId: string; port: number; ani: string; at: string } };
export type TransferCommand = StartTransfer | DialTransfer | CompleteTransfer | CancelTransfer;

interface OpenTransfer {
  transferId: string;
  mode: TransferMode;
  from: Holder;
  to: Holder;
  /** The phone line it was dialled on (a PSTN center); null: a console takes it. */
  line: TransferLine | null;
}

export interface TransferState {
  callId: string | null;
  merchantId: string | null;
  /** Who holds the call after the last completed transfer; null: as the call's stream says. */
  holder: Holder | null;
  /** The phone line that holds the call (a transfer to a PSTN center completed); null: a console holds it. */
  line: TransferLine | null;
  open: OpenTransfer | null;
  /** How each finished transfer ended (at most MAX_TRANSFERS_PER_CALL). */
  closed: Readonly<Record<string, 'COMPLETED' | 'CANCELLED'>>;
  /** Transfers started. */
  started: number;
}

export const initialTransferState: TransferState = { callId: null, merchantId: null, holder: null, line: null, open: null, closed: {}, started: 0 };

const CANCEL_REASONS: readonly string[] = ['AGENT_CANCELLED', 'TARGET_UNAVAILABLE', 'CALL_ENDED', 'TARGET_BUSY', 'TARGET_NO_ANSWER', 'TARGET_FAILED', 'NO_PORT'];

const otherMerchant = (what: string) => refusal('FORBIDDEN', 'TRANSFER_OTHER_MERCHANT', `${what} is not one of this call's merchant's`);

/** Where the transfer goes, checked against the merchant's centers and agents and the current holder. */
const targetOf = (to: StartTransfer['data']['to'], facts: TransferFacts, holder: Holder, asking: string): { mode: TransferMode; to: Holder } => {
  switch (to?.mode) {
    case 'BLIND':
      assertNonEmpty(to.callCenterId, 'to.callCenterId');
      if (!facts.callCenterIds.includes(to.callCenterId)) throw otherMerchant(`call center ${to.callCenterId}`);
      if (to.callCenterId === holder.callCenterId)
        throw refusal('BAD_USER_INPUT', 'TRANSFER_SAME_CENTER', `the call is already at ${to.callCenterId}: a blind transfer goes to another center`, { field: 'to' });
      return { mode: 'BLIND', to: { callCenterId: to.callCenterId, agent: null } };
    case 'WARM': {
      assertNonEmpty(to.agent, 'to.agent');
      const center = Object.prototype.hasOwnProperty.call(facts.agents, to.agent) ? facts.agents[to.agent] : undefined;
      if (center === undefined) throw otherMerchant(`agent ${to.agent}`);
      if (to.agent === asking || to.agent === holder.agent) throw refusal('BAD_USER_INPUT', 'TRANSFER_TO_SELF', 'a warm transfer goes to a colleague, not to the agent who has the call', { field: 'to' });
      return { mode: 'WARM', to: { callCenterId: center, agent: to.agent } };
    }
    default:
      throw refusal('BAD_USER_INPUT', 'TRANSFER_INVALID', 'to is { mode: BLIND, callCenterId } or { mode: WARM, agent }', { field: 'to' });
  }
};

const finished = (state: TransferState, transferId: string, callId: string) => {
  const end = state.closed[transferId];
  if (end === undefined && state.open?.transferId !== transferId) throw refusal('NOT_FOUND', 'TRANSFER_UNKNOWN', `call ${callId} has no transfer ${transferId}`, { id: transferId });
  return end ?? null;
};

const decide = (command: TransferCommand, state: TransferState): TransferEvent[] => {
  switch (command.type) {
    case 'StartTransfer': {
      const d = command.data;
      assertInstant(d.at);
      for (const f of ['callId', 'transferId', 'agent'] as const) assertNonEmpty(d[f], f);
      if (state.open?.transferId === d.transferId) return [];
      if (state.closed[d.transferId] !== undefined) throw refusal('CONFLICT', 'TRANSFER_CLOSED', `transfer ${d.transferId} is over (${state.closed[d.transferId]})`);
      if (state.open !== null) throw refusal('CONFLICT', 'TRANSFER_IN_PROGRESS', `transfer ${state.open.transferId} of this call is in progress`, { transferId: state.open.transferId });
      const call = d.facts.call;
      if (call.status !== 'ANSWERED' || call.callCenterId === null)
        throw refusal('CONFLICT', 'TRANSFER_CALL_NOT_ANSWERED', `only an answered call is transferred; call ${d.callId} is ${call.status}`, { status: call.status });
      // A phone holds the call (a transfer to a PSTN center): nobody there is at a console to consult a colleague.
      if (state.line !== null && d.to?.mode === 'WARM')
        throw refusal('CONFLICT', 'TRANSFER_PSTN_UNSUPPORTED', `call center ${state.holder?.callCenterId ?? '?'} holds the call on a phone line: it is transferred blind only`, { callCenterId: state.holder?.callCenterId ?? null });
      if (state.started >= MAX_TRANSFERS_PER_CALL) throw refusal('LIMIT_EXCEEDED', 'TRANSFER_LIMIT', `a call is transferred at most ${MAX_TRANSFERS_PER_CALL} times`);
      const holder = state.holder ?? { callCenterId: call.callCenterId, agent: call.answeredBy };
      // A PSTN center's agent is not known by key (the phone answered): the application checks the asking key's center.
      if (holder.agent !== null && holder.agent !== d.agent) throw refusal('CONFLICT', 'TRANSFER_NOT_CALL_AGENT', 'only the agent who has the call can transfer it');
      const { mode, to } = targetOf(d.to, d.facts, holder, d.agent);
      return [{ type: 'TransferStarted', data: { callId: d.callId, transferId: d.transferId, merchantId: call.merchantId, mode, from: holder, to, at: d.at } }];
    }
    case 'CompleteTransfer': {
      const d = command.data;
      assertInstant(d.at);
      const end = finished(state, d.transferId, d.callId);
      if (end === 'COMPLETED') return [];
      if (end === 'CANCELLED' || state.open === null) throw refusal('CONFLICT', 'TRANSFER_CLOSED', `transfer ${d.transferId} was cancelled`);
      if (d.agent !== null) assertNonEmpty(d.agent, 'agent');
      if (state.open.line !== null && d.agent !== null)
        throw refusal('FORBIDDEN', 'TRANSFER_NOT_TARGET', `transfer ${d.transferId} was dialled to call center ${state.open.to.callCenterId}'s phone: its answer completes it`);
      const to = state.open.mode === 'BLIND' ? { callCenterId: state.open.to.callCenterId, agent: d.agent } : state.open.to;
      return [{ type: 'TransferCompleted', data: { callId: d.callId, transferId: d.transferId, mode: state.open.mode, to, at: d.at } }];
    }
    case 'DialTransfer': {
      const d = command.data;
      assertInstant(d.at);
      for (const f of ['destination', 'gatewayId', 'ani'] as const) assertNonEmpty(d[f], f);
      if (!Number.isInteger(d.port) || d.port < 0) throw badInput('port must be a port number', { field: 'port' });
      const end = finished(state, d.transferId, d.callId);
      if (end !== null || state.open === null) throw refusal('CONFLICT', 'TRANSFER_CLOSED', `transfer ${d.transferId} is over (${end ?? 'closed'})`);
      const open = state.open;
      if (open.mode !== 'BLIND') throw refusal('BAD_USER_INPUT', 'TRANSFER_INVALID', 'only a blind transfer goes to a call center\'s phone', { field: 'transferId' });
      const line: TransferLine = { leg: `t${state.started}`, destination: d.destination, gatewayId: d.gatewayId, port: d.port, ani: d.ani };
      if (open.line !== null) {
        if (open.line.gatewayId === line.gatewayId && open.line.port === line.port && open.line.destination === line.destination) return [];
        throw refusal('CONFLICT', 'TRANSFER_DIALLED', `transfer ${d.transferId} was dialled on ${open.line.gatewayId}:${open.line.port} already`);
      }
      return [{ type: 'TransferDialled', data: { callId: d.callId, transferId: d.transferId, merchantId: state.merchantId ?? '', callCenterId: open.to.callCenterId, line, at: d.at } }];
    }
    case 'CancelTransfer': {
      const d = command.data;
      assertInstant(d.at);
      if (!CANCEL_REASONS.includes(d.reason)) throw badInput(`reason must be one of ${CANCEL_REASONS.join(', ')}`, { field: 'reason' });
      const end = finished(state, d.transferId, d.callId);
      if (end === 'CANCELLED') return [];
      if (end === 'COMPLETED') throw refusal('CONFLICT', 'TRANSFER_CLOSED', `transfer ${d.transferId} is complete: the call is at ${state.holder?.callCenterId ?? 'its new center'}`);
      return [{ type: 'TransferCancelled', data: { callId: d.callId, transferId: d.transferId, reason: d.reason, at: d.at } }];
    }
    default:
      return unreachable(command);
  }
};

const evolve = (state: TransferState, event: TransferEvent): TransferState => {
  switch (event.type) {
    case 'TransferStarted': {
      const d = event.data;
      return { ...state, callId: d.callId, merchantId: d.merchantId, open: { transferId: d.transferId, mode: d.mode, from: d.from, to: d.to, line: null }, started: state.started + 1 };
    }
    case 'TransferDialled':
      return state.open?.transferId === event.data.transferId ? { ...state, open: { ...state.open, line: event.data.line } } : state;
    case 'TransferCompleted': {
      // The line of the transfer it completes holds the call now (null: a console).
      const line = state.open?.transferId === event.data.transferId ? state.open.line : null;
      return { ...state, holder: event.data.to, line, open: null, closed: { ...state.closed, [event.data.transferId]: 'COMPLETED' } };
    }
    case 'TransferCancelled':
      return { ...state, open: null, closed: { ...state.closed, [event.data.transferId]: 'CANCELLED' } };
    default:
      return unreachable(event);
  }
};

export const transferDecider: Decider<TransferState, TransferCommand, TransferEvent> = {
  name: 'transfer@1',
  decide,
  evolve,
  initialState: initialTransferState,
  merchantOf: (state) => state.merchantId,
};

// ---------------------------------------------------------------- who holds the call (read by the application)

/**
 * Who holds the call now: the target of the last completed transfer, else the call's own center and
 * answering agent (`call`, from the call's stream). The one rule the whole application reads: whose
 * console may act on the call, and whose leaving its room ends it.
 */
export const holderOf = (state: TransferState, call: Holder): Holder => state.holder ?? call;

/**
 * The centers whose agents may act on the call now: the holder's, and an open transfer's target's
 * (its consoles are offered the call, join its room and take it). Once a transfer completes, the
 * center that handed over is no longer one of them (unless it is the target's too).
 */
export const centersOnCall = (state: TransferState, call: Holder): string[] => {
  const held = holderOf(state, call).callCenterId;
  const offered = state.open?.to.callCenterId;
  return offered === undefined || offered === held ? [held] : [held, offered];
};

/** One transfer of a call, as the console and the API show it. */
export interface TransferView {
  callId: string;
  transferId: string;
  mode: TransferMode;
  status: 'OPEN' | 'COMPLETED' | 'CANCELLED';
  from: Holder;
  to: Holder;
  startedAt: string;
  endedAt: string | null;
  cancelReason: TransferCancelReason | null;
}

/** A call's transfers, oldest first (at most MAX_TRANSFERS_PER_CALL): the answer of the transfer mutations and of `callTransfers`. */
export const transfersView: { name: string; initialState: readonly TransferView[]; evolve(s: readonly TransferView[], e: TransferEvent): readonly TransferView[] } = {
  name: 'transfers-view@1',
  initialState: [],
  evolve: (list, event) => {
    const d = event.data;
    const update = (f: (t: TransferView) => TransferView) => list.map((t) => (t.transferId === d.transferId ? f(t) : t));
    switch (event.type) {
      case 'TransferStarted':
        return list.some((t) => t.transferId === d.transferId)
          ? list
          : [...list, { callId: event.data.callId, transferId: d.transferId, mode: event.data.mode, status: 'OPEN', from: event.data.from, to: event.data.to, startedAt: d.at, endedAt: null, cancelReason: null }];
      case 'TransferDialled':
        return list;
      case 'TransferCompleted':
        return update((t) => ({ ...t, status: 'COMPLETED', to: event.data.to, endedAt: d.at }));
      case 'TransferCancelled':
        return update((t) => ({ ...t, status: 'CANCELLED', endedAt: d.at, cancelReason: event.data.reason }));
      default:
        return unreachable(event);
    }
  },
};
