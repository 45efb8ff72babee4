/**
 * The console's media join for browser (PC-to-PC) calls. The API's agentMediaJoin says where the
 * call's room is; a connector for that provider joins it with the agent's microphone. Connectors
 * register themselves by provider name, so that the LiveKit room-join module of web/widget/ (issue
 * 11) can be bundled in without this page depending on it: until one is registered for "livekit",
 * the console says that audio is not connected. Simulator and external media have no room at all.
 */
export interface MediaJoinDetails {
  provider: string;
  url: string | null;
  token: string | null;
  room: string | null;
}

export interface MediaSession {
  /** Leaves the room and releases the microphone. Idempotent. */
  leave(): Promise<void>;
}

export type MediaConnector = (join: MediaJoinDetails & { url: string; token: string; room: string }) => Promise<MediaSession>;

const connectors = new Map<string, MediaConnector>();

export const registerMediaConnector = (provider: string, connector: MediaConnector): void => {
  connectors.set(provider, connector);
};

export type MediaOutcome = { kind: 'connected'; session: MediaSession } | { kind: 'none'; reason: string };

export const joinMedia = async (join: MediaJoinDetails): Promise<MediaOutcome> => {
  if (join.provider === 'simulator') return { kind: 'none', reason: 'Simulator mode: no audio. Answer, commands, chat and hang-up work as with real media.' };
  if (join.provider === 'external') return { kind: 'none', reason: 'External media: webdial carries no audio for this call.' };
  const connect = connectors.get(join.provider);
  if (!connect || !join.url || !join.token || !join.room)
    return { kind: 'none', reason: `The ${join.provider} room is ready (${join.room ?? 'no room'}), but this console has no ${join.provider} connector: audio is not connected.` };
  return { kind: 'connected', session: await connect({ ...join, url: join.url, token: join.token, room: join.room }) };
};
