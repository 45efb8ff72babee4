import type { TerminationCause } from '../domain/call/events';

/** What the caller's browser needs to join the call's media (contract type MediaJoin). */
export interface MediaJoin {
  provider: string;
  url: string | null;
  token: string | null;
  room: string | null;
}

export interface DialRequest {
  callId: string;
  merchantId: string;
  /** The call center's E.164 number: only ever a number the merchant configured. */
  destination: string;
  /** The seized port's caller ID. */
  ani: string;
  gatewayId: string;
  port: number;
  /**
   * How long the callee's side may ring before the media gives up with NO_ANSWER (0: the adapter's
   * configured default). The call supervisor ends a call that rings longer anyway.
   */
  ringingTimeoutSeconds: number;
  /** How long the call may last once answered (0: the adapter's default); the supervisor enforces it too. */
  maxDurationSeconds: number;
  /**
   * Who is calling, for the call center in-band (issue 23): an adapter that places SIP calls puts
   * these on the INVITE as X-Webdial-* headers. Absent (older callers, the simulator): no identity.
   */
  identity?: {
    linkId: string;
    customerId: string | null;
    sessionId: string | null;
    /** Digits (0-9, then `#`) to send as RFC 4733 DTMF right after the answer; null: nothing (the center did not opt in, or no session number). */
    dtmfAfterAnswer: string | null;
  };
  /**
   * A second phone leg of a live call (issue 25: a PSTN center's callback dials the shopper, a
   * transfer dials a PSTN center): the call whose room this leg joins. The request's `callId` is
   * then the leg's own id, `legIdOf(intoCallId, name)`, and every progress report of the leg reaches
   * the sink under that id. `hangUp(legId)` removes only that leg's phone from the room (a BYE to it);
   * `hangUp(intoCallId)` ends the call with every leg in it, reporting nothing for them.
   * Absent: the call's own (first) leg.
   */
  intoCallId?: string;
}

/** What may name a second leg: lower-case letters, then digits (`shopper`, `t2`). */
const LEG_NAME = /^[a-z]+[0-9]*$/;

/** The id of call `callId`'s second phone leg `name` (DialRequest.intoCallId): `<callId>.<name>`. */
export const legIdOf = (callId: string, name: string): string => {
  if (!LEG_NAME.test(name)) throw new Error(`a leg name is lower-case letters then digits, not ${JSON.stringify(name)}`);
  return `${callId}.${name}`;
};

/**
 * The call and leg name a report's id is about: `{ callId, leg: null }` for a call's own leg (call ids
 * never hold a dot: ../app/ids.ts), `{ callId, leg: name }` for a second leg's id (legIdOf).
 */
export const parseLegId = (id: string): { callId: string; leg: string | null } => {
  const dot = id.lastIndexOf('.');
  if (dot <= 0 || !LEG_NAME.test(id.slice(dot + 1))) return { callId: id, leg: null };
  return { callId: id.slice(0, dot), leg: id.slice(dot + 1) };
};

/**
 * Progress of the PSTN leg, reported by a media adapter. Each call maps 1:1 to a GATEWAY mutation
 * and goes through the same command handler; `gatewayEventId` makes a repeated report a no-op.
 */
export interface CallProgressSink {
  ringing(callId: string, gatewayEventId: string): Promise<void>;
  answered(callId: string, gatewayEventId: string): Promise<void>;
  dtmf(callId: string, digits: string, gatewayEventId: string): Promise<void>;
  /** `reason`: why a FAILED call failed, a stable code (e.g. TRUNK_NO_RESPONSE); null or absent otherwise. */
  terminated(callId: string, cause: TerminationCause, sipStatus: number | null, gatewayEventId: string, reason?: string | null): Promise<void>;
}

/**
 * The media gateway port: carries the audio between the shopper's browser and the call center.
 * Adapters: the call-center simulator, LiveKit SIP, and `external` (dials nothing).
 * Failures of dial() are reported through the sink as a FAILED termination, not thrown, unless
 * the adapter could not even accept the request.
 */
export interface MediaGateway {
  readonly provider: string;
  /** Join details for the caller at download time (room + token for LiveKit; nulls otherwise). */
  joinDetails(callId: string): Promise<MediaJoin>;
  /** Starts dialling the PSTN leg; progress arrives through the sink. */
  dial(request: DialRequest): Promise<void>;
  /** Ends the PSTN leg (caller hung up, or the server timed the call out). Idempotent. */
  hangUp(callId: string): Promise<void>;
  /** Sends DTMF toward the call center. */
  sendDtmf(callId: string, digits: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A phone call that reached one of our numbers (issue 23), as the media adapter saw it arrive: the
 * inbound trunk took the INVITE and the dispatch rule put the caller into a room of its own,
 * `call-<callId>` (so that every room operation by call id, hang-up included, works as for any call).
 * The same arrival reported twice (two webhooks, two instances) carries the same callId.
 */
export interface InboundArrival {
  callId: string;
  /** The number dialled (E.164, the INVITE's To user; LiveKit's `sip.trunkPhoneNumber`). */
  did: string;
  /** The caller's number as the carrier gave it (`sip.phoneNumber`): the call's ANI. */
  caller: string;
  /** LiveKit SIP's id of the call (`sip.callID`), for operators; null when absent. */
  sipCallId: string | null;
}

/**
 * What webdial made of an arrival (or of an ID keyed at a main number's prompt):
 * - RING: it rings in its destination's consoles (the caller hears ringing, or silence after a
 *   prompt, until an agent answers); the adapter follows the leg.
 * - REFUSE: the adapter ends the SIP leg. `sipStatus` is what the caller should hear (486 Busy Here:
 *   no free capacity; 404: no destination), as far as the media server lets the adapter choose.
 * - MENU: the number is a merchant's main number: the adapter answers the call with the spoken prompt
 *   (`PROMPT` below), collects the digits the caller keys up to `#` (at most 32; a pause of
 *   `MENU_TIMEOUT_MS` after the prompt's end or the last key ends the try with what was keyed) and hands every try so far to
 *   `InboundCallSink.keyed`, which answers RING, REFUSE or MENU again (play the prompt again).
 */
export type InboundDecision =
  | { kind: 'RING' }
  | { kind: 'REFUSE'; sipStatus: number; reason: string }
  | { kind: 'MENU'; triesLeft: number };

/** How long the caller has to key an ID and `#` after the prompt ended. */
export const MENU_TIMEOUT_MS = 10_000;

/** The application side of inbound calls, called by the media adapter. Idempotent per callId. */
export interface InboundCallSink {
  arrived(arrival: InboundArrival): Promise<InboundDecision>;
  /**
   * The caller keyed an ID at a main number's prompt: `tries` holds every try so far, oldest first,
   * each the digits keyed before `#` (without it; '' for a try that timed out). Answers RING (the call
   * is now recorded and rings: follow the leg, which the prompt answered already), MENU (prompt again)
   * or REFUSE (end the call).
   */
  keyed(arrival: InboundArrival, tries: readonly string[]): Promise<InboundDecision>;
}
