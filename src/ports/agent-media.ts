import type { MediaJoin } from './media';

/**
 * What an agent's console needs to join a browser (PC-to-PC) call's media: the same room the
 * caller's widget joined at download, with the agent's own identity and grants.
 *
 * Adapters: LiveKit (a room token for the call's room) and `none` (simulator and external media:
 * there is no room, `provider` says which mode, url/token/room are null). Never throws for a
 * well-formed call id; the API checks that the agent may take the call before asking.
 */
export interface AgentMedia {
  readonly provider: string;
  joinDetails(callId: string, agentIdentity: string): Promise<MediaJoin>;
}
