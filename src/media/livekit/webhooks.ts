import { WebhookReceiver } from 'livekit-server-sdk';
import type { CallProgressSink, InboundArrival, InboundCallSink } from '../../ports/media';
import { outcomeOfDisconnectReason } from './causes';
import type { LiveKitMedia, MediaLogger } from './livekit-media';
import { agentIdOf, callIdFromRoom, callerIdentityFor, gatewayEventIds, isInboundCallId, sipIdentityFor } from './room-events';

export interface LiveKitWebhookOptions {
  apiKey: string;
  apiSecret: string;
  sink: CallProgressSink;
  logger: MediaLogger;
  /** The caller's browser left its room: the lead wires it to a caller hang-up (which deletes the room). */
  onCallerLeft: (callId: string) => Promise<void>;
  /**
   * An agent's console (`agent-<key id>`) left a browser call's room: wired to the agent's use case,
   * which ends the call as that agent's hang-up when that agent took it and resolves true; another
   * agent's console, or a call that has ended, changes nothing (false). Without it, agents leaving
   * are ignored.
   */
  onAgentLeft?: (callId: string, agentId: string) => Promise<boolean>;
  /**
   * Issue 25: an agent's console joined a browser call's room (a colleague joining a warm transfer's
   * consultation, who must not hear the caller on hold). Resolves what was done, for the log line.
   */
  onAgentJoined?: (callId: string, agentId: string) => Promise<string>;
  /**
   * `media.isTracking` of the LiveKit adapter in this process: a leg it follows is ended by the
   * adapter (which has the SIP status), not by the webhook. Without it, every SIP leave terminates.
   */
  isTracking?: (callId: string) => boolean;
  /**
   * Inbound calls (issue 23): a phone's SIP participant joining a `call-in_…` room is reported as an
   * InboundArrival; the decision is carried out by `inboundMedia`. Without it, such joins are ignored.
   */
  inbound?: InboundCallSink;
  /**
   * The LiveKit adapter of this process (required with `inbound`): an accepted call is followed
   * (`followInbound`), a main number's call runs its menu (`runMenu`), a refused one is ended
   * (`hangUp`, which deletes the room: LiveKit SIP then answers the ringing INVITE with 486, the only
   * final status it gives; INBOUND.md).
   */
  inboundMedia?: Pick<LiveKitMedia, 'followInbound' | 'hangUp' | 'runMenu'>;
  /** How many recent event ids are remembered to drop repeated deliveries (default 10 000). */
  rememberEvents?: number;
}

export interface WebhookResponse {
  status: number;
  body: string;
}

/** The fields we read from a verified event, in protobuf JSON form (camelCase, enums by name). */
interface ParticipantJson {
  identity?: string;
  kind?: string;
  disconnectReason?: string;
  attributes?: Record<string, string>;
}
interface EventJson {
  event?: string;
  id?: string;
  room?: { name?: string };
  participant?: ParticipantJson;
}

/**
 * Reasons a participant leaves that are not someone ending the call: our own deletion of the room
 * once the call has ended, a newer connection of the same identity taking over (a console opened
 * again, a browser's full reconnect), and a move to another node of a cluster.
 */
const NOT_LEAVING = new Set(['ROOM_DELETED', 'DUPLICATE_IDENTITY', 'MIGRATION']);

/**
 * `POST /webhooks/livekit`, framework-free: mount it with a *raw* body parser, because the
 * signature covers the body byte for byte. LiveKit sends `Authorization: <JWT>` (no "Bearer"),
 * HS256 with `iss` = API key and claim `sha256` = base64(SHA-256(body)); WebhookReceiver checks
 * all of it.
 *
 * Contract: an unverifiable request → 401, one log line, nothing changes. A verified event about a
 * call we do not know → 200, logged and ignored. A repeated delivery
 * (same event id) → 200 and nothing changes; the sink's gateway event ids make repeats no-ops
 * across processes too. A sink failure → 500 so that LiveKit may deliver again.
 * The SIP participant leaving → sink.terminated (same gateway event id as the room participant,
 * so whichever is first wins). The caller's browser leaving → onCallerLeft(callId); an agent's
 * console leaving (a browser call) → onAgentLeft(callId, agentId). A phone's SIP participant joining
 * an inbound call's room (`call-in_…`) → inbound.arrived, then inboundMedia.followInbound (accepted),
 * inboundMedia.runMenu (a main number: in the background, the webhook does not wait for the caller's
 * keys) or inboundMedia.hangUp (refused). A participant dropped by the
 * room's deletion or replaced by a newer connection of its identity has not left (NOT_LEAVING).
 * Webhooks carry no SIP status and no attribute changes: ringing, answer and DTMF come from the
 * room participant (livekit-media.ts), never from here.
 */
export const createLiveKitWebhookHandler = (opts: LiveKitWebhookOptions) => {
  if (opts.inbound && !opts.inboundMedia) throw new Error('LiveKit webhooks: inbound calls need the media adapter (inboundMedia)');
  const receiver = new WebhookReceiver(opts.apiKey, opts.apiSecret);
  const capacity = opts.rememberEvents ?? 10_000;
  const seen = new Set<string>(); // insertion-ordered: the oldest id is evicted first

  const remember = (id: string) => {
    seen.add(id);
    if (seen.size > capacity) seen.delete(seen.values().next().value as string);
  };

  const participantLeft = async (e: EventJson): Promise<string> => {
    const p = e.participant ?? {};
    const callId = p.attributes?.callId ?? callIdFromRoom(e.room?.name);
    if (!callId || !p.identity) return 'ignored';
    if (p.identity === sipIdentityFor(callId) || p.kind === 'SIP') {
      if (opts.isTracking?.(callId)) return 'tracked'; // the adapter reports it, with the SIP status
      // An inbound caller dropped by our own deletion of its room (a refusal, a hang-up) or replaced:
      // whoever deleted the room recorded why.
      if (isInboundCallId(callId) && p.disconnectReason && NOT_LEAVING.has(p.disconnectReason)) return 'ignored';
      // Without a SIP status a pre-answer reason is the best we know; anything else ends a talking call.
      const mapped = outcomeOfDisconnectReason(p.disconnectReason);
      await opts.sink.terminated(callId, mapped?.cause ?? 'HANGUP', null, gatewayEventIds.terminated(callId), mapped?.reason ?? null);
      return 'terminated';
    }
    // A browser (caller or agent) that did not really leave: the call goes on, or has ended already.
    if (p.disconnectReason && NOT_LEAVING.has(p.disconnectReason)) return 'ignored';
    if (p.identity === callerIdentityFor(callId)) {
      await opts.onCallerLeft(callId);
      return 'caller-left';
    }
    const agentId = agentIdOf(p.identity);
    if (agentId !== null && opts.onAgentLeft && p.kind !== 'AGENT')
      return (await opts.onAgentLeft(callId, agentId)) ? 'agent-left' : 'agent-left: nothing to end';
    return 'ignored';
  };

  /**
   * A phone's SIP participant joined its room `call-in_<DID>_<random>` (the dispatch rule of
   * inbound-routing.ts): the caller rings (LiveKit SIP holds the 200 OK), and the application decides.
   * The same arrival delivered twice reaches the sink twice: it is idempotent per call id, and so is
   * followInbound.
   */
  const participantJoined = async (e: EventJson): Promise<string> => {
    const p = e.participant ?? {};
    const callId = callIdFromRoom(e.room?.name);
    const agentId = agentIdOf(p.identity);
    if (agentId !== null && callId && opts.onAgentJoined && p.kind !== 'AGENT') return opts.onAgentJoined(callId, agentId);
    if (!opts.inbound || !opts.inboundMedia || p.kind !== 'SIP' || !callId || !isInboundCallId(callId) || !p.identity) return 'ignored';
    const a = p.attributes ?? {};
    const did = a['sip.trunkPhoneNumber'];
    const caller = a['sip.phoneNumber'];
    if (!did || !caller) {
      // A rule with hidePhoneNumber (not ours) hides both: no call can be recorded. The caller rings
      // until LiveKit SIP's own timeout unless we end it.
      await opts.inboundMedia.hangUp(callId);
      return 'inbound: no numbers (hidePhoneNumber?): ended';
    }
    const arrival: InboundArrival = { callId, did, caller, sipCallId: a['sip.callID'] || null };
    const decision = await opts.inbound.arrived(arrival);
    if (decision.kind === 'RING') {
      await opts.inboundMedia.followInbound(callId, p.identity);
      return 'inbound: accepted';
    }
    if (decision.kind === 'MENU') {
      // The menu lasts as long as the caller keys (a minute or more): it runs on, the webhook answers
      // now. runMenu registers the call before its first await, so the caller's leave defers to it.
      // runMenu never rejects: it logs its own failures.
      void opts.inboundMedia.runMenu(arrival, p.identity, opts.inbound);
      return 'inbound: main number: menu';
    }
    await opts.inboundMedia.hangUp(callId);
    return `inbound: refused (${decision.sipStatus} ${decision.reason}; the caller hears 486)`;
  };

  // A verified event about a call this deployment does not know (another deployment on the same
  // LiveKit, or a call whose events are gone) is acknowledged and ignored: a 5xx would make LiveKit
  // deliver it again and again.
  const unknownCall = (e: unknown): string => {
    if ((e as { code?: string }).code === 'NOT_FOUND') return 'unknown call: ignored';
    throw e;
  };

  return async (rawBody: string, authorization: string | undefined): Promise<WebhookResponse> => {
    let event: EventJson;
    try {
      const verified = await receiver.receive(rawBody, authorization);
      event = verified.toJson() as EventJson;
    } catch (e) {
      opts.logger.warn({ reason: (e as Error).message }, 'LiveKit webhook refused: not verifiable');
      return { status: 401, body: 'unauthorized' };
    }
    const id = event.id ?? '';
    if (id && seen.has(id)) return { status: 200, body: 'duplicate' };
    if (id) remember(id);
    try {
      const outcome =
        event.event === 'participant_left'
          ? await participantLeft(event).catch(unknownCall)
          : event.event === 'participant_joined'
            ? await participantJoined(event)
            : 'ignored';
      const p = event.participant;
      opts.logger.info({ event: event.event, id, room: event.room?.name, identity: p?.identity, kind: p?.kind, disconnectReason: p?.disconnectReason, outcome }, 'LiveKit webhook');
      return { status: 200, body: outcome };
    } catch (e) {
      seen.delete(id); // not applied: a redelivery must be able to apply it
      opts.logger.error({ event: event.event, id, err: (e as Error).message }, 'LiveKit webhook failed');
      return { status: 500, body: 'error' };
    }
  };
};
