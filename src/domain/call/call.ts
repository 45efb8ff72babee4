/**
 * The call: one stream per call (`call-<id>`), decided here, purely. Time and ids arrive on the
 * commands; routing and port seizure happen before InitiateCall and the command carries their outcome.
 *
 *   DOWNLOADED → INITIATED → RINGING → ANSWERED → TERMINATED
 *                     └──────────────────┘ (answer may come without ringing: 200 OK without 180)
 *   TERMINATED is reachable from every live state; DTMF only while ANSWERED.
 *
 * Idempotency (ARCHITECTURE §3, contract header): gateways retry webhooks, and hang-ups race with
 * timeouts, so a gateway report whose gatewayEventId was already applied, or that names a stage the
 * call has already reached or passed, decides [] (accepted, nothing changes). A terminate on a
 * terminated call decides []. Anything else out of order is a CONFLICT.
 */
import type { Decider } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, conflict, notFound } from '../shared/errors';
import { assertE164, assertGatewayEventId, assertInstant, assertNonEmpty, assertText, DTMF_DIGITS, originOf } from '../shared/validation';
import { assertVolumeArgument } from '../merchant/merchant';
import { commandFor, DEFAULT_COLLECTOR_OPTIONS, replayDtmf, type DtmfTable } from './dtmf-collector';
import type { CallCommand, DtmfRules } from './commands';
import { assertDownloadAllowed } from './download-policy';
import type { CallDirection, CallEvent, CallMedia, Party, TerminationCause } from './events';
import { CALLER_AUDIO_CHOICES, MEDIA_SETTINGS, assertMediaSettingArgument, mediaSettingSequence, parseMediaSettingArgument, type AppliedMediaSettings, type MediaSettingChange } from './media-settings';

interface CallBase {
  callId: string;
  /** Needed to build CallInitiated (its data names the merchant) and the events' envelopes (merchantOf); not used for any decision. */
  merchantId: string;
  /** OUTBOUND: a shopper's click; INBOUND: a phone called one of the merchant's numbers (issue 23). */
  direction: CallDirection;
  /** What the initiation routes on (the link's centers, nearest to the caller's region hint); for INBOUND, the number's link or null. */
  linkId: string | null;
  /** The shop's ids of the caller: carried in-band to the call center on dial (issue 23). */
  customerId: string | null;
  sessionId: string | null;
  callerRegion: string | null;
  /** When the call began: the download, or an INBOUND call's arrival. */
  downloadedAt: string;
  /** gatewayEventIds already applied: a repeated webhook changes nothing. */
  seenGatewayEventIds: readonly string[];
  /** The caller was given its media room join (once per call). */
  mediaJoined: boolean;
  /** The caller's last media-settings report (its canonical text): the same report again is a repeat. */
  callerMedia: string | null;
}

/** The chosen center and the line, fixed at initiation (no port for a BROWSER call). */
interface Connection {
  callCenterId: string;
  media: CallMedia;
  gatewayId: string | null;
  port: number | null;
  ani: string | null;
  initiatedAt: string;
  /** An INBOUND call to one agent's number rings for that agent (AGENT key id) only; null: any agent of the center. */
  offeredTo: string | null;
}

/**
 * The call decider's own state (PascalCase like every decider's, with Absent before the first
 * event). Not the call's status as the API and the read models spell it: that is `CallStatus`
 * (./events.ts, what each event moves it to: STATUS_AFTER), the contract's enum `CallState`.
 */
export type CallDeciderState =
  | { status: 'Absent' }
  | (CallBase & { status: 'Downloaded'; direction: 'OUTBOUND'; linkId: string })
  | (CallBase & Connection & { status: 'Initiated' })
  | (CallBase & Connection & { status: 'Ringing'; ringingAt: string })
  | (CallBase &
      Connection & {
        status: 'Answered';
        ringingAt: string | null;
        answeredAt: string;
        /** The agent who answered a BROWSER call in the console; null for PSTN. */
        answeredBy: string | null;
        /** Digit reports so far and how many DtmfCommandRecognized are stored: RecognizeDtmf decides the rest. */
        dtmf: { reports: ReadonlyArray<{ digits: string; at: string }>; recognized: number };
        /** Chat channels the agent opened with #NN# (accepted OPEN_CHANNEL commands). */
        channels: readonly string[];
      })
  | (CallBase & {
      status: 'Terminated';
      /** Null when the call ended before a port was seized. */
      gatewayId: string | null;
      port: number | null;
      answeredAt: string | null;
      terminatedAt: string;
      cause: TerminationCause;
      by: Party;
    });

export type CallStatusName = CallDeciderState['status'];
type LiveCall = Exclude<CallDeciderState, { status: 'Absent' } | { status: 'Terminated' }>;

export const initialCallState: CallDeciderState = { status: 'Absent' };

export const isTerminal = (state: CallDeciderState): boolean => state.status === 'Terminated';

/** Order of the stages: a report for a stage at or below the current one is a repeat. */
const RANK: Record<CallStatusName, number> = { Absent: 0, Downloaded: 1, Initiated: 2, Ringing: 3, Answered: 4, Terminated: 5 };

/**
 * Milliseconds from answer to end, never negative (clocks of two hosts may disagree); null when the
 * call was never answered. What rating bills (rounded up to the plan's increments there): both
 * instants are on the call's own events (CallAnswered.at, CallTerminated.at), so calls recorded
 * before this existed rate the same way, with no upcast.
 */
export const talkMsBetween = (answeredAt: string | null, endedAt: string): number | null => {
  if (answeredAt === null) return null;
  return Math.max(0, Date.parse(endedAt) - Date.parse(answeredAt));
};

/**
 * Whole seconds from answer to end, floored and never negative: the talk time shown (CallTerminated
 * talkSeconds, Call.talkSeconds). Not what is billed: rating reads talkMsBetween.
 */
export const talkSecondsBetween = (answeredAt: string | null, endedAt: string): number => Math.floor((talkMsBetween(answeredAt, endedAt) ?? 0) / 1000);

/**
 * Who is on the call's own phone leg, so whose hang-up a gateway's end report is: the call center
 * (CALLEE) for an OUTBOUND call and for a PSTN center's callback try (its number was dialled); the
 * CALLER for an INBOUND call and for a BROWSER center's callback try (the shopper's phone was dialled).
 */
export const ownLegParty = (state: CallDeciderState): Party => {
  if (state.status === 'Absent' || state.direction === 'OUTBOUND') return 'CALLEE';
  if (state.direction === 'CALLBACK' && state.status !== 'Terminated' && state.media === 'PSTN') return 'CALLEE';
  return 'CALLER';
};

const live = (state: CallDeciderState, callId: string): LiveCall | Extract<CallDeciderState, { status: 'Terminated' }> => {
  if (state.status === 'Absent') throw notFound('call', callId);
  return state;
};

const outOfOrder = (command: string, status: CallStatusName) =>
  conflict(`${command} is not allowed when the call is ${status.toUpperCase()}`, { status: status.toUpperCase() });

const seen = (state: CallBase, gatewayEventId: string | null): boolean =>
  gatewayEventId !== null && state.seenGatewayEventIds.includes(gatewayEventId);

const decide = (command: CallCommand, state: CallDeciderState): CallEvent[] => {
  switch (command.type) {
    case 'RecordDownload': {
      const { policy, ...d } = command.data;
      assertDownloadAllowed(d, policy);
      assertInstant(d.at);
      assertNonEmpty(d.callId, 'callId');
      assertNonEmpty(d.merchantId, 'merchantId');
      assertNonEmpty(d.linkId, 'linkId');
      if (state.status !== 'Absent') throw conflict(`call ${d.callId} already exists`, { status: state.status.toUpperCase() });
      return [{ type: 'CallDownloaded', data: d }];
    }
    case 'ReceiveInboundCall': {
      const { refused, ...d } = command.data;
      assertInstant(d.at);
      assertNonEmpty(d.callId, 'callId');
      assertNonEmpty(d.merchantId, 'merchantId');
      assertNonEmpty(d.callCenterId, 'callCenterId');
      assertE164(d.did, 'did');
      assertCallerNumber(d.ani);
      if (!INBOUND_DESTINATIONS.includes(d.destination)) throw badInput(`destination must be one of ${INBOUND_DESTINATIONS.join(', ')}`, { field: 'destination' });
      if ((d.destination === 'AGENT') !== (d.agent !== null)) throw badInput('agent is set for an AGENT number, and only then', { field: 'agent' });
      if (d.keyed !== null && (!Array.isArray(d.keyed) || d.keyed.length === 0 || d.keyed.length > 3 || !d.keyed.every((k) => typeof k === 'string' && /^[0-9*]{0,32}$/.test(k))))
        throw badInput('keyed lists the 1 to 3 IDs keyed at the prompt (digits, at most 32 each), or is null', { field: 'keyed' });
      // The same arrival reported again (a webhook delivered twice, two instances): nothing new.
      if (state.status !== 'Absent') {
        if (state.direction === 'INBOUND') return [];
        throw conflict(`call ${d.callId} already exists`, { status: state.status.toUpperCase() });
      }
      const received: CallEvent = { type: 'InboundCallReceived', data: { ...d } };
      if (refused === null) return [received, { type: 'CallRinging', data: { callId: d.callId, gatewayEventId: null, at: d.at } }];
      const end = { cause: refused.cause, by: 'SYSTEM', sipStatus: refused.sipStatus, gatewayEventId: null, reason: refused.reason, talkSeconds: 0, gatewayId: null, port: null, at: d.at } as const;
      return [received, { type: 'CallTerminated', data: { callId: d.callId, ...end } }];
    }
    case 'PlaceCallbackCall': {
      const d = command.data;
      assertInstant(d.at);
      for (const f of ['callId', 'merchantId', 'callbackId', 'callCenterId'] as const) assertNonEmpty(d[f], f);
      if (!Number.isInteger(d.attempt) || d.attempt < 1) throw badInput('attempt is a positive integer', { field: 'attempt' });
      if (d.media !== 'BROWSER' && d.media !== 'PSTN') throw badInput(`media must be PSTN or BROWSER, got "${String(d.media)}"`, { field: 'media' });
      // A callback to the browser has no number. A try holds a port when it dials: the center (PSTN)
      // or the shopper's phone; a browser center's try to the browser dials nothing (a BROWSER call's line).
      if (d.number !== null) assertE164(d.number, 'number');
      assertLine({ media: d.media === 'PSTN' || d.number !== null ? 'PSTN' : 'BROWSER', gatewayId: d.gatewayId, port: d.port, ani: d.ani });
      if (state.status !== 'Absent') {
        if (state.direction === 'CALLBACK') return [];
        throw conflict(`call ${d.callId} already exists`, { status: state.status.toUpperCase() });
      }
      const placed: CallEvent = { type: 'CallbackCallPlaced', data: { ...d } };
      // A PSTN center's number is dialled: it rings (and answers) when its gateway says so, never in the consoles.
      if (d.media === 'PSTN') return [placed];
      return [placed, { type: 'CallRinging', data: { callId: d.callId, gatewayEventId: null, at: d.at } }];
    }
    case 'InitiateCall': {
      const d = command.data;
      assertInstant(d.at);
      assertE164(d.destination, 'destination');
      assertNonEmpty(d.callCenterId, 'callCenterId');
      assertLine(d);
      const s = live(state, d.callId);
      if (s.status !== 'Downloaded') throw outOfOrder(command.type, s.status);
      const initiated: CallEvent = { type: 'CallInitiated', data: { ...d, merchantId: s.merchantId } };
      // A browser center has no phone to dial: the call is offered to its consoles at once, and
      // rings there (screen pops fire on CallRinging, the ringing timeout applies as for PSTN).
      if (d.media === 'BROWSER') return [initiated, { type: 'CallRinging', data: { callId: d.callId, gatewayEventId: null, at: d.at } }];
      return [initiated];
    }
    case 'ReportRinging': {
      const d = command.data;
      assertInstant(d.at);
      assertGatewayEventId(d.gatewayEventId);
      const s = live(state, d.callId);
      if (seen(s, d.gatewayEventId) || RANK[s.status] >= RANK.Ringing) return [];
      if (s.status !== 'Initiated') throw outOfOrder(command.type, s.status);
      return [{ type: 'CallRinging', data: { ...d } }];
    }
    case 'AnswerCall': {
      const d = command.data;
      assertInstant(d.at);
      assertGatewayEventId(d.gatewayEventId);
      const s = live(state, d.callId);
      if (d.answeredBy !== null) return answerInConsole(s, d);
      if (seen(s, d.gatewayEventId) || RANK[s.status] >= RANK.Answered) return [];
      if (s.status !== 'Initiated' && s.status !== 'Ringing') throw outOfOrder(command.type, s.status);
      if (s.media === 'BROWSER') throw conflict('a browser call is answered by an agent in the console, not by a gateway', { media: 'BROWSER' });
      return [{ type: 'CallAnswered', data: { ...d } }];
    }
    case 'ReportDtmf': {
      const d = command.data;
      assertInstant(d.at);
      assertGatewayEventId(d.gatewayEventId);
      if (typeof d.digits !== 'string' || !DTMF_DIGITS.test(d.digits))
        throw badInput(`digits must be DTMF (0-9, *, #, A-D), got "${String(d.digits)}"`, { field: 'digits' });
      const s = live(state, d.callId);
      if (seen(s, d.gatewayEventId)) return [];
      if (s.status !== 'Answered') throw outOfOrder(command.type, s.status);
      const received: CallEvent = { type: 'DtmfReceived', data: { callId: d.callId, digits: d.digits, gatewayEventId: d.gatewayEventId, at: d.at } };
      // An inbound call's digits are the caller's, keyed on the phone: no agent command (the keypad
      // table pushes pages to a shopper's browser, and this caller has none).
      // A callback's digits are the shopper's phone's too.
      if (s.direction !== 'OUTBOUND') return [received];
      return [received, ...recognizeNew([...s.dtmf.reports, { digits: d.digits, at: d.at }], s.dtmf.recognized, d)];
    }
    case 'TerminateCall': {
      const d = command.data;
      assertInstant(d.at);
      assertGatewayEventId(d.gatewayEventId);
      if (d.sipStatus !== null && (!Number.isInteger(d.sipStatus) || d.sipStatus < 100 || d.sipStatus > 699))
        throw badInput('sipStatus must be a SIP status code from 100 to 699', { field: 'sipStatus' });
      const reason = d.reason ?? null;
      if (reason !== null && (typeof reason !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(reason)))
        throw badInput('reason must be 1 to 64 letters, digits or _ . : -', { field: 'reason' });
      const s = live(state, d.callId);
      if (s.status === 'Terminated' || seen(s, d.gatewayEventId)) return [];
      const answeredAt = s.status === 'Answered' ? s.answeredAt : null;
      const port = s.status === 'Downloaded' ? { gatewayId: null, port: null } : { gatewayId: s.gatewayId, port: s.port };
      return [{ type: 'CallTerminated', data: { ...d, reason, talkSeconds: talkSecondsBetween(answeredAt, d.at), ...port } }];
    }
    case 'RecognizeDtmf': {
      const d = command.data;
      assertInstant(d.at);
      const s = live(state, d.callId);
      // Only an answered call has digits to act on; after the end, late timers change nothing.
      // An inbound caller's digits are never agent commands (ReportDtmf).
      if (s.status !== 'Answered' || s.direction !== 'OUTBOUND') return [];
      return recognizeNew(s.dtmf.reports, s.dtmf.recognized, d);
    }
    case 'IssueAgentCommand': {
      const d = command.data;
      assertInstant(d.at);
      assertNonEmpty(d.agent, 'agent');
      assertAgentArgument(d.action, d.argument);
      const s = live(state, d.callId);
      if (s.status !== 'Answered') throw outOfOrder(command.type, s.status);
      // After a transfer, its holder gives the commands: the agent who answered no longer does.
      const holder = d.holder ?? s.answeredBy;
      if (holder !== null && holder !== d.agent) throw conflict('only the agent who holds this browser call (who answered it, or took it by a transfer) can give its commands');
      const recognized = { sequence: sequenceFor(d.table, d.action, d.argument), action: d.action, argument: d.argument };
      const decided = commandFor({ ...recognized, sequence: recognized.sequence ?? '' }, { allowedOrigins: d.allowedOrigins }, d.at);
      return [{ type: 'DtmfCommandRecognized', data: { callId: d.callId, ...decided, sequence: recognized.sequence, source: 'AGENT', agent: d.agent } }];
    }
    case 'SendChannelMessage': {
      const d = command.data;
      assertInstant(d.at);
      if (d.text.trim().length === 0 || d.text.length > 1000) throw badInput('text must be 1 to 1000 characters', { field: 'text' });
      assertText(d.text, 'text', { max: 1000, lines: true });
      const s = live(state, d.callId);
      if (s.status !== 'Answered') throw outOfOrder(command.type, s.status);
      if (!s.channels.includes(d.channelId)) throw conflict(`chat channel ${d.channelId} is not open on this call`, { channelId: d.channelId });
      return [{ type: 'ChannelMessageSent', data: { callId: d.callId, channelId: d.channelId, from: d.from, text: d.text, at: d.at } }];
    }
    case 'JoinMedia': {
      const d = command.data;
      assertInstant(d.at);
      assertNonEmpty(d.room, 'room');
      const s = live(state, d.callId);
      if (s.status === 'Terminated') throw outOfOrder(command.type, s.status);
      // A second join is refused, not ignored: it is someone else holding the same call token.
      if (s.mediaJoined) throw conflict('the media room of this call was already joined: a call token joins once', { status: s.status.toUpperCase() });
      return [{ type: 'CallerJoinedMedia', data: { callId: d.callId, room: d.room, at: d.at } }];
    }
    case 'ReportCallerMediaSettings': {
      const d = command.data;
      assertInstant(d.at);
      assertMediaReport(d);
      const s = live(state, d.callId);
      if (s.status === 'Terminated') throw outOfOrder(command.type, s.status);
      const data = { callId: d.callId, settings: pickSettings(d.settings), requested: d.requested.map((r) => ({ setting: r.setting, enabled: r.enabled })), choice: d.choice, honoured: honoured(d.settings, d.requested), note: d.note, at: d.at };
      // A browser that reports the same thing twice (a repeated or re-sent command) changes nothing.
      if (s.callerMedia === mediaKey(data)) return [];
      return [{ type: 'CallerMediaSettingsApplied', data }];
    }
    default:
      return unreachable(command);
  }
};

const FLAGS = ['echoCancellation', 'noiseSuppression', 'autoGainControl'] as const;
const pickSettings = (x: AppliedMediaSettings): AppliedMediaSettings => ({
  echoCancellation: x.echoCancellation,
  noiseSuppression: x.noiseSuppression,
  autoGainControl: x.autoGainControl,
  echoSuppression: x.echoSuppression,
});
/** What a report says, without its instant: two reports with the same text are the same report. */
const mediaKey = (d: { settings: AppliedMediaSettings; requested: MediaSettingChange[]; choice: string | null; honoured: boolean }): string =>
  JSON.stringify([pickSettings(d.settings), d.requested, d.choice, d.honoured]);

const SETTING_FIELD = { ECHO_CANCELLATION: 'echoCancellation', ECHO_SUPPRESSION: 'echoSuppression', NOISE_SUPPRESSION: 'noiseSuppression', AUTO_GAIN: 'autoGainControl' } as const;
/** Every requested change took effect (a setting the browser does not report counts as not confirmed). */
export const honoured = (settings: AppliedMediaSettings, requested: readonly MediaSettingChange[]): boolean =>
  requested.every((r) => settings[SETTING_FIELD[r.setting]] === r.enabled);

/** A report from a public browser: bounded and typed, BAD_USER_INPUT otherwise. */
const assertMediaReport = (d: { settings: AppliedMediaSettings; requested: MediaSettingChange[]; choice: string | null; note: string | null }): void => {
  const x = d.settings as unknown as Record<string, unknown> | null;
  if (typeof x !== 'object' || x === null) throw badInput('settings are required', { field: 'settings' });
  for (const f of FLAGS) if (x[f] !== null && typeof x[f] !== 'boolean') throw badInput(`${f} must be true, false or null`, { field: f });
  if (typeof x.echoSuppression !== 'boolean') throw badInput('echoSuppression must be true or false', { field: 'echoSuppression' });
  if (!Array.isArray(d.requested) || d.requested.length > MEDIA_SETTINGS.length) throw badInput(`requested lists at most ${MEDIA_SETTINGS.length} changes`, { field: 'requested' });
  const named = new Set<string>();
  for (const r of d.requested) {
    assertMediaSettingArgument(`${String(r?.setting)}:${r?.enabled === true ? 'ON' : 'OFF'}`);
    if (typeof r.enabled !== 'boolean') throw badInput('enabled must be true or false', { field: 'requested' });
    if (named.has(r.setting)) throw badInput(`${r.setting} is requested twice`, { field: 'requested' });
    named.add(r.setting);
  }
  if (d.choice !== null && !(CALLER_AUDIO_CHOICES as readonly string[]).includes(d.choice))
    throw badInput(`choice must be one of ${CALLER_AUDIO_CHOICES.join(', ')}`, { field: 'choice' });
  if (d.note !== null) assertText(d.note, 'note', { max: 200 });
};

/**
 * The DtmfCommandRecognized the digit reports decide under the rules, past the `recorded` ones
 * already stored: the replay is deterministic, so a repeat decides nothing new. `d.at` ends a
 * sequence whose inter-digit timeout has passed by then.
 */
const recognizeNew = (
  reports: ReadonlyArray<{ digits: string; at: string }>,
  recorded: number,
  d: DtmfRules & { callId: string; at: string },
): CallEvent[] => {
  const options = {
    interDigitTimeoutMs: d.interDigitTimeoutMs ?? DEFAULT_COLLECTOR_OPTIONS.interDigitTimeoutMs,
    terminator: d.terminator ?? DEFAULT_COLLECTOR_OPTIONS.terminator,
  };
  return replayDtmf(reports, d.table, options, d.at)
    .recognized.slice(recorded)
    .map((r) => ({
      type: 'DtmfCommandRecognized',
      data: { callId: d.callId, ...commandFor(r, { allowedOrigins: d.allowedOrigins }, r.at), source: 'DTMF', agent: null },
    }));
};

const INBOUND_DESTINATIONS: readonly string[] = ['CALL_CENTER', 'AGENT', 'LINK'];

/**
 * A caller's number as a carrier gives it: E.164 mostly, but national forms and "anonymous" occur.
 * Bounded and printable; it is the screen pop's look-up key, never dialled.
 */
const assertCallerNumber = (ani: string): void => {
  if (typeof ani !== 'string' || !/^[+0-9A-Za-z*#._-]{1,32}$/.test(ani))
    throw badInput('ani must be the caller\'s number: 1 to 32 of + 0-9 A-Z a-z * # . _ -', { field: 'ani' });
};

/** PSTN needs the seized port and its E.164 caller ID; BROWSER has neither. */
const assertLine = (d: { media: CallMedia; gatewayId: string | null; port: number | null; ani: string | null }): void => {
  if (d.media === 'BROWSER') {
    if (d.gatewayId !== null || d.port !== null || d.ani !== null)
      throw badInput('a BROWSER call has no gateway port: gatewayId, port and ani must be null', { field: 'gatewayId' });
    return;
  }
  if (d.media !== 'PSTN') throw badInput(`media must be PSTN or BROWSER, got "${String(d.media)}"`, { field: 'media' });
  assertE164(d.ani ?? '', 'ani');
  assertNonEmpty(d.gatewayId ?? '', 'gatewayId');
  if (!Number.isInteger(d.port) || (d.port as number) < 0) throw badInput('port must be a non-negative integer', { field: 'port' });
};

/**
 * The agent answers a BROWSER call in the console. The first agent takes it; the same agent again is
 * a repeat ([]); another agent, a PSTN call, or a call that has ended is a CONFLICT the console shows.
 */
const answerInConsole = (s: LiveCall | Extract<CallDeciderState, { status: 'Terminated' }>, d: { callId: string; answeredBy: string | null; at: string }): CallEvent[] => {
  assertNonEmpty(d.answeredBy ?? '', 'answeredBy');
  if (s.status === 'Answered') {
    if (s.answeredBy === d.answeredBy) return [];
    throw conflict(s.media === 'BROWSER' ? 'this call was answered by another agent' : 'a PSTN call is answered on the phone, not in the console');
  }
  if (s.status !== 'Initiated' && s.status !== 'Ringing') throw outOfOrder('AnswerCall', s.status);
  if (s.media !== 'BROWSER') throw conflict('a PSTN call is answered on the phone, not in the console', { media: 'PSTN' });
  if (s.offeredTo !== null && s.offeredTo !== d.answeredBy) throw conflict('this call rings for another agent: it was dialled on their number');
  return [{ type: 'CallAnswered', data: { callId: d.callId, gatewayEventId: null, answeredBy: d.answeredBy, at: d.at } }];
};

/** What a console button may carry: BAD_USER_INPUT otherwise (a page outside the origins is refused, not bad input). */
const assertAgentArgument = (action: string, argument: string | null): void => {
  switch (action) {
    case 'PUSH_PAGE':
      if (argument === null || argument.length > 2000 || originOf(argument) === null)
        throw badInput('PUSH_PAGE needs an absolute http(s) URL of at most 2000 characters', { field: 'argument' });
      return;
    case 'VOLUME':
      return assertVolumeArgument(argument);
    case 'OPEN_CHANNEL':
      if (argument === null || !/^\d\d$/.test(argument)) throw badInput(`OPEN_CHANNEL needs a two-digit channel like "12", got "${argument}"`, { field: 'argument' });
      return;
    case 'MEDIA_SETTING':
      return assertMediaSettingArgument(argument);
    default:
      throw badInput(`action must be PUSH_PAGE, VOLUME, OPEN_CHANNEL or MEDIA_SETTING, got "${action}"`, { field: 'action' });
  }
};

/** The merchant's DTMF sequence for the same command (the first in the table), "#NN#" for a channel, "##FS" for a media setting, else null. */
export const sequenceFor = (table: DtmfTable, action: string, argument: string | null): string | null => {
  const key = Object.keys(table).find((k) => table[k].action === action && table[k].argument === argument);
  if (key !== undefined) return key;
  if (action === 'MEDIA_SETTING') {
    const change = parseMediaSettingArgument(argument);
    return change === null ? null : mediaSettingSequence(change);
  }
  return action === 'OPEN_CHANNEL' && argument !== null ? `#${argument}#` : null;
};

const remember = (s: CallBase, gatewayEventId: string | null): readonly string[] =>
  gatewayEventId === null || s.seenGatewayEventIds.includes(gatewayEventId)
    ? s.seenGatewayEventIds
    : [...s.seenGatewayEventIds, gatewayEventId];

/**
 * A call that begins ringing in its center's consoles (an INBOUND arrival, a BROWSER center's CALLBACK try): answered
 * there; or, media PSTN, a PSTN center's CALLBACK try, whose number is dialled (its gateway reports ringing and answer).
 */
const ringingInConsoles = (
  d: { callId: string; merchantId: string; linkId: string | null; callCenterId: string; at: string },
  direction: CallDirection,
  shop: { customerId: string | null; sessionId: string | null },
  line: { gatewayId: string | null; port: number | null; ani: string | null },
  offeredTo: string | null,
  media: CallMedia = 'BROWSER',
): CallDeciderState => ({
  status: 'Initiated',
  callId: d.callId,
  merchantId: d.merchantId,
  direction,
  linkId: d.linkId,
  customerId: shop.customerId,
  sessionId: shop.sessionId,
  callerRegion: null,
  downloadedAt: d.at,
  seenGatewayEventIds: [],
  mediaJoined: false,
  callerMedia: null,
  callCenterId: d.callCenterId,
  media,
  gatewayId: line.gatewayId,
  port: line.port,
  ani: line.ani,
  initiatedAt: d.at,
  offeredTo,
});

/** Never throws: an event that does not fit the state (impossible through decide) leaves it unchanged. */
const evolve = (state: CallDeciderState, event: CallEvent): CallDeciderState => {
  switch (event.type) {
    case 'CallDownloaded': {
      const d = event.data;
      return { status: 'Downloaded', callId: d.callId, merchantId: d.merchantId, direction: 'OUTBOUND', linkId: d.linkId, customerId: d.customerId ?? null, sessionId: d.sessionId ?? null, callerRegion: d.callerRegion ?? null, downloadedAt: d.at, seenGatewayEventIds: [], mediaJoined: false, callerMedia: null };
    }
    case 'InboundCallReceived': {
      if (state.status !== 'Absent') return state;
      const d = event.data;
      // Rings in the consoles: answered there, talked over the call's room (the caller is its SIP participant).
      return ringingInConsoles(d, 'INBOUND', { customerId: null, sessionId: null }, { gatewayId: null, port: null, ani: d.ani }, d.agent);
    }
    case 'CallbackCallPlaced': {
      if (state.status !== 'Absent') return state;
      const d = event.data;
      // BROWSER: rings in the consoles (answered there); the port is held for the shopper's leg, dialled after.
      // PSTN: the center's number is dialled from that port (its gateway reports ringing and the agent's answer).
      return ringingInConsoles(d, 'CALLBACK', d, d, null, d.media);
    }
    case 'CallInitiated': {
      if (state.status !== 'Downloaded') return state;
      const d = event.data;
      const { status: _, ...base } = state;
      return { ...base, status: 'Initiated', callCenterId: d.callCenterId, media: d.media, gatewayId: d.gatewayId, port: d.port, ani: d.ani, initiatedAt: d.at, offeredTo: null };
    }
    case 'CallRinging': {
      if (state.status !== 'Initiated') return state;
      return { ...state, status: 'Ringing', ringingAt: event.data.at, seenGatewayEventIds: remember(state, event.data.gatewayEventId) };
    }
    case 'CallAnswered': {
      if (state.status !== 'Initiated' && state.status !== 'Ringing') return state;
      const ringingAt = state.status === 'Ringing' ? state.ringingAt : null;
      return {
        ...state,
        status: 'Answered',
        ringingAt,
        answeredAt: event.data.at,
        answeredBy: event.data.answeredBy,
        seenGatewayEventIds: remember(state, event.data.gatewayEventId),
        dtmf: { reports: [], recognized: 0 },
        channels: [],
      };
    }
    case 'DtmfReceived': {
      if (state.status !== 'Answered') return state;
      const d = event.data;
      return {
        ...state,
        seenGatewayEventIds: remember(state, d.gatewayEventId),
        dtmf: { ...state.dtmf, reports: [...state.dtmf.reports, { digits: d.digits, at: d.at }] },
      };
    }
    case 'DtmfCommandRecognized': {
      if (state.status !== 'Answered') return state;
      const d = event.data;
      const opens = d.accepted && d.action === 'OPEN_CHANNEL' && d.argument !== null && !state.channels.includes(d.argument);
      // Only keyed commands count against the digit replay; console buttons are not digits.
      const recognized = d.source === 'AGENT' ? state.dtmf.recognized : state.dtmf.recognized + 1;
      return { ...state, dtmf: { ...state.dtmf, recognized }, channels: opens ? [...state.channels, d.argument!] : state.channels };
    }
    case 'ChannelMessageSent':
      return state;
    case 'CallerJoinedMedia':
      return state.status === 'Absent' || state.status === 'Terminated' ? state : { ...state, mediaJoined: true };
    case 'CallerMediaSettingsApplied':
      return state.status === 'Absent' || state.status === 'Terminated' ? state : { ...state, callerMedia: mediaKey(event.data) };
    case 'CallTerminated': {
      if (state.status === 'Absent' || state.status === 'Terminated') return state;
      const d = event.data;
      return {
        status: 'Terminated',
        callId: state.callId,
        merchantId: state.merchantId,
        direction: state.direction,
        linkId: state.linkId,
        customerId: state.customerId,
        sessionId: state.sessionId,
        callerRegion: state.callerRegion,
        downloadedAt: state.downloadedAt,
        seenGatewayEventIds: remember(state, d.gatewayEventId),
        mediaJoined: state.mediaJoined,
        callerMedia: state.callerMedia,
        gatewayId: d.gatewayId,
        port: d.port,
        answeredAt: state.status === 'Answered' ? state.answeredAt : null,
        terminatedAt: d.at,
        cause: d.cause,
        by: d.by,
      };
    }
    default:
      return unreachable(event);
  }
};

export const callDecider: Decider<CallDeciderState, CallCommand, CallEvent> = {
  // @2: the state carries linkId and callerRegion (snapshots of @1 are ignored); @3: callerMedia;
  // @5: direction and offeredTo (inbound calls, issue 23); @6: CALLBACK calls (issue 25); @7: a
  // CALLBACK call's media may be PSTN (a PSTN center's try: snapshots folded by older code said BROWSER).
  name: 'call@7',
  decide,
  evolve,
  initialState: initialCallState,
  isTerminal,
  merchantOf: (state) => (state.status === 'Absent' ? null : state.merchantId),
};
