import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Mono 16-bit PCM, as read from a WAV file. */
export interface Pcm {
  sampleRate: number;
  samples: Int16Array;
}

/**
 * Reads a RIFF/WAVE file holding mono 16-bit PCM (format 1), skipping chunks other than `fmt ` and
 * `data` (LIST, fact…). Throws on anything else: the prompts are ours, made once (assets/prompts/README.md).
 */
export const parseWav = (file: Buffer): Pcm => {
  if (file.length < 12 || file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let format: { tag: number; channels: number; sampleRate: number; bits: number } | null = null;
  for (let at = 12; at + 8 <= file.length; ) {
    const id = file.toString('ascii', at, at + 4);
    const size = file.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > file.length) throw new Error('WAV fmt chunk too short');
      format = { tag: file.readUInt16LE(body), channels: file.readUInt16LE(body + 2), sampleRate: file.readUInt32LE(body + 4), bits: file.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!format) throw new Error('WAV data chunk before its fmt chunk');
      if (format.tag !== 1 || format.channels !== 1 || format.bits !== 16)
        throw new Error(`WAV must be mono 16-bit PCM, not format ${format.tag}, ${format.channels} channel(s), ${format.bits} bits`);
      const end = Math.min(body + size, file.length) & ~1; // a truncated file: what is there
      const samples = new Int16Array((end - body) / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = file.readInt16LE(body + 2 * i);
      return { sampleRate: format.sampleRate, samples };
    }
    at = body + size + (size & 1); // chunks are padded to an even size
  }
  throw new Error('WAV without a data chunk');
};

/** The repository's `assets/prompts/<name>` (dist/src/media/livekit → the root, four levels up). */
export const promptPath = (name: string): string => join(__dirname, '..', '..', '..', '..', 'assets', 'prompts', name);

/** The main number's prompt: "Welcome. Please key the number of the person you are calling, then press the hash key." */
export const ENTER_ID_PROMPT = 'enter-id.wav';

/** Reads and parses a prompt of assets/prompts. */
export const readPrompt = (name: string): Pcm => parseWav(readFileSync(promptPath(name)));
