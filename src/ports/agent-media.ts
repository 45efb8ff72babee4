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
  /**
   * Issue 25, a transfer's media: takes an agent's console out of the call's room (the agent who
   * handed the call over, or a colleague whose consultation was cancelled). Idempotent: an agent
   * (or a room) already gone is no error. Rejects when the media server cannot be reached.
   */
  removeAgent(callId: string, agentId: string): Promise<void>;
  /**
   * Issue 25, a warm transfer's consultation: `true` puts the caller on hold (its participant may
   * subscribe to nothing: it hears neither agent while they consult), `false` takes it off (it hears
   * whoever is in the room again). Idempotent; a caller not (or no longer) in the room is no error.
   */
  holdCaller(callId: string, onHold: boolean): Promise<void>;
  /**
   * Issue 25, a warm transfer's consultation: whether the agent's console receives the caller's
   * audio (false while the colleague consults: the caller on hold is not listened to). Idempotent;
   * an agent or caller not in the room is no error.
   */
  agentHearsCaller(callId: string, agentId: string, hears: boolean): Promise<void>;
}
