import { writeFileSync } from 'node:fs';

/**
 * Known signals and how to find them in what arrived: each direction of a call is checked with its
 * own tone (issue 22: "energy > 0" passed on the codec noise LiveKit SIP sends when nobody speaks).
 * Goertzel measures the power at one frequency; it is compared with the total power of the same
 * samples, so that a tone is told from noise whatever the gain on the way.
 */

/** The call center's tone (sent as PCMU by the test's RTP endpoint) and the shopper's microphone (a WAV). */
export const CENTER_TONE_HZ = 440;
export const MICROPHONE_TONE_HZ = 1000;

/** Power of `hz` in `samples` (Goertzel), as a share of the samples' total power: ~1 for a pure tone at hz, ~0 without it. */
export const toneShare = (samples: ArrayLike<number>, sampleRate: number, hz: number): number => {
  const n = samples.length;
  if (n === 0) return 0;
  const k = Math.round((n * hz) / sampleRate);
  const w = (2 * Math.PI * k) / n;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i]!;
    total += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (total === 0) return 0;
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2; // |X(k)|²
  // A sinusoid of amplitude A has |X(k)|² = (A·n/2)² and total power n·A²/2.
  return (2 * power) / (n * total);
};

/** RMS of the samples, in dBFS (full scale 1.0); -Infinity for silence. */
export const rmsDbfs = (samples: ArrayLike<number>): number => {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return samples.length === 0 ? -Infinity : 10 * Math.log10(sum / samples.length);
};

export interface ToneReport {
  /** Seconds of audio analysed, and of it the seconds above SIGNAL_FLOOR_DBFS (the windows the shares are taken on). */
  seconds: number;
  loudSeconds: number;
  /** RMS of the loud windows, dBFS. */
  rmsDbfs: number;
  /** Median, over the loud 100 ms windows, of each frequency's share of the power (0 without loud windows). */
  share: Record<number, number>;
}

/**
 * Cuts `samples` in 100 ms windows, keeps those above SIGNAL_FLOOR_DBFS (codec noise and the silence
 * before the first word stay below it), and reports the median share of each frequency in them.
 */
export const toneReport = (samples: ArrayLike<number>, sampleRate: number, frequencies: readonly number[]): ToneReport => {
  const win = Math.round(sampleRate / 10);
  const shares: Record<number, number[]> = Object.fromEntries(frequencies.map((f) => [f, []]));
  let loud = 0;
  let loudPower = 0;
  for (let start = 0; start + win <= samples.length; start += win) {
    const w = Array.prototype.slice.call(samples, start, start + win) as number[];
    const level = rmsDbfs(w);
    if (level < SIGNAL_FLOOR_DBFS) continue;
    loud++;
    loudPower += 10 ** (level / 10);
    for (const f of frequencies) shares[f]!.push(toneShare(w, sampleRate, f));
  }
  const median = (v: number[]) => (v.length === 0 ? 0 : [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!);
  return {
    seconds: samples.length / sampleRate,
    loudSeconds: loud / 10,
    rmsDbfs: loud === 0 ? -Infinity : 10 * Math.log10(loudPower / loud),
    share: Object.fromEntries(frequencies.map((f) => [f, median(shares[f]!)])),
  };
};

/** Whether `hz` arrived (dominant in at least `minSeconds` of signal) and `otherHz` did not. */
export const heardOnly = (r: ToneReport, hz: number, otherHz: number, minSeconds = 1): boolean =>
  r.loudSeconds >= minSeconds && r.share[hz]! >= TONE_PRESENT && r.share[otherHz]! < TONE_ABSENT;

export const describeReport = (r: ToneReport): string =>
  `${r.seconds.toFixed(1)} s analysed, ${r.loudSeconds.toFixed(1)} s above ${SIGNAL_FLOOR_DBFS} dBFS at ${r.rmsDbfs.toFixed(1)} dBFS; ` +
  Object.entries(r.share)
    .map(([f, v]) => `${f} Hz ${(100 * v).toFixed(1)} %`)
    .join(', ');

/** A tone "arrived" when it dominates (≥ 30 % of the power) a signal above -50 dBFS; "absent" below 2 %. */
export const TONE_PRESENT = 0.3;
export const TONE_ABSENT = 0.02;
export const SIGNAL_FLOOR_DBFS = -50;

/**
 * `seconds` of a sine at `hz` (or of silence: hz null), 16-bit mono PCM WAV at 48 kHz, -12 dBFS, in
 * bursts like speech (`onMs` of tone, `offMs` of silence): the browser's noise suppression learns a
 * steady tone as noise and fades it within seconds, a burst it keeps. The silent windows fall below
 * SIGNAL_FLOOR_DBFS and are not analysed.
 */
export const writeToneWav = (path: string, hz: number | null, seconds = 30, sampleRate = 48_000, burst = { onMs: 400, offMs: 200 }): void => {
  const n = seconds * sampleRate;
  const data = Buffer.alloc(n * 2);
  const amplitude = 0.25 * 32767;
  const period = ((burst.onMs + burst.offMs) * sampleRate) / 1000;
  const on = (burst.onMs * sampleRate) / 1000;
  for (let i = 0; i < n; i++) {
    const sounding = hz !== null && i % period < on;
    data.writeInt16LE(sounding ? Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRate)) : 0, i * 2);
  }
  writeWav(path, sampleRate, data);
};

/** Writes 16-bit little-endian mono PCM samples as a WAV file (the 44-byte RIFF header, then `data`). */
export const writeWav = (path: string, sampleRate: number, data: Buffer): void => {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
};

// ---- G.711 µ-law (PCMU), as the call center's phone speaks it ----------------------------------

const BIAS = 0x84;
const CLIP = 32635;

/** One 16-bit linear sample → µ-law byte (ITU-T G.711). */
export const muLawEncode = (sample: number): number => {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
};

/** µ-law byte → 16-bit linear sample. */
export const muLawDecode = (byte: number): number => {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return sign ? -magnitude : magnitude;
};

/** A stretch of sound in received audio: from, to (s from the first sample), and its RMS (dBFS). */
export interface LoudRun {
  fromS: number;
  toS: number;
  rmsDbfs: number;
}

/**
 * The stretches of sound in `samples` (e.g. the plays of a spoken prompt), from 50 ms windows above
 * `floorDbfs`; loud windows less than `bridgeMs` apart belong to one run (the pauses between words).
 */
export const loudRuns = (samples: ArrayLike<number>, sampleRate: number, opts: { floorDbfs?: number; bridgeMs?: number } = {}): LoudRun[] => {
  const floor = opts.floorDbfs ?? SIGNAL_FLOOR_DBFS;
  const bridge = (opts.bridgeMs ?? 1000) / 1000;
  const win = Math.round(sampleRate / 20);
  const runs: Array<{ fromS: number; toS: number; sum: number; n: number }> = [];
  for (let at = 0; at + win <= samples.length; at += win) {
    let sum = 0;
    for (let i = at; i < at + win; i++) sum += samples[i]! * samples[i]!;
    if (10 * Math.log10(sum / win) < floor) continue;
    const fromS = at / sampleRate;
    const last = runs[runs.length - 1];
    if (last && fromS - last.toS < bridge) {
      last.toS = (at + win) / sampleRate;
      last.sum += sum;
      last.n += win;
    } else runs.push({ fromS, toS: (at + win) / sampleRate, sum, n: win });
  }
  return runs.map((r) => ({ fromS: r.fromS, toS: r.toS, rmsDbfs: 10 * Math.log10(r.sum / r.n) }));
};
