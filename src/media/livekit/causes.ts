import type { FailureReason, TerminationCause } from '../../domain/call/events';

export type { FailureReason };

/**
 * THE mapping from what LiveKit SIP tells us about a failed or ended PSTN leg to the contract's
 * termination causes, in one place (issue 22). Three sources say the same thing in different words:
 * the SIP status of the `waitUntilAnswered` RPC error, the Twirp code and message when no SIP status
 * exists, and the participant's `disconnectReason`. Facts: docs/livekit.md, /work/shared/LIVEKIT.md,
 * and livekit/sip `pkg/sip/outbound.go` (`sipResponse`: a ringing timeout is Twirp `canceled` "sip
 * request timed out"; an INVITE transaction that ended without a final response is `canceled`
 * "transaction failed to complete (N intermediate responses)").
 *
 * Every row is checked against the real LiveKit SIP with sipp in test/e2e/voice.e2e.ts where sipp can
 * produce it (busy, decline, no answer, no response, 503), and row by row in causes.spec.ts.
 *
 * `reason` says why a FAILED call failed, as a stable code (CallTerminated.reason), so that a trunk
 * outage can be told from agents not picking up.
 */

export interface DialOutcome {
  cause: TerminationCause;
  sipStatus: number | null;
  /** Set for FAILED, null otherwise. */
  reason: FailureReason | null;
}

const outcome = (cause: TerminationCause, sipStatus: number | null, reason: FailureReason | null = null): DialOutcome => ({ cause, sipStatus, reason });

/**
 * SIP final response → outcome. 486 is busy; 6xx are the callee's own refusal (600 busy everywhere,
 * 603 decline); 404/408/480/487 are nobody answering there (487: our own CANCEL at the ringing
 * timeout); every other 4xx is the carrier refusing, and 5xx is the trunk failing.
 */
export const outcomeOfSipStatus = (status: number): DialOutcome => {
  if (status === 486) return outcome('BUSY', status);
  if (status >= 600 && status <= 699) return outcome('REJECTED', status);
  if (status === 404 || status === 408 || status === 480 || status === 487) return outcome('NO_ANSWER', status);
  if (status >= 500 && status <= 599) return outcome('FAILED', status, 'TRUNK_ERROR');
  return outcome('FAILED', status, 'TRUNK_REFUSED');
};

/** Kept for callers that only need the cause. */
export const causeFromSipStatus = (status: number): TerminationCause => outcomeOfSipStatus(status).cause;

/**
 * LiveKit `DisconnectReason` name → outcome for a leg that ended *before* it was answered, or null
 * when the reason says nothing about the callee (e.g. ROOM_DELETED by our own hang-up).
 * USER_REJECTED covers 486/6xx/401/403/488 in livekit/sip; without the SIP status we cannot tell
 * busy from rejected, so it is REJECTED (the RPC's SIP status, when it arrives first, is more precise).
 */
export const outcomeOfDisconnectReason = (reason: string | null | undefined): DialOutcome | null => {
  switch (reason) {
    case 'USER_REJECTED':
      return outcome('REJECTED', null);
    case 'USER_UNAVAILABLE':
      return outcome('NO_ANSWER', null);
    case 'SIP_TRUNK_FAILURE':
      return outcome('FAILED', null, 'TRUNK_ERROR');
    case 'MEDIA_FAILURE':
      return outcome('FAILED', null, 'MEDIA');
    case 'CONNECTION_TIMEOUT':
    case 'JOIN_FAILURE':
      return outcome('FAILED', null, 'MEDIA_SERVER_UNAVAILABLE');
    default:
      return null;
  }
};

export const causeFromDisconnectReason = (reason: string | null | undefined): TerminationCause | null => outcomeOfDisconnectReason(reason)?.cause ?? null;

/** Cause for a leg that ended *after* answer: a normal BYE is a hang-up; a trunk/media failure is FAILED. */
export const causeAfterAnswer = (reason: string | null | undefined): TerminationCause => {
  const mapped = causeFromDisconnectReason(reason);
  return mapped === 'FAILED' ? 'FAILED' : 'HANGUP';
};

/** The parts of a livekit-server-sdk ServerError / SipCallError that we read (duck-typed on purpose). */
export interface DialErrorLike {
  code?: string;
  message?: string;
  metadata?: Record<string, string>;
  name?: string;
}

/** What the leg saw before the RPC failed: a timeout after an 18x is "no answer", before it "no response". */
export interface DialContext {
  /** The SIP participant reached `sip.callStatus: ringing` (an 18x from the trunk). */
  rang: boolean;
}

const TIMEOUT_MESSAGE = /sip request timed out|context deadline exceeded|deadline/i;
const NO_FINAL_RESPONSE = /transaction failed to complete|transaction timed? ?out|no final response/i;
const TRANSPORT_MESSAGE = /transport|connection refused|network is unreachable|no route to host|unreachable|dial (udp|tcp)|i\/o timeout/i;

/**
 * Failed `createSipParticipant({ waitUntilAnswered: true })` → outcome.
 *
 * | what LiveKit says                                         | rang | outcome                        |
 * | --------------------------------------------------------- | ---- | ------------------------------ |
 * | a SIP status (meta sip_status_code)                       | any  | outcomeOfSipStatus             |
 * | `canceled` "transaction failed to complete (…)"            | any  | FAILED TRUNK_NO_RESPONSE       |
 * | a timeout ("sip request timed out", "deadline exceeded",   | yes  | NO_ANSWER                      |
 * |   our own fetch timeout)                                  | no   | FAILED TRUNK_NO_RESPONSE       |
 * | `unavailable`/`resource_exhausted` ("cpu exhausted")       | any  | FAILED MEDIA_SERVER_UNAVAILABLE |
 * | a transport error message, or no HTTP answer (fetch)      | any  | FAILED TRANSPORT               |
 * | `failed_precondition` otherwise (bad SDP, auth missing)    | any  | FAILED MEDIA / TRUNK_REFUSED   |
 * | anything else                                             | any  | FAILED UNKNOWN                 |
 *
 * "No answer" needs the far end to have rung: a trunk that never sent an 18x was never reached, and a
 * ringing timeout shorter than the INVITE's own (Timer B, 32 s) hides that behind the same message.
 */
export const dialFailureOutcome = (error: unknown, context: DialContext = { rang: false }): DialOutcome => {
  const e = (typeof error === 'object' && error !== null ? error : {}) as DialErrorLike;
  const raw = e.metadata?.sip_status_code;
  const sipStatus = raw !== undefined && /^\d{3}$/.test(raw) ? Number(raw) : null;
  if (sipStatus !== null) return outcomeOfSipStatus(sipStatus);
  const message = typeof e.message === 'string' ? e.message : '';
  const timeout = () => (context.rang ? outcome('NO_ANSWER', null) : outcome('FAILED', null, 'TRUNK_NO_RESPONSE'));
  if (NO_FINAL_RESPONSE.test(message)) return outcome('FAILED', null, 'TRUNK_NO_RESPONSE');
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return timeout();
  switch (e.code) {
    case 'canceled':
    case 'deadline_exceeded':
      return TRANSPORT_MESSAGE.test(message) ? outcome('FAILED', null, 'TRANSPORT') : timeout();
    case 'failed_precondition':
      if (TIMEOUT_MESSAGE.test(message)) return timeout();
      if (/auth|credential/i.test(message)) return outcome('FAILED', null, 'TRUNK_REFUSED');
      return outcome('FAILED', null, TRANSPORT_MESSAGE.test(message) ? 'TRANSPORT' : 'MEDIA');
    case 'unavailable':
    case 'resource_exhausted':
      return outcome('FAILED', null, 'MEDIA_SERVER_UNAVAILABLE');
    default:
      // No Twirp code at all: the request never got an HTTP answer (fetch failed, ECONNREFUSED).
      if (e.code === undefined || TRANSPORT_MESSAGE.test(message)) return outcome('FAILED', null, 'TRANSPORT');
      return outcome('FAILED', null, 'UNKNOWN');
  }
};
