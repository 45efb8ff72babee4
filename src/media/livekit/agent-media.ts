import { AccessToken, RoomServiceClient, TrackSource } from 'livekit-server-sdk';
import type { AgentMedia } from '../../ports/agent-media';
import type { MediaJoin } from '../../ports/media';
import { agentIdentityFor, callerIdentityFor, roomNameFor } from './room-events';

/** Simulator and external media: no room to join (`provider` names the mode; the console says so). */
export const noAgentMedia = (provider: string): AgentMedia => ({
  provider,
  joinDetails: async (): Promise<MediaJoin> => ({ provider, url: null, token: null, room: null }),
  // No room: nothing to take anyone out of, nobody to hold.
  removeAgent: async () => {},
  holdCaller: async () => {},
  agentHearsCaller: async () => {},
});

export interface LiveKitAgentMediaConfig {
  /** The URL browsers are given (LIVEKIT_PUBLIC_URL, else LIVEKIT_URL). */
  publicUrl: string;
  /** The server's own URL (LIVEKIT_URL) for the room service (transfers: removeParticipant, updateParticipant); default publicUrl. */
  url?: string;
  apiKey: string;
  apiSecret: string;
  tokenTtlSeconds: number;
}

/**
 * LiveKit: a token for the call's own room (`call-<id>`, the room the caller's widget joined),
 * allowed to publish its microphone and subscribe, for a short time. No SIP leg is involved.
 */
export const liveKitAgentMedia = (config: LiveKitAgentMediaConfig): AgentMedia => {
  const rooms = new RoomServiceClient(config.url ?? config.publicUrl, config.apiKey, config.apiSecret);
  return {
    provider: 'livekit',
    joinDetails: async (callId, agent) => {
      const room = roomNameFor(callId);
      const at = new AccessToken(config.apiKey, config.apiSecret, { identity: agentIdentityFor(agent), name: 'agent', ttl: config.tokenTtlSeconds });
      at.addGrant({ roomJoin: true, room, canPublish: true, canPublishSources: [TrackSource.MICROPHONE], canSubscribe: true, canPublishData: false });
      return { provider: 'livekit', url: config.publicUrl, room, token: await at.toJwt() };
    },
    removeAgent: async (callId, agent) => {
      const room = roomNameFor(callId);
      const identity = agentIdentityFor(agent);
      try {
        await absentIsDone(rooms.removeParticipant(room, identity));
      } catch (e) {
        // Measured (test/browser/transfer.browser.ts): a console leaving by itself as it is removed makes
        // RemoveParticipant fail with "no response from servers" (twirp unknown). Gone is what was wanted.
        const still = await rooms.listParticipants(room).then((ps) => ps.some((p) => p.identity === identity), () => true);
        if (still) throw e;
      }
    },
    // The server's lever, not the caller's page: with canSubscribe false, livekit-server unsubscribes the
    // participant from every track and subscribes it to none published meanwhile (a colleague's); set
    // back to true, it subscribes it to every track in the room again (ParticipantImpl.SetPermission).
    // The caller's own grants otherwise as at download (livekit-media.ts joinDetails).
    holdCaller: async (callId, onHold) => {
      const room = roomNameFor(callId);
      const caller = callerIdentityFor(callId);
      await absentIsDone(rooms.updateParticipant(room, caller, { permission: { canSubscribe: !onHold, canPublish: true, canPublishSources: [TrackSource.MICROPHONE], canPublishData: false } }));
      if (onHold) return;
      // Measured (test/browser/transfer.browser.ts): with the permission back alone, the caller heard the
      // colleague ~5 s after the completion; subscribing it to every other participant's audio explicitly
      // as well brings that to ~2 s.
      const tracks = (await rooms.listParticipants(room).catch(() => []))
        .filter((p) => p.identity !== caller)
        .flatMap((p) => p.tracks.filter((t) => t.source === TrackSource.MICROPHONE).map((t) => t.sid));
      if (tracks.length > 0) await absentIsDone(rooms.updateSubscriptions(room, caller, tracks, true));
    },
    agentHearsCaller: async (callId, agent, hears) => {
      const room = roomNameFor(callId);
      const caller = (await rooms.listParticipants(room).catch(() => [])).find((p) => p.identity === callerIdentityFor(callId));
      const tracks = caller?.tracks.filter((t) => t.source === TrackSource.MICROPHONE).map((t) => t.sid) ?? [];
      if (tracks.length > 0) await absentIsDone(rooms.updateSubscriptions(room, agentIdentityFor(agent), tracks, hears));
    },
  };
};

/** A participant or room that is not there (left, removed, the call over) is what removing or holding it wanted anyway. */
const absentIsDone = async (p: Promise<unknown>): Promise<void> => {
  try {
    await p;
  } catch (e) {
    if ((e as { code?: unknown }).code === 'not_found' || (e as { status?: unknown }).status === 404) return;
    throw e;
  }
};
