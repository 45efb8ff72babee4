/**
 * The server-run room participant, reduced to what the LiveKit adapter needs. The real one wraps
 * @livekit/rtc-node (rtc-room-participant.ts) and can only be exercised against a real LiveKit
 * server; tests drive the adapter through this interface instead.
 */

/** Another participant's attributes, seen when it joins and whenever they change. */
export interface AttributesEvent {
  identity: string;
  attributes: Record<string, string>;
}

/** An RFC 4733 telephone-event that LiveKit SIP decoded and broadcast to the room (SipDTMF packet). */
export interface DtmfEvent {
  identity: string;
  code: number;
  digit: string;
}

/** A participant left; `disconnectReason` is the LiveKit DisconnectReason name (e.g. USER_REJECTED). */
export interface ParticipantLeftEvent {
  identity: string;
  disconnectReason: string | null;
  attributes: Record<string, string>;
}

export interface RoomParticipantEvents {
  attributes: (event: AttributesEvent) => void;
  dtmf: (event: DtmfEvent) => void;
  participantLeft: (event: ParticipantLeftEvent) => void;
}

/** An audio track of ours in the room (a main number's prompt, issue 23). */
export interface AudioOut {
  /**
   * Plays mono 16-bit PCM at the track's sample rate, in real time (10 ms frames). Resolves once it
   * has played out, or soon after `signal` aborts (the rest is dropped). Rejects when the room is gone.
   */
  play(samples: Int16Array, signal: AbortSignal): Promise<void>;
  /** Unpublishes the track. Idempotent; never rejects. */
  close(): Promise<void>;
}

export interface RoomParticipant {
  /** Joins `room` with `token`. Rejects when the server refuses the connection. */
  connect(room: string, token: string): Promise<void>;
  on<K extends keyof RoomParticipantEvents>(event: K, listener: RoomParticipantEvents[K]): void;
  /** Sends one DTMF digit to the room; LiveKit SIP plays it to the PSTN leg as RFC 4733. */
  publishDtmf(code: number, digit: string): Promise<void>;
  /**
   * Publishes a mono audio track of ours at `sampleRate` (needs a token that may publish). LiveKit
   * SIP subscribes to it, and that answers a ringing inbound caller (INBOUND.md).
   */
  publishAudio(sampleRate: number): Promise<AudioOut>;
  /** Leaves the room. Idempotent; never rejects. */
  disconnect(): Promise<void>;
}

/** Makes a room participant for a LiveKit server at `url` (ws:// or wss://). */
export type RoomParticipantFactory = (url: string) => RoomParticipant;
