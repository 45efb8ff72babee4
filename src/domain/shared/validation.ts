import { badInput } from './errors';

/** E.164: a plus sign and 2 to 15 digits, the first not zero. */
export const E164 = /^\+[1-9]\d{1,14}$/;

export const assertE164 = (value: string, field: string): void => {
  if (!E164.test(value)) throw badInput(`${field} must be an E.164 number like +14155550100, got "${value}"`, { field });
};

/** Digits a DTMF keypad can send: 0-9, *, #, A-D. */
export const DTMF_DIGITS = /^[0-9*#A-D]+$/;

export const assertNonEmpty = (value: string, field: string, max = 200): void => {
  if (value.trim().length === 0) throw badInput(`${field} must not be empty`, { field });
  if (value.length > max) throw badInput(`${field} must be at most ${max} characters`, { field });
};

/** An IANA time zone the runtime knows (Intl is data, not I/O). */
export const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
};

/** The origin (scheme://host[:port]) of a URL, or null when it is not an absolute http(s) URL. */
export const originOf = (url: string): string | null => {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.origin;
  } catch {
    return null;
  }
};
