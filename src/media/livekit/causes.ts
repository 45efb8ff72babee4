import type { TerminationCause } from '../../domain/call/events';

/**
 * Pure mapping from what LiveKit SIP tells us about a failed or ended PSTN leg to the contract's
 * termination causes. Three sources say the same thing in different words: the SIP status of the
 * `waitUntilAnswered` RPC error, the participant's `disconnectReason`, and the Twirp code when no
 * SIP status exists (no answer). Facts: /work/shared/LIVEKIT.md.
 */

/** SIP final response → cause. 486 and 600 both say "busy", but the contract groups 6xx as REJECTED. */
export const causeFromSipStatus = (status: number): TerminationCause => {
  if (status === 486) return 'BUSY';
  if (status >= 600 && status <= 699) return 'REJECTED';
  // 404 unknown number, 408 timeout, 480 temporarily unavailable, 487 cancelled by our ringing timeout.
  if (status === 404 || status === 408 || status === 480 || status === 487) return 'NO_ANSWER';
  // Other 4xx (401/403 carrier refused the caller ID, 488 codecs) and every 5xx: the call could not be placed.
  return 'FAILED';
};

/**
 * LiveKit `DisconnectReason` name → cause for a leg that ended *before* it was answered, or null
 * when the reason says nothing about the callee (e.g. ROOM_DELETED by our own hang-up).
 * USER_REJECTED covers 486/6xx/401/403/488 in livekit/sip; without the SIP status we cannot tell
 * busy from rejected, so it is REJECTED (the RPC's SIP status, when it arrives first, is more precise).
 */
export const causeFromDisconnectReason = (reason: string | null | undefined): TerminationCause | null => {
  switch (reason) {
    case 'USER_REJECTED':
      return 'REJECTED';
    case 'USER_UNAVAILABLE':
      return 'NO_ANSWER';
    case 'SIP_TRUNK_FAILURE':
    case 'MEDIA_FAILURE':
    case 'CONNECTION_TIMEOUT':
    case 'JOIN_FAILURE':
      return 'FAILED';
    default:
      return null;
  }
};

/** Cause for a leg that ended *after* answer: a normal BYE is a hang-up; a trunk/media failure is FAILED. */
export const causeAfterAnswer = (reason: string | null | undefined): TerminationCause => {
  const mapped = causeFromDisconnectReason(reason);
  return mapped === 'FAILED' ? 'FAILED' : 'HANGUP';
};

/** The parts of a livekit-server-sdk ServerError / SipCallError that we read (duck-typed on purpose). */
export interface DialErrorLike {
  code?: string;
  metadata?: Record<string, string>;
  name?: string;
}

export interface DialOutcome {
  cause: TerminationCause;
  sipStatus: number | null;
}

/**
 * Failed `createSipParticipant({ waitUntilAnswered: true })` → cause and SIP status.
 * No answer carries no SIP code: Twirp `canceled` ("sip request timed out") or
 * `failed_precondition`/`deadline_exceeded` ("context deadline exceeded"); our own fetch timeout
 * (AbortSignal.timeout → TimeoutError) means the same thing.
 */
export const dialFailureOutcome = (error: unknown): DialOutcome => {
  const e = (typeof error === 'object' && error !== null ? error : {}) as DialErrorLike;
  const raw = e.metadata?.sip_status_code;
  const sipStatus = raw !== undefined && /^\d{3}$/.test(raw) ? Number(raw) : null;
  if (sipStatus !== null) return { cause: causeFromSipStatus(sipStatus), sipStatus };
  switch (e.code) {
    case 'canceled':
    case 'failed_precondition':
    case 'deadline_exceeded':
      return { cause: 'NO_ANSWER', sipStatus: null };
    default:
      if (e.name === 'TimeoutError' || e.name === 'AbortError') return { cause: 'NO_ANSWER', sipStatus: null };
      return { cause: 'FAILED', sipStatus: null };
  }
};
