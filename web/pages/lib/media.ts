/**
 * The console's media for browser (PC-to-PC) calls. The API's agentMediaJoin says where the call's
 * room is; a connector for that provider gets the agent's microphone and joins the room. Connectors
 * register themselves by provider name (livekit-connector.ts wraps the widget's room join), so this
 * page loads a media stack only for the provider in use. Simulator and external media have no room.
 *
 * In two steps, so that a microphone the browser refuses stops the agent *before* the call is taken
 * (the call keeps ringing for the others): prepareMedia() opens the microphone, then the console
 * answers, then connect() joins the room with it.
 */
export interface MediaJoinDetails {
  provider: string;
  url: string | null;
  token: string | null;
  room: string | null;
}

export interface MediaSession {
  setMuted(muted: boolean): Promise<void>;
  /**
   * The agent's own microphone (PC-to-PC): a headset (echo cancellation and suppression off), speakers
   * (echo cancellation on), or "the caller hears an echo" (both on). Resolves with what the browser applied.
   */
  setSound?(choice: 'HEADSET' | 'SPEAKERS' | 'ECHO_HEARD'): Promise<string>;
  /** Leaves the room and releases the microphone. Idempotent. */
  leave(): Promise<void>;
}

/** What the room tells the console while the call lasts. */
export interface MediaEvents {
  /** The caller's audio started playing. */
  onRemoteAudio(): void;
  /** The room connection ended without the console leaving it (network lost for good, room deleted). */
  onLost(): void;
}

/** The microphone is open; join the room with it, or give it back. */
export interface PreparedMedia {
  connect(join: ReadyJoin, events: MediaEvents): Promise<MediaSession>;
  release(): void;
}

export type ReadyJoin = MediaJoinDetails & { url: string; token: string; room: string };

/** A connector's refusal that the agent can act on (the message says what to do). */
export class MediaProblem extends Error {}

export interface MediaConnector {
  /** Opens the microphone. Rejects with MediaProblem when the browser refuses it or has none. */
  prepare(): Promise<PreparedMedia>;
}

const connectors = new Map<string, MediaConnector>();

export const registerMediaConnector = (provider: string, connector: MediaConnector): void => {
  connectors.set(provider, connector);
};

export type MediaPlan =
  /** No audio in this mode, and why (the call can be answered all the same). */
  | { kind: 'none'; reason: string }
  /** The agent cannot talk yet (microphone refused): do not take the call. */
  | { kind: 'refused'; reason: string }
  | { kind: 'ready'; join: ReadyJoin; media: PreparedMedia };

export const prepareMedia = async (join: MediaJoinDetails): Promise<MediaPlan> => {
  if (join.provider === 'simulator') return { kind: 'none', reason: 'Simulator mode: no audio. Answer, commands, chat and hang-up work as with real media.' };
  if (join.provider === 'external') return { kind: 'none', reason: 'External media: webdial carries no audio for this call.' };
  const connector = connectors.get(join.provider);
  if (!connector || !join.url || !join.token || !join.room)
    return { kind: 'none', reason: `The ${join.provider} room is ready (${join.room ?? 'no room'}), but this console has no ${join.provider} connector: audio is not connected.` };
  try {
    return { kind: 'ready', join: { ...join, url: join.url, token: join.token, room: join.room }, media: await connector.prepare() };
  } catch (e) {
    if (e instanceof MediaProblem) return { kind: 'refused', reason: e.message };
    throw e;
  }
};
