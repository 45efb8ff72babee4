import { badInput } from './errors';

/** E.164: a plus sign and 2 to 15 digits, the first not zero. */
export const E164 = /^\+[1-9]\d{1,14}$/;

export const assertE164 = (value: string, field: string): void => {
  if (!E164.test(value)) throw badInput(`${field} must be an E.164 number like +14155550100, got "${value}"`, { field });
};

/** An ISO-8601 instant (time arrives on commands): its epoch milliseconds, BAD_USER_INPUT otherwise. */
export const assertInstant = (at: string, field = 'at'): number => {
  const t = typeof at === 'string' ? Date.parse(at) : NaN;
  if (!Number.isFinite(t)) throw badInput(`${field} must be an ISO-8601 instant, got "${String(at)}"`, { field });
  return t;
};

/** Digits a DTMF keypad can send: 0-9, *, #, A-D. */
export const DTMF_DIGITS = /^[0-9*#A-D]+$/;

/**
 * A lone UTF-16 surrogate: not text in any encoding. JSON.stringify escapes it, but PostgreSQL's jsonb
 * refuses the escape (an internal error instead of a 400), and a UTF-8 log line cannot carry it.
 */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Control characters a line of text never needs: C0 (tab and newline allowed where `lines`), DEL and C1. */
const CONTROL_IN_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Free text a client sends: at most `max` characters, well-formed (no lone surrogate) and without
 * control characters (tab, newline and carriage return allowed when `lines`).
 */
export const assertText = (value: string, field: string, options: { max: number; lines?: boolean }): void => {
  if (value.length > options.max) throw badInput(`${field} must be at most ${options.max} characters`, { field });
  if ((options.lines ? CONTROL_IN_LINES : CONTROL).test(value)) throw badInput(`${field} must not contain control characters`, { field });
  if (LONE_SURROGATE.test(value)) throw badInput(`${field} must be well-formed text (it holds a lone UTF-16 surrogate)`, { field });
};

/** A gateway's own id for a report (dedupe key): 1 to 128 printable ASCII characters. */
export const GATEWAY_EVENT_ID = /^[\x21-\x7e]{1,128}$/;
export const assertGatewayEventId = (value: string | null): void => {
  if (value !== null && !GATEWAY_EVENT_ID.test(value))
    throw badInput('gatewayEventId must be 1 to 128 printable ASCII characters', { field: 'gatewayEventId' });
};

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
