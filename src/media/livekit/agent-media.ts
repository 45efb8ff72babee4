import { AccessToken, TrackSource } from 'livekit-server-sdk';
import type { AgentMedia } from '../../ports/agent-media';
import type { MediaJoin } from '../../ports/media';
import { agentIdentityFor, roomNameFor } from './room-events';

/** Simulator and external media: no room to join (`provider` names the mode; the console says so). */
export const noAgentMedia = (provider: string): AgentMedia => ({
  provider,
  joinDetails: async (): Promise<MediaJoin> => ({ provider, url: null, token: null, room: null }),
});

export interface LiveKitAgentMediaConfig {
  /** The URL browsers are given (LIVEKIT_PUBLIC_URL, else LIVEKIT_URL). */
  publicUrl: string;
  apiKey: string;
  apiSecret: string;
  tokenTtlSeconds: number;
}

/**
 * LiveKit: a token for the call's own room (`call-<id>`, the room the caller's widget joined),
 * allowed to publish its microphone and subscribe, for a short time. No SIP leg is involved.
 */
export const liveKitAgentMedia = (config: LiveKitAgentMediaConfig): AgentMedia => ({
  provider: 'livekit',
  joinDetails: async (callId, agent) => {
    const room = roomNameFor(callId);
    const at = new AccessToken(config.apiKey, config.apiSecret, { identity: agentIdentityFor(agent), name: 'agent', ttl: config.tokenTtlSeconds });
    at.addGrant({ roomJoin: true, room, canPublish: true, canPublishSources: [TrackSource.MICROPHONE], canSubscribe: true, canPublishData: false });
    return { provider: 'livekit', url: config.publicUrl, room, token: await at.toJwt() };
  },
});
