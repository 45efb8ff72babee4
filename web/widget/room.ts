/**
 * Joining a call's LiveKit room from a browser, reduced to what a caller (the widget) or an agent
 * (the agent console) needs: publish the microphone, hear the others, mute, leave, and read the
 * audio statistics. It knows nothing about webdial's GraphQL: give it the `url` and `token` of a
 * MediaJoin (the widget gets them from `joinMedia(callToken)`).
 */
import { Room, RoomEvent, Track, createLocalAudioTrack, setLogLevel, type LocalAudioTrack, type RemoteParticipant, type RemoteTrack } from 'livekit-client';
import { startHalfDuplex, type HalfDuplexGate } from './half-duplex';

/**
 * livekit-client logs about ten info lines per call to the console by default: in a merchant's page
 * that is noise in someone else's console (issue 22). Silent from the moment this module loads;
 * `setMediaLogLevel('debug')` when debugging is asked for (the widget's `data-debug` attribute).
 */
export type MediaLogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';
export const setMediaLogLevel = (level: MediaLogLevel): void => setLogLevel(level);
setMediaLogLevel('silent');

/** The browser's microphone processing a call can change (issue 24). */
export interface Processing {
  echoCancellation: boolean;
  noiseSuppression: boolean;
  autoGainControl: boolean;
}
/** What the microphone track reports it applies (`getSettings()`; null where the browser does not say) and the half-duplex gate. */
export interface AppliedProcessing {
  echoCancellation: boolean | null;
  noiseSuppression: boolean | null;
  autoGainControl: boolean | null;
  echoSuppression: boolean;
  /** How it was applied: "applyConstraints", "restartTrack", or what failed. */
  note: string;
}

/** The browser refused the microphone (the user said no, or the page may not ask). */
export class MicrophoneDeniedError extends Error {
  constructor(override readonly cause: unknown) {
    super('microphone access was denied');
    this.name = 'MicrophoneDeniedError';
  }
}

/**
 * Asks for the microphone. Call it before placing the call, so that a denial stops everything early.
 * Rejects with MicrophoneDeniedError when refused; other failures (no device) reject as they are.
 */
export const openMicrophone = async (): Promise<LocalAudioTrack> => {
  try {
    return await createLocalAudioTrack({ echoCancellation: true, noiseSuppression: true, autoGainControl: true });
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') throw new MicrophoneDeniedError(e);
    throw e;
  }
};

export interface JoinOptions {
  /** LiveKit URL (ws(s)://) and a token whose grant joins one room. */
  url: string;
  token: string;
  /** The microphone to publish (from openMicrophone); opened here when absent. */
  microphone?: LocalAudioTrack;
  /** Where the hidden <audio> elements of the other participants go (default: document.body). */
  audioContainer?: HTMLElement;
  /** Another participant's audio started playing. */
  onRemoteAudio?: (identity: string) => void;
  /** The room connection ended (left, removed, room deleted, network lost for good). */
  onDisconnected?: (reason: string | undefined) => void;
  /** A DTMF digit LiveKit SIP decoded from the phone side. */
  onDtmf?: (digit: string, identity: string | undefined) => void;
}

export interface AudioStats {
  /** Audio received from the others (inbound-rtp, summed over their tracks). */
  inbound: { packetsReceived: number; bytesReceived: number; totalAudioEnergy: number };
  /** Our microphone as sent (outbound-rtp). */
  outbound: { packetsSent: number; bytesSent: number };
}

export interface JoinedRoom {
  readonly room: Room;
  setMuted(muted: boolean): Promise<void>;
  /** 0..1, applied to every remote audio element (agent pushes change it by ±N %). */
  setVolume(volume: number): void;
  audioStats(): Promise<AudioStats>;
  /**
   * Changes the microphone's processing: `applyConstraints` first, then, when `getSettings()` shows that
   * the browser ignored it (Chromium may, for these three), `restartTrack` (the microphone is reopened
   * with the new constraints and swapped without renegotiation). Resolves with what the track reports.
   */
  applyProcessing(change: Partial<Processing>): Promise<AppliedProcessing>;
  /** Half duplex on or off (./half-duplex.ts); `onGate` hears the gate close and open; `context`: an AudioContext the page created in a user gesture. */
  setEchoSuppression(on: boolean, onGate?: (closed: boolean) => void, context?: AudioContext): AppliedProcessing;
  /** What the microphone reports it applies now. */
  processing(): AppliedProcessing;
  /** Leaves the room and stops the microphone. Idempotent. */
  leave(): Promise<void>;
}

const statsOf = async (track: { getRTCStatsReport(): Promise<RTCStatsReport | undefined> }, type: string): Promise<Record<string, number>[]> => {
  const out: Record<string, number>[] = [];
  (await track.getRTCStatsReport())?.forEach((s: Record<string, unknown>) => {
    if (s.type === type && (s.kind === undefined || s.kind === 'audio')) out.push(s as Record<string, number>);
  });
  return out;
};

/** Connects, publishes the microphone and plays every other participant's audio. */
export const joinRoom = async (opts: JoinOptions): Promise<JoinedRoom> => {
  const room = new Room({ adaptiveStream: false, dynacast: false });
  const elements = new Set<HTMLMediaElement>();
  const remoteAudio = new Set<MediaStreamTrack>();
  let gate: HalfDuplexGate | null = null;
  let volume = 1;
  room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _pub, participant: RemoteParticipant) => {
    if (track.kind !== Track.Kind.Audio) return;
    remoteAudio.add(track.mediaStreamTrack);
    gate?.addRemote(track.mediaStreamTrack);
    const el = track.attach();
    el.volume = volume;
    el.hidden = true;
    elements.add(el);
    (opts.audioContainer ?? document.body).appendChild(el);
    opts.onRemoteAudio?.(participant.identity);
  });
  room.on(RoomEvent.TrackUnsubscribed, (track: RemoteTrack) => {
    remoteAudio.delete(track.mediaStreamTrack);
    gate?.removeRemote(track.mediaStreamTrack);
    for (const el of track.detach()) {
      elements.delete(el);
      el.remove();
    }
  });
  room.on(RoomEvent.SipDTMFReceived, (dtmf, participant) => opts.onDtmf?.(dtmf.digit, participant?.identity));
  let left = false;
  room.on(RoomEvent.Disconnected, (reason) => {
    if (!left) opts.onDisconnected?.(reason === undefined ? undefined : String(reason));
  });

  const microphone = opts.microphone ?? (await openMicrophone());
  try {
    await room.connect(opts.url, opts.token, { autoSubscribe: true });
    await room.localParticipant.publishTrack(microphone, { source: Track.Source.Microphone });
    // Autoplay policies: the join follows the user's click, so starting audio is allowed.
    await room.startAudio().catch(() => undefined);
  } catch (e) {
    microphone.stop();
    left = true;
    await room.disconnect().catch(() => undefined);
    throw e;
  }

  let userMuted = false;
  let wanted: Processing = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  const setGate = (closed: boolean) => {
    const enabled = !closed && !userMuted;
    if (microphone.mediaStreamTrack.enabled !== enabled) microphone.mediaStreamTrack.enabled = enabled;
  };
  const processing = (note = ''): AppliedProcessing => {
    const s = microphone.mediaStreamTrack.getSettings() as MediaTrackSettings & { autoGainControl?: boolean; noiseSuppression?: boolean };
    const flag = (v: unknown) => (typeof v === 'boolean' ? v : null);
    return { echoCancellation: flag(s.echoCancellation), noiseSuppression: flag(s.noiseSuppression), autoGainControl: flag(s.autoGainControl), echoSuppression: gate !== null, note };
  };
  const took = (change: Partial<Processing>) => {
    const now = processing();
    return (Object.keys(change) as Array<keyof Processing>).every((k) => now[k] === change[k]);
  };

  return {
    room,
    setMuted: (muted) => {
      userMuted = muted;
      return (muted ? microphone.mute() : microphone.unmute()).then(() => setGate(gate?.closed ?? false));
    },
    async applyProcessing(change) {
      wanted = { ...wanted, ...change };
      let note = 'applyConstraints';
      try {
        await microphone.applyConstraints(wanted);
      } catch (e) {
        note = `applyConstraints failed: ${(e as Error).message}`;
      }
      if (!took(change)) {
        try {
          await microphone.restartTrack(wanted);
          note = `${note === 'applyConstraints' ? 'applyConstraints ignored' : note}; restartTrack`;
        } catch (e) {
          note = `restartTrack failed: ${(e as Error).message}`;
        }
        // The reopened track starts enabled: gate it and keep the caller's mute.
        if (userMuted) await microphone.mute();
        setGate(gate?.closed ?? false);
      }
      // The note is recorded: no control characters, at most 200 characters.
      return processing(note.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200));
    },
    setEchoSuppression(on, onGate, context) {
      if (on && gate === null) gate = startHalfDuplex({ remotes: [...remoteAudio], setGate, onChange: onGate, context });
      if (!on && gate !== null) {
        const g = gate;
        gate = null;
        g.stop();
      }
      return processing('half duplex');
    },
    processing: () => processing(),
    setVolume(v) {
      volume = Math.min(1, Math.max(0, v));
      for (const el of elements) el.volume = volume;
    },
    async audioStats() {
      const inbound = { packetsReceived: 0, bytesReceived: 0, totalAudioEnergy: 0 };
      for (const p of room.remoteParticipants.values())
        for (const pub of p.audioTrackPublications.values())
          if (pub.track)
            for (const s of await statsOf(pub.track, 'inbound-rtp')) {
              inbound.packetsReceived += s.packetsReceived ?? 0;
              inbound.bytesReceived += s.bytesReceived ?? 0;
              inbound.totalAudioEnergy += s.totalAudioEnergy ?? 0;
            }
      const outbound = { packetsSent: 0, bytesSent: 0 };
      for (const s of await statsOf(microphone, 'outbound-rtp')) {
        outbound.packetsSent += s.packetsSent ?? 0;
        outbound.bytesSent += s.bytesSent ?? 0;
      }
      return { inbound, outbound };
    },
    async leave() {
      if (left) return;
      left = true;
      gate?.stop();
      gate = null;
      await room.disconnect().catch(() => undefined);
      microphone.stop();
      for (const el of elements) el.remove();
      elements.clear();
    },
  };
};
