/**
 * Echo suppression by half duplex (issue 24): while the agent's audio that this browser receives is
 * louder than THRESHOLD_DBFS, the outgoing microphone is gated (its track disabled: WebRTC then sends
 * silence), and it opens again HANG_MS after the agent fell silent. A shopper's speakers cannot then
 * send the agent's own voice back. The level is the RMS of 20 ms windows of the received audio,
 * in dB relative to full scale, taken with a WebAudio AnalyserNode.
 */
export const THRESHOLD_DBFS = -50;
export const HANG_MS = 300;
const WINDOW_MS = 20;

export interface HalfDuplexGate {
  /** Whether the microphone is gated now. */
  readonly closed: boolean;
  /** Follow this received audio track too (another participant). */
  addRemote(track: MediaStreamTrack): void;
  removeRemote(track: MediaStreamTrack): void;
  /** Stops measuring and opens the microphone (unless the caller muted it). */
  stop(): void;
}

/**
 * `setGate(closed)` is called when the gate changes (and again each window while closed, so a
 * microphone reopened by restartTrack is gated too); `onChange` reports it to the page.
 */
export const startHalfDuplex = (opts: {
  remotes: MediaStreamTrack[];
  setGate(closed: boolean): void;
  onChange?(closed: boolean): void;
  /** A context created in a user gesture (the widget's click): one created later may start suspended under an autoplay policy, and would measure nothing. */
  context?: AudioContext;
}): HalfDuplexGate => {
  const ctx = opts.context ?? new AudioContext();
  void ctx.resume().catch(() => undefined);
  const nodes = new Map<MediaStreamTrack, { source: MediaStreamAudioSourceNode; analyser: AnalyserNode }>();
  const buffer = new Float32Array(1024);
  let lastLoud = -Infinity;
  let closed = false;
  const addRemote = (track: MediaStreamTrack) => {
    if (nodes.has(track)) return;
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024; // 21 ms at 48 kHz
    source.connect(analyser);
    nodes.set(track, { source, analyser });
  };
  const level = (): number => {
    let peak = -Infinity;
    for (const { analyser } of nodes.values()) {
      analyser.getFloatTimeDomainData(buffer);
      let sum = 0;
      for (const v of buffer) sum += v * v;
      const db = 10 * Math.log10(sum / buffer.length + 1e-12);
      if (db > peak) peak = db;
    }
    return peak;
  };
  const tick = () => {
    const now = performance.now();
    if (level() > THRESHOLD_DBFS) lastLoud = now;
    const next = now - lastLoud < HANG_MS;
    const changed = next !== closed;
    closed = next;
    if (changed) opts.onChange?.(closed);
    if (changed || closed) opts.setGate(closed);
  };
  for (const t of opts.remotes) addRemote(t);
  const timer = setInterval(tick, WINDOW_MS);
  return {
    get closed() {
      return closed;
    },
    addRemote,
    removeRemote(track) {
      nodes.get(track)?.source.disconnect();
      nodes.delete(track);
    },
    stop() {
      clearInterval(timer);
      for (const n of nodes.values()) n.source.disconnect();
      nodes.clear();
      if (!opts.context) void ctx.close().catch(() => undefined);
      if (closed) {
        closed = false;
        opts.onChange?.(false);
      }
      opts.setGate(false);
    },
  };
};
