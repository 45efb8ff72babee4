import { dirname, join } from 'node:path';
import type { AudioOut, RoomParticipant, RoomParticipantEvents } from './room-participant';

/**
 * The real server-side room participant, on @livekit/rtc-node 1.1 (a native WebRTC stack).
 * Verified only against a real LiveKit server: no LiveKit runs on our test machines, and the
 * wire-level double speaks Twirp only, not LiveKit's signalling protocol (docs/livekit.md).
 *
 * rtc-node is loaded lazily so that importing the adapter (and its tests) never loads the native
 * binary; it has a glibc build only (linux-x64-gnu), hence the Debian base image.
 */
let loaded: typeof import('@livekit/rtc-node') | null = null;
let rtcLogLevel = 'info';
const rtcNode = (): typeof import('@livekit/rtc-node') => {
  if (!loaded) {
    loaded = require('@livekit/rtc-node') as typeof import('@livekit/rtc-node');
    applyRtcLogLevel();
  }
  return loaded;
};

/**
 * rtc-node logs through its own pino logger ("lk-rtc"), at `debug` unless NODE_ENV=production, and
 * does not export it (issue 22: its debug lines showed with LOG_LEVEL=info). Its module is reached
 * by file, next to the package's entry point: the same module instance its room code requires.
 */
const applyRtcLogLevel = (): void => {
  try {
    const { log } = require(join(dirname(require.resolve('@livekit/rtc-node')), 'log.cjs')) as { log?: { level: string } };
    if (log) log.level = rtcLogLevel;
  } catch {
    // Another rtc-node layout: its logs keep their own level.
  }
};

/** The level of rtc-node's own logs: webdial's LOG_LEVEL (set before the first room join). */
export const setRtcNodeLogLevel = (level: string): void => {
  rtcLogLevel = level;
  if (loaded) applyRtcLogLevel();
};

/**
 * Releases rtc-node's native side (process-wide). Its FFI keeps the event loop alive once used,
 * so a clean shutdown needs this. A no-op when rtc-node was never loaded.
 */
export const disposeRtcNode = async (): Promise<void> => {
  if (!loaded) return;
  const rtc = loaded;
  loaded = null;
  await rtc.dispose();
};

/** The native queue of a published track, in ms. */
const QUEUE_MS = 200;

export const createRtcRoomParticipant = (url: string): RoomParticipant => {
  const rtc = rtcNode();
  const room = new rtc.Room();
  const listeners: { [K in keyof RoomParticipantEvents]: RoomParticipantEvents[K][] } = {
    attributes: [],
    dtmf: [],
    participantLeft: [],
  };
  const reasonName = (reason: number | undefined): string | null =>
    reason === undefined ? null : ((rtc.DisconnectReason as unknown as Record<number, string>)[reason] ?? null);

  // A participant that joins already ringing shows its attributes on connect, not as a change.
  room.on(rtc.RoomEvent.ParticipantConnected, (p) => {
    for (const l of listeners.attributes) l({ identity: p.identity, attributes: { ...p.attributes } });
  });
  room.on(rtc.RoomEvent.ParticipantAttributesChanged, (_changed, p) => {
    for (const l of listeners.attributes) l({ identity: p.identity, attributes: { ...p.attributes } });
  });
  room.on(rtc.RoomEvent.DtmfReceived, (code, digit, p) => {
    for (const l of listeners.dtmf) l({ identity: p.identity, code, digit });
  });
  room.on(rtc.RoomEvent.ParticipantDisconnected, (p) => {
    for (const l of listeners.participantLeft)
      l({ identity: p.identity, disconnectReason: reasonName(p.disconnectReason), attributes: { ...p.attributes } });
  });

  let connected = false;
  return {
    async connect(_room: string, token: string) {
      // The room name travels inside the token's grant; rtc-node takes only url + token.
      await room.connect(url, token, { autoSubscribe: false, dynacast: false });
      connected = true;
      // Participants that were in the room before we joined (the SIP leg may be quicker than us).
      for (const p of room.remoteParticipants.values())
        for (const l of listeners.attributes) l({ identity: p.identity, attributes: { ...p.attributes } });
    },
    on(event, listener) {
      (listeners[event] as unknown[]).push(listener);
    },
    async publishDtmf(code: number, digit: string) {
      if (!connected || !room.localParticipant) throw new Error('room participant is not connected');
      await room.localParticipant.publishDtmf(code, digit);
    },
    async publishAudio(sampleRate: number): Promise<AudioOut> {
      if (!connected || !room.localParticipant) throw new Error('room participant is not connected');
      const local = room.localParticipant;
      // A short native queue: captureFrame waits while it is full, which paces the playback in
      // real time, and an abort is heard within about that long.
      const source = new rtc.AudioSource(sampleRate, 1, QUEUE_MS);
      const track = rtc.LocalAudioTrack.createAudioTrack('webdial-prompt', source);
      const publication = await local.publishTrack(track, new rtc.TrackPublishOptions({ source: rtc.TrackSource.SOURCE_MICROPHONE }));
      let closed = false;
      const frameSamples = Math.max(1, Math.round(sampleRate / 100)); // 10 ms
      return {
        async play(samples: Int16Array, signal: AbortSignal) {
          for (let at = 0; at < samples.length && !signal.aborted && !closed; at += frameSamples) {
            const chunk = samples.slice(at, at + frameSamples);
            await source.captureFrame(new rtc.AudioFrame(chunk, sampleRate, 1, chunk.length));
          }
          if (signal.aborted || closed) {
            if (!closed) source.clearQueue();
            return;
          }
          await source.waitForPlayout();
        },
        async close() {
          if (closed) return;
          closed = true;
          if (publication.sid) await local.unpublishTrack(publication.sid).catch(() => undefined);
          await source.close().catch(() => undefined);
        },
      };
    },
    async disconnect() {
      if (!connected) return;
      connected = false;
      await room.disconnect().catch(() => undefined);
    },
  };
};
