/**
 * DTMF collector: turns digits keyed by the agent, reported one at a time or several per report,
 * into the merchant's commands (issue 5 §4). Pure: time arrives with each report.
 *
 * Grammar (S = one sequence; T = the terminator digit, '#' by default; NN = two digits 0-9):
 *
 *   S := KEY              an exact key of the merchant's table, e.g. "*76"
 *      | "#" NN "#"       open chat channel NN (built in; a table key with the same text wins)
 *      | "#" NN           the same, when ended by the inter-digit timeout (ARCHITECTURE §2 writes "#NN")
 *      | "##" F S         a media setting of the caller's microphone (./media-settings.ts; built in, a
 *                         table key with the same text wins); an unknown F or S is recorded as refused
 *
 * A sequence ends
 *   - on an exact match that no longer key (or the channel form) extends: recognised at once;
 *   - on T, when buffer+T can no longer grow into a key: the buffer is recognised if complete
 *     (a key or "#NN"), else discarded; T itself is consumed. T only acts as a terminator where it
 *     cannot be part of a sequence, so "#12#" is a channel and "*7#" ends "*7";
 *   - on the inter-digit timeout: the next report (or `expire`) arriving at least
 *     `interDigitTimeoutMs` after the last digit first ends the buffered sequence, like T
 *     (what the buffer would mean is kept in the state, so expiry needs no table);
 *   - when the next digit makes the buffer impossible: a complete buffer is recognised and the digit
 *     starts afresh, otherwise leading digits are dropped until what is left can still become a
 *     sequence (noise before "*76" does not hide it).
 * Digits in one report share one instant, so no timeout falls between them.
 */
import type { DtmfAction } from '../merchant/events';
import type { DtmfCommandRecognized } from './events';
import { badInput } from '../shared/errors';
import { DTMF_DIGITS, originOf } from '../shared/validation';
import { MEDIA_CODE_FULL, MEDIA_CODE_PREFIX, mediaSettingOfSequence, parseMediaSettingArgument } from './media-settings';

export interface DtmfTableEntry {
  action: DtmfAction;
  argument: string | null;
}
/** sequence → command, as set with SetDtmfCommand. */
export type DtmfTable = Readonly<Record<string, DtmfTableEntry>>;

export interface CollectorState {
  /** Digits of the sequence in progress. */
  buffer: string;
  /** ISO instant of the last digit buffered; null when the buffer is empty. */
  lastDigitAt: string | null;
  /**
   * What the buffer means if it ends now (by terminator or timeout), computed with the table when
   * the digits arrived; null when it would mean nothing. Kept in the state so that `expire` needs
   * neither the table nor a second look-up, and acts on the table the digits were keyed against.
   */
  onEnd: Recognized | null;
}

export interface CollectorOptions {
  interDigitTimeoutMs: number;
  /** One DTMF digit. '#' by default: it still works inside "#NN#" because of the rule above. */
  terminator: string;
}

export const DEFAULT_COLLECTOR_OPTIONS: CollectorOptions = { interDigitTimeoutMs: 3000, terminator: '#' };

export interface Recognized {
  sequence: string;
  action: DtmfAction;
  argument: string | null;
}

export interface CollectResult {
  state: CollectorState;
  recognized: Recognized[];
  /** Sequences that ended without meaning anything (kept for diagnostics, never acted upon). */
  discarded: string[];
}

export const emptyCollector: CollectorState = { buffer: '', lastDigitAt: null, onEnd: null };

const CHANNEL_FULL = /^#(\d\d)#$/;
const CHANNEL_SHORT = /^#(\d\d)$/;
const CHANNEL_PREFIX = /^#(\d(\d#?)?)?$/;

const hasKey = (table: DtmfTable, s: string) => Object.prototype.hasOwnProperty.call(table, s);

/** Could more digits turn `s` into a sequence? */
const viable = (table: DtmfTable, s: string): boolean =>
  s === '' || CHANNEL_PREFIX.test(s) || MEDIA_CODE_PREFIX.test(s) || MEDIA_CODE_FULL.test(s) || Object.keys(table).some((k) => k.startsWith(s));

/** Is `s` a sequence that some longer sequence also starts with (then wait before acting)? */
const extendable = (table: DtmfTable, s: string): boolean =>
  (CHANNEL_PREFIX.test(s) && !CHANNEL_FULL.test(s)) || Object.keys(table).some((k) => k.length > s.length && k.startsWith(s));

const exact = (table: DtmfTable, s: string): boolean => hasKey(table, s) || CHANNEL_FULL.test(s) || MEDIA_CODE_FULL.test(s);

/** A sequence that may be acted upon once it has ended (by terminator, timeout or impossibility). */
const complete = (table: DtmfTable, s: string): boolean => exact(table, s) || CHANNEL_SHORT.test(s);

const meaning = (table: DtmfTable, s: string): Recognized => {
  if (hasKey(table, s)) {
    const entry = table[s];
    return { sequence: s, action: entry.action, argument: entry.argument };
  }
  // An unknown code keeps a null argument: commandFor records it as refused.
  if (MEDIA_CODE_FULL.test(s)) return { sequence: s, action: 'MEDIA_SETTING', argument: mediaSettingOfSequence(s) };
  const m = CHANNEL_FULL.exec(s) ?? CHANNEL_SHORT.exec(s);
  if (!m) throw new Error(`not a sequence: ${s}`); // guarded by complete(); never reached
  return { sequence: s, action: 'OPEN_CHANNEL', argument: m[1] };
};

interface Acc {
  buffer: string;
  recognized: Recognized[];
  discarded: string[];
}

/** Ends the buffered sequence (terminator or timeout). */
const finish = (table: DtmfTable, acc: Acc): void => {
  if (acc.buffer === '') return;
  if (complete(table, acc.buffer)) acc.recognized.push(meaning(table, acc.buffer));
  else acc.discarded.push(acc.buffer);
  acc.buffer = '';
};

const step = (table: DtmfTable, terminator: string, acc: Acc, digit: string): void => {
  const candidate = acc.buffer + digit;
  if (viable(table, candidate)) {
    if (exact(table, candidate) && !extendable(table, candidate)) {
      acc.recognized.push(meaning(table, candidate));
      acc.buffer = '';
    } else acc.buffer = candidate;
    return;
  }
  if (digit === terminator) {
    finish(table, acc);
    return;
  }
  if (acc.buffer !== '' && complete(table, acc.buffer)) {
    // e.g. "*7" and "*76" are keys, "*7" then "5": "*7" stands, and "5" starts afresh.
    finish(table, acc);
    step(table, terminator, acc, digit);
    return;
  }
  // Slide: drop leading digits until what is left can still become a sequence.
  let rest = candidate;
  while (rest !== '' && !viable(table, rest)) rest = rest.slice(1);
  const dropped = candidate.slice(0, candidate.length - rest.length);
  if (dropped !== '') acc.discarded.push(dropped);
  acc.buffer = '';
  if (rest !== '') for (const d of rest) step(table, terminator, acc, d);
};

const instant = (at: Date | string, field: string): number => {
  const t = typeof at === 'string' ? Date.parse(at) : at.getTime();
  if (!Number.isFinite(t)) throw badInput(`${field} must be a valid instant`, { field });
  return t;
};

const assertOptions = (options: CollectorOptions): void => {
  if (!/^[0-9*#A-D]$/.test(options.terminator)) throw badInput('terminator must be one DTMF digit', { field: 'terminator' });
  if (!Number.isInteger(options.interDigitTimeoutMs) || options.interDigitTimeoutMs < 1)
    throw badInput('interDigitTimeoutMs must be a positive integer', { field: 'interDigitTimeoutMs' });
};

/** When the buffered sequence times out, or null when nothing is buffered. */
export const collectorDeadline = (state: CollectorState, options: CollectorOptions): Date | null =>
  state.buffer === '' || state.lastDigitAt === null
    ? null
    : new Date(instant(state.lastDigitAt, 'lastDigitAt') + options.interDigitTimeoutMs);

/**
 * Ends the buffered sequence if the inter-digit timeout has passed by `now` (at least
 * interDigitTimeoutMs since the last digit); otherwise changes nothing. Idempotent.
 */
export const expire = (
  state: CollectorState,
  now: Date | string,
  options: CollectorOptions = DEFAULT_COLLECTOR_OPTIONS,
): CollectResult => {
  assertOptions(options);
  const deadline = collectorDeadline(state, options);
  if (deadline === null || instant(now, 'now') < deadline.getTime()) return { state, recognized: [], discarded: [] };
  return state.onEnd === null
    ? { state: emptyCollector, recognized: [], discarded: [state.buffer] }
    : { state: emptyCollector, recognized: [state.onEnd], discarded: [] };
};

/**
 * Feeds one report of digits received at `at`. Throws BAD_USER_INPUT for digits outside 0-9*#A-D.
 */
export const collect = (
  state: CollectorState,
  digits: string,
  at: Date | string,
  table: DtmfTable,
  options: CollectorOptions = DEFAULT_COLLECTOR_OPTIONS,
): CollectResult => {
  if (!DTMF_DIGITS.test(digits)) throw badInput(`digits must be DTMF (0-9, *, #, A-D), got "${digits}"`, { field: 'digits' });
  const atMs = instant(at, 'at');
  const expired = expire(state, at, options);
  const acc: Acc = { buffer: expired.state.buffer, recognized: [...expired.recognized], discarded: [...expired.discarded] };
  for (const d of digits) step(table, options.terminator, acc, d);
  const next: CollectorState =
    acc.buffer === ''
      ? emptyCollector
      : {
          buffer: acc.buffer,
          lastDigitAt: new Date(atMs).toISOString(),
          onEnd: complete(table, acc.buffer) ? meaning(table, acc.buffer) : null,
        };
  return { state: next, recognized: acc.recognized, discarded: acc.discarded };
};

/** The data of a DtmfCommandRecognized event, without the call id the call decider adds. */
export type DtmfCommandData = Omit<DtmfCommandRecognized['data'], 'callId' | 'sequence' | 'source' | 'agent'> & { sequence: string };

/**
 * Decides whether a recognised sequence may act. PUSH_PAGE is refused (accepted false, with the
 * reason) unless its URL is an absolute http(s) URL within the merchant's allowedOrigins (null: any
 * origin); MEDIA_SETTING is refused when its code names no setting ("##51"). Refusals are still recorded, so the agent's attempt shows in the call's timeline.
 */
export const commandFor = (
  recognized: Recognized,
  merchant: { allowedOrigins: readonly string[] | null },
  at: Date | string,
): DtmfCommandData => {
  const when = new Date(instant(at, 'at')).toISOString();
  const base = { sequence: recognized.sequence, action: recognized.action, argument: recognized.argument, at: when };
  if (recognized.action === 'MEDIA_SETTING')
    return parseMediaSettingArgument(recognized.argument) === null
      ? { ...base, accepted: false, reason: `unknown media-setting code ${recognized.sequence}` }
      : { ...base, accepted: true, reason: null };
  if (recognized.action !== 'PUSH_PAGE') return { ...base, accepted: true, reason: null };
  const origin = recognized.argument === null ? null : originOf(recognized.argument);
  if (origin === null) return { ...base, accepted: false, reason: 'page URL is not an absolute http(s) URL' };
  if (merchant.allowedOrigins !== null && !merchant.allowedOrigins.includes(origin))
    return { ...base, accepted: false, reason: `origin ${origin} is not among the merchant's allowed origins` };
  return { ...base, accepted: true, reason: null };
};

/**
 * Replays a call's digit reports (in stream order) through the collector, from an empty buffer. With
 * `until`, a sequence still buffered whose inter-digit timeout has passed by then is ended too — what
 * a scheduler calls at `collectorDeadline(result.state, options)` to act on "#NN" or on a key that a
 * longer key extends ("*7" when "*76" exists) without waiting for another digit.
 * Deterministic: the same reports give the same recognised list, so a caller can append only the
 * entries past those already recorded (idempotent under retries and concurrent reports).
 */
export const replayDtmf = (
  reports: ReadonlyArray<{ digits: string; at: Date | string }>,
  table: DtmfTable,
  options: CollectorOptions = DEFAULT_COLLECTOR_OPTIONS,
  until?: Date | string,
): { state: CollectorState; recognized: Array<Recognized & { at: string }> } => {
  let state = emptyCollector;
  const recognized: Array<Recognized & { at: string }> = [];
  const stamp = (rs: Recognized[], at: Date | string) => {
    const iso = new Date(instant(at, 'at')).toISOString();
    for (const r of rs) recognized.push({ ...r, at: iso });
  };
  for (const report of reports) {
    const r = collect(state, report.digits, report.at, table, options);
    // A sequence the timeout ended is stamped at its deadline, not at the report that revealed it.
    const deadline = collectorDeadline(state, options);
    const timedOut = expire(state, report.at, options).recognized;
    stamp(timedOut, deadline ?? report.at);
    stamp(r.recognized.slice(timedOut.length), report.at);
    state = r.state;
  }
  if (until !== undefined) {
    const deadline = collectorDeadline(state, options);
    const r = expire(state, until, options);
    stamp(r.recognized, deadline ?? until);
    state = r.state;
  }
  return { state, recognized };
};
