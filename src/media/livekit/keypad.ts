/**
 * A main number's keypad (issue 23), pure: the digits of one try, up to `#`. Time arrives with each
 * input; the adapter owns the timer and the room events (livekit-media.ts, runMenu).
 *
 * - 0-9 add a digit; `*` and A-D are ignored.
 * - `#` ends the try with the digits keyed before it ('' for a lone `#`).
 * - More than MAX_KEYED_DIGITS digits end the try with the first MAX_KEYED_DIGITS: the caller is
 *   not left keying forever (the application counts any ID longer than 12 digits as a wrong try).
 * - The caller has `timeoutMs` after the prompt's end, and again after each key, to go on; then the
 *   try ends with what was keyed so far ('' when nothing: the port's "empty try").
 * - A key while the prompt plays is kept (and the adapter stops the prompt: barge-in).
 */

export const MAX_KEYED_DIGITS = 32;

export interface Keypad {
  keyed: string;
  /** When the try times out (epoch ms); null while the prompt plays. */
  deadline: number | null;
}

/** After an input: the keypad, and the finished try (digits without `#`) or null to go on. */
export interface KeypadStep {
  keypad: Keypad;
  done: string | null;
}

export const newTry = (): Keypad => ({ keyed: '', deadline: null });

/** The prompt finished (or was cut by a key): the caller's time starts now. */
export const promptEnded = (k: Keypad, now: number, timeoutMs: number): Keypad => (k.deadline === null ? { ...k, deadline: now + timeoutMs } : k);

/** One key (`0-9`, `*`, `#`, `A-D`) at `now`. */
export const pressKey = (k: Keypad, key: string, now: number, timeoutMs: number): KeypadStep => {
  if (key === '#') return { keypad: k, done: k.keyed };
  if (!/^[0-9]$/.test(key)) return { keypad: k, done: null };
  if (k.keyed.length >= MAX_KEYED_DIGITS) return { keypad: k, done: k.keyed };
  return { keypad: { keyed: k.keyed + key, deadline: now + timeoutMs }, done: null };
};

/** The try, when its time is up at `now`; null before (or while the prompt plays). */
export const timedOut = (k: Keypad, now: number): string | null => (k.deadline !== null && now >= k.deadline ? k.keyed : null);
