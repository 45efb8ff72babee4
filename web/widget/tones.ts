/**
 * Call-progress tones, synthesised with WebAudio (nothing downloaded): the ringback while the call
 * rings, in the national cadence of the destination's country, and a busy / failure tone at the end.
 *
 *   US (+1)   ringback 440+480 Hz, 2 s on 4 s off;          busy 480+620 Hz, 0.5 s on 0.5 s off
 *   UK (+44)  ringback 400+450 Hz, 0.4 on 0.2 off 0.4 on 2 off; busy 400 Hz, 0.375 s on 0.375 s off
 *   EU (else) ringback 425 Hz, 1 s on 4 s off (ETSI TR 101 041); busy 425 Hz, 0.5 s on 0.5 s off
 */
export type ToneCountry = 'US' | 'UK' | 'EU';
export interface Cadence {
  /** Frequencies summed, in Hz. */
  freqs: number[];
  /** Seconds, alternately on and off, repeated. */
  pattern: number[];
}

export const RINGBACK: Record<ToneCountry, Cadence> = {
  US: { freqs: [440, 480], pattern: [2, 4] },
  UK: { freqs: [400, 450], pattern: [0.4, 0.2, 0.4, 2] },
  EU: { freqs: [425], pattern: [1, 4] },
};
export const BUSY: Record<ToneCountry, Cadence> = {
  US: { freqs: [480, 620], pattern: [0.5, 0.5] },
  UK: { freqs: [400], pattern: [0.375, 0.375] },
  EU: { freqs: [425], pattern: [0.5, 0.5] },
};

/** The country whose tones a destination (E.164) uses; NANP numbers (+1) are US, +44 UK, the rest the European cadence. */
export const toneCountryOf = (e164: string | null | undefined): ToneCountry => (e164?.startsWith('+1') ? 'US' : e164?.startsWith('+44') ? 'UK' : 'EU');

export interface PlayingTone {
  /** Silences the tone at once (the gain is set to 0 at the current audio time) and frees the audio graph. Idempotent. */
  stop(): void;
}

/**
 * Plays a cadence on `ctx` for `seconds` (the whole pattern repeated; the last period may be cut).
 * The on/off steps are scheduled on the audio clock up front, so timers of a busy page cannot stretch them.
 */
export const playCadence = (ctx: AudioContext, cadence: Cadence, seconds: number, level = 0.12): PlayingTone => {
  const gain = ctx.createGain();
  gain.gain.value = 0;
  gain.connect(ctx.destination);
  const oscillators = cadence.freqs.map((f) => {
    const o = ctx.createOscillator();
    o.frequency.value = f;
    o.connect(gain);
    return o;
  });
  const t0 = ctx.currentTime + 0.02;
  const amplitude = level / cadence.freqs.length;
  let t = t0;
  for (let i = 0; t < t0 + seconds; i = (i + 1) % cadence.pattern.length) {
    gain.gain.setValueAtTime(i % 2 === 0 ? amplitude : 0, t);
    t += cadence.pattern[i];
  }
  gain.gain.setValueAtTime(0, t0 + seconds);
  for (const o of oscillators) {
    o.start(t0);
    o.stop(t0 + seconds + 0.05);
  }
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      gain.gain.cancelScheduledValues(0);
      gain.gain.setValueAtTime(0, ctx.currentTime);
      for (const o of oscillators) o.stop();
      gain.disconnect();
    },
  };
};
