import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_KEYED_DIGITS, newTry, pressKey, promptEnded, timedOut, type Keypad } from './keypad';

const T = 10_000;
/** Keys pressed one a second from `start`, after the prompt ended at 0; the finished try or the keypad. */
const keys = (seq: string, k: Keypad = promptEnded(newTry(), 0, T), start = 1000): { done: string | null; keypad: Keypad } => {
  let keypad = k;
  for (const [i, key] of [...seq].entries()) {
    const step = pressKey(keypad, key, start + i * 1000, T);
    if (step.done !== null) return step;
    keypad = step.keypad;
  }
  return { done: null, keypad };
};

describe('a main number keypad (issue 23): one try, up to #', () => {
  it('given digits then #, then the try is the digits, without #', () => {
    assert.equal(keys('42#').done, '42');
    assert.equal(keys('9#').done, '9');
  });

  it('given a lone #, then an empty try', () => {
    assert.equal(keys('#').done, '');
  });

  it('given *, A-D among the digits, then they are ignored', () => {
    assert.equal(keys('4*A2D#').done, '42');
  });

  it('given digits without #, then the try goes on', () => {
    const r = keys('123');
    assert.equal(r.done, null);
    assert.equal(r.keypad.keyed, '123');
  });

  it(`given more than ${MAX_KEYED_DIGITS} digits, then the try ends with the first ${MAX_KEYED_DIGITS} at the next one`, () => {
    const many = '1234567890'.repeat(4);
    const r = keys(many);
    assert.equal(r.done, many.slice(0, MAX_KEYED_DIGITS));
    assert.equal(keys(`${many.slice(0, MAX_KEYED_DIGITS)}#`).done, many.slice(0, MAX_KEYED_DIGITS), 'exactly 32 and # is a try of 32');
  });

  it('given nothing keyed, then the try times out empty, counted from the end of the prompt', () => {
    const playing = newTry();
    assert.equal(timedOut(playing, 1e9), null, 'no timeout while the prompt plays');
    const k = promptEnded(playing, 5000, T);
    assert.equal(timedOut(k, 5000 + T - 1), null);
    assert.equal(timedOut(k, 5000 + T), '');
    assert.equal(promptEnded(k, 9000, T).deadline, 5000 + T, 'the prompt ends once');
  });

  it('given digits without #, then each key gives the caller the time again, and the try times out with them', () => {
    const r = keys('42'); // keys at 1 s and 2 s
    assert.equal(timedOut(r.keypad, 2000 + T - 1), null);
    assert.equal(timedOut(r.keypad, 2000 + T), '42');
  });

  it('given a key while the prompt plays, then it counts, and the timeout starts with it', () => {
    const r = keys('4', newTry(), 500);
    assert.equal(r.keypad.keyed, '4');
    assert.equal(r.keypad.deadline, 500 + T);
    assert.equal(keys('2#', r.keypad, 600).done, '42');
  });
});
