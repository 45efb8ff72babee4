import { AccessToken, RoomServiceClient, SipClient, TrackSource } from 'livekit-server-sdk';
import { MENU_TIMEOUT_MS, parseLegId, type CallProgressSink, type DialRequest, type InboundArrival, type InboundCallSink, type MediaGateway, type MediaJoin } from '../../ports/media';
import { badInput } from '../../domain/shared/errors';
import { dialFailureOutcome } from './causes';
import { findOrCreateOutboundTrunk } from './outbound-trunk';
import { identityHeaders } from './identity-headers';
import {
  applyRoomEvent,
  callerIdentityFor,
  dialSettled,
  dtmfCode,
  dtmfDigitOf,
  inboundLegState,
  initialLegState,
  roomNameFor,
  serverIdentityFor,
  sipIdentityFor,
  terminate,
  type LegRoomEvent,
  type LegState,
  type ProgressReport,
  type Step,
} from './room-events';
import type { AudioOut, RoomParticipant, RoomParticipantFactory } from './room-participant';
import { newTry, pressKey, promptEnded, timedOut } from './keypad';
import { ENTER_ID_PROMPT, readPrompt, type Pcm } from './wav';
import { isConnectionError } from '../../ports/dependency';

/** The subset of a pino logger we use: `(fields, message)`. */
export interface MediaLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OutboundTrunkConfig {
  /** The deployment's trunk, found by this name at start-up or created (LIVEKIT_SIP_TRUNK_NAME, default `webdial`). */
  name?: string;
  /** Hostname[:port] of the carrier's SIP server. */
  address: string;
  /** The numbers (ANIs) the trunk may present. */
  numbers: string[];
  authUsername?: string;
  authPassword?: string;
}

export interface LiveKitMediaConfig {
  /** LiveKit server URL as webdial reaches it (http(s):// or ws(s)://). */
  url: string;
  /** URL the caller's browser joins, when it differs from `url` (e.g. wss://media.example.com). */
  publicUrl?: string;
  apiKey: string;
  apiSecret: string;
  /** An existing outbound trunk (LIVEKIT_SIP_TRUNK_ID); otherwise `outboundTrunk` is found by name or created, at start-up. */
  sipTrunkId?: string;
  outboundTrunk?: OutboundTrunkConfig;
  ringingTimeoutSeconds: number;
  maxDurationSeconds: number;
  callerTokenTtlSeconds: number;
  /** Pause between DTMF digits sent toward the call center (default 250 ms). */
  dtmfGapMs?: number;
  /** How long dial() waits for the server participant to join before dialling without it (default 5 s). */
  roomJoinTimeoutMs?: number;
  /** A main number's keypad timeout, from the prompt's end and from each key (default MENU_TIMEOUT_MS; tests shorten it). */
  menuTimeoutMs?: number;
}

export interface LiveKitMediaDeps {
  logger: MediaLogger;
  /** Defaults to the @livekit/rtc-node participant (rtc-room-participant.ts). */
  roomParticipantFactory?: RoomParticipantFactory;
  /** Timer for our own max-duration limit and the DTMF gap (tests pass a controllable one). */
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /**
   * Told when LiveKit itself could not be reached (a refused or dropped connection), for the
   * dependency metric. The call it concerned still ends cleanly (FAILED, or without ringing/DTMF).
   */
  onUnreachable?: (error: unknown, where: string) => void;
  /** webdial's LOG_LEVEL, given to @livekit/rtc-node's own logger (default `info`). */
  logLevel?: string;
}

/** The MediaGateway, plus what the webhook handler needs to know to defer to it. */
export interface LiveKitMedia extends MediaGateway {
  /**
   * True while this process follows the call's PSTN leg (dialled here, not yet ended), and for a
   * main number's call that ended in its menu (nothing to report: no call was recorded). The webhook
   * handler then leaves the leg's end to this adapter, which knows the SIP status (486 vs 603).
   */
  isTracking(callId: string): boolean;
  /**
   * Follows an inbound call that the application accepted (issue 23): our server participant joins
   * the call's room `call-<callId>` and reports, through the same sink as a dialled leg, `answered`
   * when `sip.callStatus` becomes `active` (LiveKit SIP sends the 200 OK once someone else in the
   * room publishes audio: the agent's console; INBOUND.md), `dtmf` for the caller's RFC 4733 keys and
   * `terminated` when the SIP participant `sipIdentity` (`sip_<caller>`) leaves (the caller's BYE:
   * HANGUP). End it with hangUp(callId), which deletes the room (486 to a caller still ringing, BYE
   * after the answer). Never rejects: a room it cannot join is logged and left to the webhooks, and
   * a caller gone before we joined is reported as a HANGUP. A call already followed: a no-op.
   */
  followInbound(callId: string, sipIdentity: string): Promise<void>;
  /**
   * A merchant's main number (issue 23, decision MENU): our server participant joins `call-<callId>`
   * and publishes the spoken prompt (assets/prompts/enter-id.wav), which answers the phone (LiveKit
   * SIP's 200 OK); the caller keys an ID and `#` (keypad.ts), and every try so far goes to
   * `inbound.keyed`: MENU plays the prompt again, REFUSE ends the call (the room is deleted: a BYE),
   * RING unpublishes the prompt and follows the leg as followInbound does, answered already (no
   * `answered` report: the agent answers in the console; DTMF and the caller's BYE are reported).
   * The caller hanging up during the menu is reported to nobody (no call is recorded yet). Never
   * rejects; a call already followed or in its menu: a no-op.
   */
  runMenu(arrival: InboundArrival, sipIdentity: string, inbound: InboundCallSink): Promise<void>;
}

/** A main number's menu while it runs: the SIP participant's room events go to it, not to the sink. */
interface MenuRun {
  onEvent(e: LegRoomEvent): void;
  /** hangUp() or close(): the menu ends, reporting nothing. */
  stop(): void;
}

interface Leg {
  /** The call's id, or a second leg's own id (DialRequest.intoCallId). */
  callId: string;
  /** The call whose room the leg is in: `callId` itself, or a second leg's `intoCallId`. */
  roomOf: string;
  state: LegState;
  /** The dialled leg's request; null for an inbound call. */
  request: DialRequest | null;
  /** Our own limit from answer (the request's, or the configured one for an inbound call). */
  maxDurationSeconds: number;
  /** The SIP participant was seen in the room (an inbound caller may be gone before we join). */
  sipSeen: boolean;
  participant: RoomParticipant | null;
  cancelTimer: (() => void) | null;
  /** Tail of this leg's report queue (never rejects: report() logs its failures). */
  delivered: Promise<void>;
  /** Set while a main number's menu runs on this leg (runMenu). */
  menu?: MenuRun | null;
}

/** Token lifetime of our own server participant: it is checked at connect time only. */
const SERVER_TOKEN_TTL_SECONDS = 600;
/** Slack between our max-duration timer and LiveKit's `maxCallDuration`. */
const BACKSTOP_MARGIN_SECONDS = 30;
/** How long a menu waits for LiveKit SIP's 200 OK (`sip.callStatus` active) before it plays the prompt anyway. */
const MENU_ANSWER_WAIT_MS = 5000;
/** Main-number calls that ended in their menu, remembered so that their late webhooks stay ours. */
const MENU_ENDED_REMEMBERED = 1000;
/** A failed deleteRoom of a room still listed is tried again after these delays (then given up, logged at error). */
const DELETE_RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

const errorFields = (e: unknown) => ({ err: e instanceof Error ? { name: e.name, message: e.message } : String(e) });
const isNotFound = (e: unknown) => typeof e === 'object' && e !== null && (e as { code?: string }).code === 'not_found';

/**
 * The LiveKit SIP media gateway: one room per call (`call-<callId>`); the caller's browser joins
 * with a microphone-only token; the PSTN leg joins through `SipClient.createSipParticipant`; a
 * server-run room participant follows its `sip.callStatus` and DTMF. Progress goes to `sink`.
 *
 * Failure contract (MediaGateway): dial() rejects only when the request cannot even be accepted
 * (no outbound trunk can be found or created); everything after that is reported through the
 * sink as a termination with a mapped cause. hangUp() is idempotent and tolerates a room that is
 * already gone. Throws at construction when neither `sipTrunkId` nor `outboundTrunk` is set.
 */
export const createLiveKitMedia = (
  config: LiveKitMediaConfig,
  sink: CallProgressSink,
  deps: LiveKitMediaDeps,
): LiveKitMedia => {
  if (!config.sipTrunkId && !config.outboundTrunk)
    throw new Error('LiveKit media needs LIVEKIT_SIP_TRUNK_ID (an existing outbound trunk) or an outbound trunk to create');
  const { logger } = deps;
  const unreachable = (e: unknown, where: string) => {
    if (isConnectionError(e)) deps.onUnreachable?.(e, where);
  };
  const sip = new SipClient(config.url, config.apiKey, config.apiSecret);
  const rooms = new RoomServiceClient(config.url, config.apiKey, config.apiSecret);
  const schedule = deps.setTimeout ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const unschedule = deps.clearTimeout ?? (deps.setTimeout ? () => undefined : (h: unknown) => clearTimeout(h as NodeJS.Timeout));
  const rtcModule = () => require('./rtc-room-participant') as typeof import('./rtc-room-participant');
  const participantFactory: RoomParticipantFactory =
    deps.roomParticipantFactory ??
    ((url) => {
      rtcModule().setRtcNodeLogLevel(deps.logLevel ?? 'info');
      return rtcModule().createRtcRoomParticipant(url);
    });
  // The request carries the call's own limits; the configured ones are the fallback.
  const ringingSeconds = (r: DialRequest) => (r.ringingTimeoutSeconds > 0 ? r.ringingTimeoutSeconds : config.ringingTimeoutSeconds);
  const maxDurationSeconds = (r: DialRequest) => (r.maxDurationSeconds > 0 ? r.maxDurationSeconds : config.maxDurationSeconds);
  const legs = new Map<string, Leg>();
  const menuEnded = new Set<string>(); // insertion-ordered: the oldest is forgotten first
  let closed = false;
  const roomJoinTimeoutMs = config.roomJoinTimeoutMs ?? 5000;
  const menuTimeoutMs = config.menuTimeoutMs ?? MENU_TIMEOUT_MS;

  const withTimeout = <T>(p: Promise<T>, ms: number, message: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let done = false;
      const handle = schedule(() => {
        if (!done) reject(new Error(message));
        done = true;
      }, ms);
      p.then(
        (v) => {
          if (done) return;
          done = true;
          unschedule(handle);
          resolve(v);
        },
        (e: unknown) => {
          if (done) return;
          done = true;
          unschedule(handle);
          reject(e);
        },
      );
    });

  // Found by name or created once per process, from start-up (outbound-trunk.ts); a failure is
  // retried by the next dial.
  let trunkId: Promise<string> | null = config.sipTrunkId ? Promise.resolve(config.sipTrunkId) : null;
  const outboundTrunkId = (): Promise<string> => {
    if (trunkId) return trunkId;
    const t = config.outboundTrunk!;
    trunkId = findOrCreateOutboundTrunk(sip, { ...t, name: t.name ?? 'webdial' }, logger).catch((e: unknown) => {
      trunkId = null;
      throw e;
    });
    return trunkId;
  };
  if (!config.sipTrunkId)
    outboundTrunkId().catch((e: unknown) => {
      unreachable(e, 'outbound trunk');
      logger.warn({ ...errorFields(e) }, 'LiveKit outbound trunk could not be found or created at start-up; the first dial retries');
    });

  /**
   * Deletes the call's room; a room that is already gone is not a failure. LiveKit closes a room by
   * itself once its last non-agent participant left (the SIP leg after the callee's BYE), and a delete
   * racing that close fails with another code than not_found (issue 22: `deleteRoom failed` in 4 of
   * 19 real calls). So a failure is only a warning when the room is still listed afterwards.
   */
  const deleteRoom = async (callId: string, attempt = 1): Promise<void> => {
    const room = roomNameFor(callId);
    try {
      await rooms.deleteRoom(room);
      if (attempt > 1) logger.info({ callId, attempt }, 'LiveKit deleteRoom succeeded on a retry');
    } catch (e) {
      unreachable(e, 'deleteRoom');
      if (isNotFound(e)) return;
      const stillThere = await rooms.listRooms([room]).then(
        (listed) => listed.some((r) => r.name === room),
        () => true,
      );
      if (!stillThere) return logger.info({ callId, ...errorFields(e) }, 'LiveKit deleteRoom raced the room closing by itself: gone');
      // The call is already recorded as ended, and only the room's deletion sends the phone its BYE:
      // a room left behind keeps the phone connected until LiveKit SIP's own timeouts. So the delete
      // is tried again in the background (the hang-up is not held), with backoff, while the room is listed.
      const delayMs = DELETE_RETRY_DELAYS_MS[attempt - 1];
      if (delayMs === undefined || closed) return logger.error({ callId, attempts: attempt, ...errorFields(e) }, 'LiveKit deleteRoom failed; giving up: the phone may stay connected');
      logger.warn({ callId, attempt, retryInMs: delayMs, ...errorFields(e) }, 'LiveKit deleteRoom failed; trying again');
      schedule(() => void deleteRoom(callId, attempt + 1), delayMs);
    }
  };

  const report = async (callId: string, r: ProgressReport): Promise<void> => {
    if (closed) return;
    try {
      switch (r.kind) {
        case 'ringing':
          return await sink.ringing(callId, r.gatewayEventId);
        case 'answered':
          return await sink.answered(callId, r.gatewayEventId);
        case 'dtmf':
          return await sink.dtmf(callId, r.digits, r.gatewayEventId);
        case 'terminated':
          return await sink.terminated(callId, r.cause, r.sipStatus, r.gatewayEventId, r.reason);
        default: {
          const never: never = r;
          throw new Error(`unhandled report ${JSON.stringify(never)}`);
        }
      }
    } catch (e) {
      logger.error({ callId, report: r, ...errorFields(e) }, 'progress report failed');
    }
  };

  /** Removes a second leg's phone from its call's room (a BYE to it); one already gone is not a failure. */
  const removePhone = async (roomOf: string, sipIdentity: string): Promise<void> => {
    try {
      await rooms.removeParticipant(roomNameFor(roomOf), sipIdentity);
    } catch (e) {
      unreachable(e, 'removeParticipant');
      if (!isNotFound(e)) logger.warn({ callId: roomOf, sipIdentity, ...errorFields(e) }, 'LiveKit removeParticipant of a second leg failed');
    }
  };

  /**
   * Ends our side of a leg: timer, server participant, then the room (which ends every SIP leg in it
   * with a BYE), or for a second leg only its phone.
   */
  const release = async (leg: Leg): Promise<void> => {
    const callId = leg.callId;
    if (legs.get(callId) === leg) legs.delete(callId);
    leg.cancelTimer?.();
    leg.cancelTimer = null;
    const p = leg.participant;
    leg.participant = null;
    await p?.disconnect().catch(() => undefined);
    if (leg.roomOf !== callId) return removePhone(leg.roomOf, leg.state.sipIdentity);
    // The call's second legs go with its room: stopped here first, so that they report nothing.
    for (const other of [...legs.values()]) if (other.roomOf === callId && other !== leg) await stopSilently(other, false);
    await deleteRoom(callId);
  };

  /** Stops following a leg without a report (the call recorded why it ended); `remove`: its phone too. */
  const stopSilently = async (leg: Leg, remove: boolean): Promise<void> => {
    leg.state = { ...leg.state, terminated: true, dialPending: false };
    leg.menu?.stop();
    if (remove) return release(leg);
    if (legs.get(leg.callId) === leg) legs.delete(leg.callId);
    leg.cancelTimer?.();
    leg.cancelTimer = null;
    const p = leg.participant;
    leg.participant = null;
    await p?.disconnect().catch(() => undefined);
  };

  const startMaxDurationTimer = (leg: Leg): void => {
    if (leg.cancelTimer) return;
    let cancelled = false;
    const handle = schedule(() => {
      if (cancelled) return;
      logger.info({ callId: leg.callId }, 'max call duration reached: ending the call');
      void advance(leg, terminate(leg.state, 'MAX_DURATION', null));
    }, leg.maxDurationSeconds * 1000);
    leg.cancelTimer = () => {
      cancelled = true;
      unschedule(handle);
    };
  };

  /** Applies one step: new state, reports in order, then the side effects a report implies. */
  const advance = (leg: Leg, step: Step): Promise<void> => {
    leg.state = step.state; // synchronously, so that the next event folds over this one
    if (step.reports.length === 0) return leg.delivered;
    // Reports of one leg reach the sink one at a time, in order: ringing before answered.
    leg.delivered = leg.delivered.then(async () => {
      for (const r of step.reports) {
        if (r.kind === 'answered') startMaxDurationTimer(leg);
        await report(leg.callId, r);
        // Only after the report: deleting the room makes the caller leave too, and that must not
        // reach the domain (as a caller hang-up) before the real cause did.
        if (r.kind === 'terminated') await release(leg);
      }
    });
    return leg.delivered;
  };

  const onRoomEvent = (leg: Leg) => (e: LegRoomEvent) => {
    if (e.identity === leg.state.sipIdentity && e.type !== 'participantLeft') leg.sipSeen = true;
    if (leg.menu) return leg.menu.onEvent(e);
    if (e.type === 'dtmf' && e.identity === leg.state.sipIdentity && dtmfDigitOf(e.code) === null)
      logger.warn(
        { callId: leg.callId, code: e.code, digit: e.digit },
        `DTMF refused: RFC 4733 event ${e.code} from the ${leg.state.inbound ? 'caller' : 'call center'} is not a DTMF key (0-9 * # A-D); nothing recorded`,
      );
    void advance(leg, applyRoomEvent(leg.state, e));
  };

  /**
   * Our participant following leg `callId` in the room of call `roomOf`. `publish`: a main number's
   * menu publishes its prompt (an audio track); otherwise we never publish.
   */
  const serverToken = (callId: string, roomOf: string, publish = false): Promise<string> => {
    const at = new AccessToken(config.apiKey, config.apiSecret, {
      identity: serverIdentityFor(callId),
      name: 'webdial',
      ttl: SERVER_TOKEN_TTL_SECONDS,
    });
    // An agent participant is "dependent": it does not keep the room open once the others left.
    at.kind = 'agent';
    at.addGrant({
      roomJoin: true,
      room: roomNameFor(roomOf),
      canPublish: publish,
      ...(publish ? { canPublishSources: [TrackSource.MICROPHONE] } : {}),
      canPublishData: true, // publishDtmf is a data packet
      canSubscribe: true, // data packets (SipDTMF); tracks are not auto-subscribed
    });
    return at.toJwt();
  };

  const joinRoom = async (leg: Leg, publish = false): Promise<void> => {
    const callId = leg.callId;
    // rtc-node signals over WebSocket: the same server as the Twirp API, ws(s):// instead of http(s)://.
    const participant = participantFactory(config.url.replace(/^http/, 'ws'));
    participant.on('attributes', (e) => onRoomEvent(leg)({ type: 'attributes', ...e }));
    participant.on('dtmf', (e) => onRoomEvent(leg)({ type: 'dtmf', ...e }));
    participant.on('participantLeft', (e) => onRoomEvent(leg)({ type: 'participantLeft', ...e }));
    try {
      await withTimeout(participant.connect(roomNameFor(leg.roomOf), await serverToken(callId, leg.roomOf, publish)), roomJoinTimeoutMs, 'room join timed out');
      if (leg.state.terminated) {
        // Hung up while we were joining: our join re-created the room, so remove it again (a second
        // leg's room is its call's: left as it is).
        await participant.disconnect();
        if (leg.roomOf === callId) await deleteRoom(callId);
        return;
      }
      leg.participant = participant;
    } catch (e) {
      void participant.disconnect().catch(() => undefined);
      unreachable(e, 'room join');
      // Without it we lose ringing and DTMF, but the dial RPC still reports answer and failure.
      logger.warn({ callId, ...errorFields(e) }, 'server room participant could not join; dialling without ringing/DTMF');
    }
  };

  const placeCall = async (leg: Leg, r: DialRequest, sipTrunkId: string): Promise<void> => {
    try {
      await sip.createSipParticipant(sipTrunkId, r.destination, roomNameFor(leg.roomOf), {
        fromNumber: r.ani,
        participantIdentity: leg.state.sipIdentity,
        participantName: leg.roomOf === r.callId ? 'call center' : 'phone',
        // `callId` is the leg's id (a second leg's own), as the webhooks report it (webhooks.ts).
        participantAttributes: { callId: r.callId, merchantId: r.merchantId, gatewayId: r.gatewayId, port: String(r.port), ...(leg.roomOf === r.callId ? {} : { intoCallId: leg.roomOf }) },
        ringingTimeout: ringingSeconds(r),
        // LiveKit's limit is only the backstop: it may count from the INVITE, and ours (from answer)
        // must fire first so that the call ends as MAX_DURATION rather than as a callee hang-up.
        maxCallDuration: maxDurationSeconds(r) + ringingSeconds(r) + BACKSTOP_MARGIN_SECONDS,
        waitUntilAnswered: true,
        // Who is calling, in-band (issue 23): X-Webdial-* on the INVITE, and for a center that opted
        // in, the session number and # as RFC 4733 DTMF, which LiveKit SIP plays right after the 200 OK.
        // A second leg names its call (the id a center's CRM knows), not the leg.
        headers: identityHeaders({ ...r, callId: r.intoCallId ?? r.callId }),
        ...(r.identity?.dtmfAfterAnswer ? { dtmf: r.identity.dtmfAfterAnswer } : {}),
      });
      await advance(leg, dialSettled(leg.state, { ok: true }));
    } catch (e) {
      const outcome = dialFailureOutcome(e, { rang: leg.state.ringing });
      logger.info({ callId: r.callId, ...outcome, ...errorFields(e) }, 'LiveKit SIP dial ended without answer');
      unreachable(e, 'createSipParticipant');
      await advance(leg, dialSettled(leg.state, { ok: false, ...outcome }));
    }
  };


  /** A phone's call that we follow (followInbound) or answer with a main number's menu (runMenu). */
  const inboundLeg = (callId: string, sipIdentity: string, menu: MenuRun | null): Leg => ({
    callId,
    roomOf: callId,
    state: inboundLegState(callId, sipIdentity),
    request: null,
    maxDurationSeconds: config.maxDurationSeconds,
    sipSeen: false,
    participant: null,
    cancelTimer: null,
    delivered: Promise.resolve(),
    menu,
  });

  let prompt: Pcm | null = null;
  const enterIdPrompt = (): Pcm => (prompt ??= readPrompt(ENTER_ID_PROMPT));

  /** A main-number call ended in its menu: its room's late webhooks (the caller's leave) stay ours. */
  const endedInMenu = (callId: string): void => {
    menuEnded.add(callId);
    if (menuEnded.size > MENU_ENDED_REMEMBERED) menuEnded.delete(menuEnded.values().next().value as string);
  };

  const runMenu = async (arrival: InboundArrival, sipIdentity: string, inbound: InboundCallSink): Promise<void> => {
    const { callId } = arrival;
    if (closed || legs.has(callId) || menuEnded.has(callId)) return; // a repeated arrival: under way already
    // What the room told the menu, consumed by the loop below; `wake` resolves its current wait.
    const keys: string[] = [];
    let answered = false;
    let gone = false;
    let stopped = false;
    let wake: () => void = () => undefined;
    const poke = () => wake();
    const leg = inboundLeg(callId, sipIdentity, {
      onEvent(e) {
        if (e.identity !== sipIdentity) return;
        if (e.type === 'attributes' && e.attributes['sip.callStatus'] === 'active') answered = true;
        if (e.type === 'dtmf') {
          const digit = dtmfDigitOf(e.code);
          if (digit !== null) keys.push(digit);
        }
        if (e.type === 'participantLeft') gone = true;
        poke();
      },
      stop() {
        stopped = true;
        poke();
      },
    });
    const over = () => stopped || gone || closed || legs.get(callId) !== leg;
    /** Waits for the next room event, at most `ms` (null: no limit). */
    const next = (ms: number | null) =>
      new Promise<void>((resolve) => {
        const handle = ms === null ? null : schedule(resolve, Math.max(0, ms));
        wake = () => {
          if (handle !== null) unschedule(handle);
          resolve();
        };
      });
    /** Ends a menu that found no call: room deleted (the caller hears BYE, or 486 if never answered), nothing reported. */
    const endMenu = async (why: string, e?: unknown) => {
      logger.info({ callId, why, ...(e === undefined ? {} : errorFields(e)) }, 'main number: the call ends in its menu');
      leg.menu = null;
      endedInMenu(callId);
      await release(leg);
    };

    legs.set(callId, leg); // before the join: the webhook of a quick hang-up defers to us
    await joinRoom(leg, true);
    if (stopped || closed || legs.get(callId) !== leg) return; // hung up (and released) while we joined
    if (gone) return endMenu('the caller hung up');
    if (!leg.participant) return endMenu('our room participant could not join');
    if (!leg.sipSeen) return endMenu('the caller was gone before we joined');

    let pcm: Pcm;
    let audio: AudioOut;
    try {
      pcm = enterIdPrompt();
      audio = await leg.participant.publishAudio(pcm.sampleRate); // LiveKit SIP subscribes: 200 OK
    } catch (e) {
      logger.error({ callId, ...errorFields(e) }, 'main number: the prompt could not be published');
      return endMenu('no prompt', e);
    }
    const answerBy = Date.now() + MENU_ANSWER_WAIT_MS;
    while (!answered && !over() && Date.now() < answerBy) await next(answerBy - Date.now());

    /** One try: the prompt, then the caller's keys up to `#` or the timeout; null when the menu is over. */
    const oneTry = async (): Promise<string | null> => {
      keys.length = 0; // keys pressed while the application decided belong to no try
      let keypad = newTry();
      let playing = true;
      const cut = new AbortController();
      const played = audio.play(pcm.samples, cut.signal).then(
        () => undefined,
        (e: unknown) => logger.warn({ callId, ...errorFields(e) }, 'main number: the prompt stopped playing'),
      );
      void played.then(() => {
        playing = false;
        poke();
      });
      try {
        for (;;) {
          if (over()) return null;
          while (keys.length > 0) {
            const step = pressKey(keypad, keys.shift()!, Date.now(), menuTimeoutMs);
            if (step.done !== null) return step.done;
            keypad = step.keypad;
            cut.abort(); // barge-in: a key stops the prompt
          }
          if (!playing) keypad = promptEnded(keypad, Date.now(), menuTimeoutMs);
          const late = timedOut(keypad, Date.now());
          if (late !== null) return late;
          await next(keypad.deadline === null ? null : keypad.deadline - Date.now());
        }
      } finally {
        cut.abort();
        await played;
      }
    };

    const tries: string[] = [];
    for (;;) {
      const keyed = await oneTry();
      if (keyed === null) break;
      tries.push(keyed);
      let decision: Awaited<ReturnType<InboundCallSink['keyed']>>;
      try {
        decision = await inbound.keyed(arrival, [...tries]);
      } catch (e) {
        logger.error({ callId, tries, ...errorFields(e) }, 'main number: the keyed ID could not be handled');
        return endMenu('keyed failed', e);
      }
      logger.info({ callId, tries, decision: decision.kind }, 'main number: an ID was keyed');
      if (stopped || closed || legs.get(callId) !== leg) return; // hung up by us meanwhile
      if (decision.kind === 'MENU') {
        if (gone) break;
        continue;
      }
      if (decision.kind === 'REFUSE') return endMenu(`refused: ${decision.reason}`);
      // RING: the call is recorded now; from here on the leg is followed, answered by the prompt.
      leg.state = { ...inboundLegState(callId, sipIdentity), answered: true };
      leg.menu = null;
      await audio.close();
      startMaxDurationTimer(leg);
      // The caller left while the application decided: that is the call's end now.
      if (gone) await advance(leg, terminate(leg.state, 'HANGUP', 200));
      return;
    }
    if (stopped || closed || legs.get(callId) !== leg) return;
    return endMenu('the caller hung up');
  };

  return {
    provider: 'livekit',

    isTracking: (callId: string) => legs.has(callId) || menuEnded.has(callId),

    runMenu: (arrival: InboundArrival, sipIdentity: string, inbound: InboundCallSink) =>
      runMenu(arrival, sipIdentity, inbound).catch((e: unknown) => logger.error({ callId: arrival.callId, ...errorFields(e) }, 'main number: the menu failed')),

    async joinDetails(callId: string): Promise<MediaJoin> {
      const room = roomNameFor(callId);
      const at = new AccessToken(config.apiKey, config.apiSecret, {
        identity: callerIdentityFor(callId),
        name: 'caller',
        ttl: config.callerTokenTtlSeconds,
      });
      at.addGrant({
        roomJoin: true,
        room,
        canPublish: true,
        canPublishSources: [TrackSource.MICROPHONE],
        canSubscribe: true,
        canPublishData: false,
      });
      return { provider: 'livekit', url: config.publicUrl ?? config.url, room, token: await at.toJwt() };
    },

    async dial(request: DialRequest): Promise<void> {
      if (closed) throw new Error('LiveKit media gateway is closed');
      if (legs.has(request.callId)) return; // a repeated dial of a live leg: already under way
      // Registered before the first await, so that a hang-up racing the dial finds it.
      if (request.intoCallId !== undefined && parseLegId(request.callId).callId !== request.intoCallId)
        throw badInput('a second leg is dialled with callId legIdOf(intoCallId, name)', { callId: request.callId, intoCallId: request.intoCallId });
      const leg: Leg = {
        callId: request.callId,
        roomOf: request.intoCallId ?? request.callId,
        state: initialLegState(request.callId),
        request,
        maxDurationSeconds: maxDurationSeconds(request),
        sipSeen: false,
        participant: null,
        cancelTimer: null,
        delivered: Promise.resolve(),
      };
      legs.set(request.callId, leg);
      let sipTrunkId: string;
      try {
        sipTrunkId = await outboundTrunkId();
      } catch (e) {
        legs.delete(request.callId);
        unreachable(e, 'createSipOutboundTrunk');
        throw e; // no trunk: the request cannot be accepted at all
      }
      if (leg.state.terminated) return;
      await joinRoom(leg); // first, so that it sees `ringing`
      if (leg.state.terminated) return; // hung up while joining: do not dial into a deleted room
      void placeCall(leg, request, sipTrunkId); // waitUntilAnswered: settles on answer or failure
    },

    async followInbound(callId: string, sipIdentity: string): Promise<void> {
      if (closed || legs.has(callId)) return; // a repeated arrival (webhook redelivery): followed already
      const leg = inboundLeg(callId, sipIdentity, null);
      legs.set(callId, leg); // before the join, so that the webhook of a quick hang-up defers to us
      await joinRoom(leg);
      if (leg.state.terminated) return; // hung up while we joined
      if (!leg.participant) {
        // Without our participant there is no answer nor DTMF; the webhooks still end the call.
        legs.delete(callId);
        return;
      }
      if (!leg.sipSeen) {
        // The caller hung up before we joined (its participant_left webhook deferred to us): the
        // join re-created the room, which the termination deletes again.
        logger.info({ callId, sipIdentity }, 'inbound caller gone before our participant joined');
        await advance(leg, terminate(leg.state, 'HANGUP', null));
      }
    },

    async hangUp(callId: string): Promise<void> {
      const leg = legs.get(callId);
      const { callId: roomOf, leg: second } = parseLegId(callId);
      if (leg) {
        // Our caller (or the supervisor) ended the call or the leg and recorded why: nothing to report.
        await stopSilently(leg, true);
      } else if (second !== null) {
        await removePhone(roomOf, sipIdentityFor(callId)); // unknown here (e.g. after a restart)
      } else {
        for (const other of [...legs.values()]) if (other.roomOf === callId) await stopSilently(other, false);
        await deleteRoom(callId); // unknown here (e.g. after a restart): the room may still exist
      }
    },

    async sendDtmf(callId: string, digits: string): Promise<void> {
      const codes = [...digits].map((d) => ({ d, code: dtmfCode(d) }));
      const bad = codes.find((c) => c.code === null);
      if (bad) throw badInput(`not a DTMF digit: "${bad.d}"`, { digits });
      const participant = legs.get(callId)?.participant;
      if (!participant) {
        logger.warn({ callId }, 'sendDtmf: no server participant in the room; digits dropped');
        return;
      }
      for (const [i, { d, code }] of codes.entries()) {
        if (i > 0) await new Promise<void>((resolve) => schedule(resolve, config.dtmfGapMs ?? 250));
        await participant.publishDtmf(code!, d);
      }
    },

    async close(): Promise<void> {
      closed = true;
      const all = [...legs.values()];
      legs.clear();
      await Promise.all(
        all.map(async (leg) => {
          leg.menu?.stop();
          leg.cancelTimer?.();
          await leg.participant?.disconnect().catch(() => undefined);
        }),
      );
      // rtc-node's native side keeps the process alive once used.
      if (!deps.roomParticipantFactory) await rtcModule().disposeRtcNode().catch(() => undefined);
    },
  };
};
