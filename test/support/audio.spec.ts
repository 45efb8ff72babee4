import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { heardOnly, muLawDecode, muLawEncode, toneReport, toneShare } from './audio';

const sine = (hz: number, seconds: number, rate: number, amplitude = 0.25) => Array.from({ length: seconds * rate }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
/** Deterministic noise (a linear congruential generator), amplitude `a`. */
const noise = (n: number, a: number) => {
  let x = 12345;
  return Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2 * a);
};

describe('the audio checks of the voice test (issue 22)', () => {
  it('given a pure tone, then Goertzel gives its frequency ~all of the power and another ~none', () => {
    const s = sine(440, 1, 8000);
    assert.ok(toneShare(s, 8000, 440) > 0.95);
    assert.ok(toneShare(s, 8000, 1000) < 0.01);
  });
  it('given codec-noise-like signals or silence, then no tone is "heard", however many packets there were', () => {
    const quiet = noise(16000, 0.001); // about -63 dBFS: below the floor
    const loud = noise(16000, 0.3); // loud white noise: no frequency dominates
    for (const s of [quiet, loud, new Array<number>(16000).fill(0)]) {
      const r = toneReport(s, 8000, [440, 1000]);
      assert.equal(heardOnly(r, 1000, 440), false, JSON.stringify(r));
    }
  });
  it('given the tone mixed with the other one, then "heard only" fails: an echo of our own tone is caught', () => {
    const a = sine(1000, 2, 8000);
    const b = sine(440, 2, 8000, 0.1);
    const mixed = a.map((v, i) => v + b[i]!);
    assert.equal(heardOnly(toneReport(a, 8000, [1000, 440]), 1000, 440), true);
    assert.equal(heardOnly(toneReport(mixed, 8000, [1000, 440]), 1000, 440), false);
  });
  it('µ-law round-trips within its quantisation step, and through it a tone stays detectable', () => {
    for (const v of [0, 1, -1, 100, -100, 1000, -1000, 10000, -10000, 32000, -32000]) {
      const back = muLawDecode(muLawEncode(v));
      assert.ok(Math.abs(back - v) <= Math.max(8, Math.abs(v) * 0.07), `${v} → ${back}`);
    }
    const coded = sine(1000, 1, 8000).map((v) => muLawDecode(muLawEncode(v * 32767)) / 32768);
    assert.ok(toneShare(coded, 8000, 1000) > 0.95);
  });
});
