import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTER_ID_PROMPT, parseWav, readPrompt } from './wav';

const chunk = (id: string, body: Buffer) => {
  const h = Buffer.alloc(8);
  h.write(id, 0, 'ascii');
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
};
const fmt = (channels: number, sampleRate: number, bits: number, tag = 1) => {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(sampleRate, 4);
  b.writeUInt32LE((sampleRate * channels * bits) / 8, 8);
  b.writeUInt16LE((channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return chunk('fmt ', b);
};
const wav = (...chunks: Buffer[]) => {
  const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), ...chunks]);
  const h = Buffer.alloc(8);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
};
const pcm = (...samples: number[]) => {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => b.writeInt16LE(s, 2 * i));
  return b;
};

describe('a WAV prompt (issue 23)', () => {
  it('given mono 16-bit PCM with other chunks (an odd-sized LIST), then its rate and samples', () => {
    const r = parseWav(wav(fmt(1, 8000, 16), chunk('LIST', Buffer.from('abc')), chunk('data', pcm(0, 1000, -32768, 32767))));
    assert.equal(r.sampleRate, 8000);
    assert.deepEqual([...r.samples], [0, 1000, -32768, 32767]);
  });

  it('given stereo, 8-bit, a float format, no data or not a WAV, then a clear error', () => {
    assert.throws(() => parseWav(wav(fmt(2, 8000, 16), chunk('data', pcm(0, 0)))), /mono 16-bit PCM/);
    assert.throws(() => parseWav(wav(fmt(1, 8000, 8), chunk('data', Buffer.alloc(2)))), /mono 16-bit PCM/);
    assert.throws(() => parseWav(wav(fmt(1, 8000, 16, 3), chunk('data', pcm(0)))), /mono 16-bit PCM/);
    assert.throws(() => parseWav(wav(fmt(1, 8000, 16))), /without a data chunk/);
    assert.throws(() => parseWav(wav(chunk('data', pcm(0)))), /before its fmt/);
    assert.throws(() => parseWav(Buffer.from('OggS0000WAVE')), /not a RIFF/);
  });

  it('given the committed prompt, then a few seconds of audible mono speech at a telephone rate', () => {
    const p = readPrompt(ENTER_ID_PROMPT);
    const seconds = p.samples.length / p.sampleRate;
    const rms = Math.sqrt(p.samples.reduce((a, s) => a + s * s, 0) / p.samples.length) / 32768;
    assert.ok([8000, 16000].includes(p.sampleRate), `rate ${p.sampleRate}`);
    assert.ok(seconds > 2 && seconds < 10, `${seconds} s`);
    assert.ok(20 * Math.log10(rms) > -30, `RMS ${(20 * Math.log10(rms)).toFixed(1)} dBFS`);
  });
});
