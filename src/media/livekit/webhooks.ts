import { WebhookReceiver } from 'livekit-server-sdk';
import type { CallProgressSink } from '../../ports/media';
import { outcomeOfDisconnectReason } from './causes';
import type { MediaLogger } from './livekit-media';
import { agentIdOf, callIdFromRoom, callerIdentityFor, gatewayEventIds, sipIdentityFor } from './room-events';

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
   * `media.isTracking` of the LiveKit adapter in this process: a leg it follows is ended by the
   * adapter (which has the SIP status), not by the webhook. Without it, every SIP leave terminates.
   */
  isTracking?: (callId: string) => boolean;
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
 * console leaving (a browser call) → onAgentLeft(callId, agentId). A participant dropped by the
 * room's deletion or replaced by a newer connection of its identity has not left (NOT_LEAVING).
 * Webhooks carry no SIP status and no attribute changes: ringing, answer and DTMF come from the
 * room participant (livekit-media.ts), never from here.
 */
export const createLiveKitWebhookHandler = (opts: LiveKitWebhookOptions) => {
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
      const outcome = event.event === 'participant_left' ? await participantLeft(event).catch(unknownCall) : 'ignored';
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
