import type { TerminationCause } from '../../domain/call/events';
import { causeAfterAnswer, outcomeOfDisconnectReason, type FailureReason } from './causes';
import type { AttributesEvent, DtmfEvent, ParticipantLeftEvent } from './room-participant';

/**
 * Pure mapping from room events (seen by our server participant) to progress reports for the
 * CallProgressSink. It holds the little state needed to make repeats no-ops: LiveKit re-sends the
 * whole attribute map on every change, so `ringing` is seen many times.
 */

export type LegRoomEvent =
  | ({ type: 'attributes' } & AttributesEvent)
  | ({ type: 'dtmf' } & DtmfEvent)
  | ({ type: 'participantLeft' } & ParticipantLeftEvent);

export type ProgressReport =
  | { kind: 'ringing'; gatewayEventId: string }
  | { kind: 'answered'; gatewayEventId: string }
  | { kind: 'dtmf'; digits: string; gatewayEventId: string }
  | { kind: 'terminated'; cause: TerminationCause; sipStatus: number | null; reason: FailureReason | null; gatewayEventId: string };

export interface LegState {
  callId: string;
  /**
   * Identity of the SIP participant: `pstn-<callId>` for a leg we dial, `sip_<caller>` (LiveKit's
   * choice) for an inbound call. Events of other participants are ignored.
   */
  sipIdentity: string;
  /** A phone called us (issue 23): the call rang before we followed it, and nothing dials. */
  inbound: boolean;
  ringing: boolean;
  answered: boolean;
  terminated: boolean;
  /**
   * True while the `waitUntilAnswered` RPC has not settled. A leg that leaves unanswered is then
   * reported by the RPC's outcome instead, because only the RPC carries the SIP status (486 vs 603).
   */
  dialPending: boolean;
  dtmfCount: number;
}

export const initialLegState = (callId: string): LegState => ({
  callId,
  sipIdentity: sipIdentityFor(callId),
  inbound: false,
  ringing: false,
  answered: false,
  terminated: false,
  dialPending: true,
  dtmfCount: 0,
});

/**
 * An inbound call as we start to follow it: ringing already (its arrival was the application's
 * "ringing": `sip.callStatus=ringing` is not reported again), no dial RPC, and the SIP participant
 * that LiveKit named (`sip_<caller>`).
 */
export const inboundLegState = (callId: string, sipIdentity: string): LegState => ({
  callId,
  sipIdentity,
  inbound: true,
  ringing: true,
  answered: false,
  terminated: false,
  dialPending: false,
  dtmfCount: 0,
});

export const roomNameFor = (callId: string): string => `call-${callId}`;
export const sipIdentityFor = (callId: string): string => `pstn-${callId}`;
export const callerIdentityFor = (callId: string): string => `caller-${callId}`;
export const serverIdentityFor = (callId: string): string => `webdial-${callId}`;
/**
 * An agent's console in a browser call's room: one identity per API key (the key id, as in
 * CallAnswered.answeredBy), so a second console of the same key replaces the first.
 */
export const agentIdentityFor = (agentId: string): string => `agent-${agentId}`;

/** The agent (key id) of a console's identity, or null for any other participant. */
export const agentIdOf = (identity: string | undefined | null): string | null =>
  identity && identity.startsWith('agent-') && identity.length > 6 ? identity.slice(6) : null;

/**
 * The dispatch rule's room prefix for inbound calls: LiveKit's callee rule with `randomize` names the
 * room `call-in_<DID>_<random>` (INBOUND.md), so the call id is `in_<DID>_<random>`.
 */
export const INBOUND_ROOM_PREFIX = 'call-in';
/** True for the call id of an inbound call's room (`call-in_…`). */
export const isInboundCallId = (callId: string): boolean => callId.startsWith('in_') && callId.length > 3;

/** The call id in a room name we created, or null for any other room. */
export const callIdFromRoom = (room: string | undefined | null): string | null =>
  room && room.startsWith('call-') && room.length > 5 ? room.slice(5) : null;

/** Stable gateway event ids: the same fact reported twice (room event and RPC, or webhook) dedupes. */
export const gatewayEventIds = {
  ringing: (callId: string) => `lk:${callId}:ringing`,
  answered: (callId: string) => `lk:${callId}:answered`,
  terminated: (callId: string) => `lk:${callId}:terminated`,
  dtmf: (callId: string, n: number) => `lk:${callId}:dtmf:${n}`,
};

export interface Step {
  state: LegState;
  reports: ProgressReport[];
}

const none = (state: LegState): Step => ({ state, reports: [] });

/** `sip.callStatus` as set by livekit/sip: dialing → ringing → automation → active → hangup. */
const onAttributes = (s: LegState, attributes: Record<string, string>): Step => {
  const status = attributes['sip.callStatus'];
  if (status === 'ringing' && !s.ringing && !s.answered) {
    return { state: { ...s, ringing: true }, reports: [{ kind: 'ringing', gatewayEventId: gatewayEventIds.ringing(s.callId) }] };
  }
  if (status === 'active' && !s.answered) return answer(s);
  return none(s);
};

const onLeft = (s: LegState, e: ParticipantLeftEvent): Step => {
  if (!s.answered && s.dialPending) return none(s); // the RPC outcome reports it, with the SIP status
  if (!s.answered && s.inbound) {
    // The caller gave up while it rang (CANCEL: LiveKit SIP answered 487), unless LiveKit names a
    // failure. Our own ends (refusal, no-answer, hang-up) were recorded by whoever ended the call.
    const o = outcomeOfDisconnectReason(e.disconnectReason);
    return o ? terminate(s, o.cause, null, o.reason) : terminate(s, 'HANGUP', null);
  }
  if (!s.answered) {
    const o = outcomeOfDisconnectReason(e.disconnectReason);
    return o ? terminate(s, o.cause, null, o.reason) : terminate(s, 'FAILED', null, 'UNKNOWN');
  }
  // Answered (200 OK) and ended by a BYE: the call's SIP status is the 200; a media failure has none.
  const cause = causeAfterAnswer(e.disconnectReason);
  return cause === 'HANGUP' ? terminate(s, cause, 200) : terminate(s, cause, null, outcomeOfDisconnectReason(e.disconnectReason)?.reason ?? 'MEDIA');
};

/** Advances the leg by one room event. Events about other participants, or after the end, change nothing. */
export const applyRoomEvent = (s: LegState, e: LegRoomEvent): Step => {
  if (s.terminated || e.identity !== s.sipIdentity) return none(s);
  switch (e.type) {
    case 'attributes':
      return onAttributes(s, e.attributes);
    case 'dtmf': {
      const digit = dtmfDigitOf(e.code);
      if (digit === null) return none(s); // not a DTMF key (e.g. 16, flash): refused, nothing changes
      const n = s.dtmfCount + 1;
      return {
        state: { ...s, dtmfCount: n },
        reports: [{ kind: 'dtmf', digits: digit, gatewayEventId: gatewayEventIds.dtmf(s.callId, n) }],
      };
    }
    case 'participantLeft':
      return onLeft(s, e);
    default:
      return unreachable(e);
  }
};

/** Answered, from whichever signal comes first (attribute `active` or the RPC's success). */
export const answer = (s: LegState): Step =>
  s.answered || s.terminated
    ? none(s)
    : { state: { ...s, answered: true }, reports: [{ kind: 'answered', gatewayEventId: gatewayEventIds.answered(s.callId) }] };

/** Terminated, once: whatever comes later (room event, RPC, our timer) is a no-op. */
export const terminate = (s: LegState, cause: TerminationCause, sipStatus: number | null, reason: FailureReason | null = null): Step =>
  s.terminated
    ? none(s)
    : {
        state: { ...s, terminated: true, dialPending: false },
        reports: [{ kind: 'terminated', cause, sipStatus, reason, gatewayEventId: gatewayEventIds.terminated(s.callId) }],
      };

/** The RPC settled: with success, the leg is answered; with a failure, it is terminated with `cause`. */
export const dialSettled = (
  s: LegState,
  outcome: { ok: true } | { ok: false; cause: TerminationCause; sipStatus: number | null; reason: FailureReason | null },
): Step => {
  const settled = { ...s, dialPending: false };
  if (outcome.ok) return answer(settled);
  // A failure after answer (e.g. the RPC's own timeout raced a late 200 OK) is not a termination.
  if (settled.answered) return none(settled);
  return terminate(settled, outcome.cause, outcome.sipStatus, outcome.reason);
};

/**
 * The key of an RFC 4733 event code: 0-9, 10 → *, 11 → #, 12-15 → A-D; null for any other event
 * (16 is "flash", 32+ are tones). livekit/sip broadcasts every telephone-event it decodes: A-D as
 * lower-case "a"-"d" and the others as "\u0000", so the code, not its digit, is what we trust.
 */
export const dtmfDigitOf = (code: number): string | null => {
  if (!Number.isInteger(code) || code < 0 || code > 15) return null;
  return '0123456789*#ABCD'[code];
};

/** RFC 4733 event codes: 0-9 → 0-9, * → 10, # → 11, A-D → 12-15. Null for anything else. */
export const dtmfCode = (digit: string): number | null => {
  if (/^[0-9]$/.test(digit)) return Number(digit);
  if (digit === '*') return 10;
  if (digit === '#') return 11;
  const letter = 'ABCD'.indexOf(digit.toUpperCase());
  return digit.length === 1 && letter >= 0 ? 12 + letter : null;
};

const unreachable = (x: never): never => {
  throw new Error(`unhandled room event ${JSON.stringify(x)}`);
};
