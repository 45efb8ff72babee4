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
import { assertE164, assertNonEmpty, DTMF_DIGITS, originOf } from '../shared/validation';
import { commandFor, DEFAULT_COLLECTOR_OPTIONS, replayDtmf } from './dtmf-collector';
import type { CallCommand } from './commands';
import type { CallEvent, Party, TerminationCause } from './events';

interface CallBase {
  callId: string;
  /** Needed to build CallInitiated (its data names the merchant); not used for any decision. */
  merchantId: string;
  downloadedAt: string;
  /** gatewayEventIds already applied: a repeated webhook changes nothing. */
  seenGatewayEventIds: readonly string[];
  /** The caller was given its media room join (once per call). */
  mediaJoined: boolean;
}

/** The seized line and the chosen center, fixed at initiation. */
interface Connection {
  callCenterId: string;
  gatewayId: string;
  port: number;
  ani: string;
  initiatedAt: string;
}

export type CallState =
  | { status: 'Absent' }
  | (CallBase & { status: 'Downloaded' })
  | (CallBase & Connection & { status: 'Initiated' })
  | (CallBase & Connection & { status: 'Ringing'; ringingAt: string })
  | (CallBase &
      Connection & {
        status: 'Answered';
        ringingAt: string | null;
        answeredAt: string;
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

export type CallStatusName = CallState['status'];
type LiveCall = Exclude<CallState, { status: 'Absent' } | { status: 'Terminated' }>;

export const initialCallState: CallState = { status: 'Absent' };

export const isTerminal = (state: CallState): boolean => state.status === 'Terminated';

/** Order of the stages: a report for a stage at or below the current one is a repeat. */
const RANK: Record<CallStatusName, number> = { Absent: 0, Downloaded: 1, Initiated: 2, Ringing: 3, Answered: 4, Terminated: 5 };

const assertInstant = (at: string): number => {
  const t = Date.parse(at);
  if (typeof at !== 'string' || !Number.isFinite(t)) throw badInput(`at must be an ISO-8601 instant, got "${String(at)}"`, { field: 'at' });
  return t;
};

/** Whole seconds from answer to end, floored and never negative (clocks of two hosts may disagree). */
export const talkSecondsBetween = (answeredAt: string | null, endedAt: string): number => {
  if (answeredAt === null) return 0;
  return Math.max(0, Math.floor((Date.parse(endedAt) - Date.parse(answeredAt)) / 1000));
};

const live = (state: CallState, callId: string): LiveCall | Extract<CallState, { status: 'Terminated' }> => {
  if (state.status === 'Absent') throw notFound('call', callId);
  return state;
};

const outOfOrder = (command: string, status: CallStatusName) =>
  conflict(`${command} is not allowed when the call is ${status.toUpperCase()}`, { status: status.toUpperCase() });

const seen = (state: CallBase, gatewayEventId: string | null): boolean =>
  gatewayEventId !== null && state.seenGatewayEventIds.includes(gatewayEventId);

const decide = (command: CallCommand, state: CallState): CallEvent[] => {
  switch (command.type) {
    case 'RecordDownload': {
      const d = command.data;
      assertInstant(d.at);
      assertNonEmpty(d.callId, 'callId');
      assertNonEmpty(d.merchantId, 'merchantId');
      assertNonEmpty(d.linkId, 'linkId');
      if (originOf(d.pageUrl) === null) throw badInput('pageUrl must be an absolute http(s) URL', { field: 'pageUrl' });
      if (state.status !== 'Absent') throw conflict(`call ${d.callId} already exists`, { status: state.status.toUpperCase() });
      return [{ type: 'CallDownloaded', data: { ...d } }];
    }
    case 'InitiateCall': {
      const d = command.data;
      assertInstant(d.at);
      assertE164(d.destination, 'destination');
      assertE164(d.ani, 'ani');
      assertNonEmpty(d.callCenterId, 'callCenterId');
      assertNonEmpty(d.gatewayId, 'gatewayId');
      if (!Number.isInteger(d.port) || d.port < 0) throw badInput('port must be a non-negative integer', { field: 'port' });
      const s = live(state, d.callId);
      if (s.status !== 'Downloaded') throw outOfOrder(command.type, s.status);
      return [{ type: 'CallInitiated', data: { ...d, merchantId: s.merchantId } }];
    }
    case 'ReportRinging': {
      const d = command.data;
      assertInstant(d.at);
      const s = live(state, d.callId);
      if (seen(s, d.gatewayEventId) || RANK[s.status] >= RANK.Ringing) return [];
      if (s.status !== 'Initiated') throw outOfOrder(command.type, s.status);
      return [{ type: 'CallRinging', data: { ...d } }];
    }
    case 'AnswerCall': {
      const d = command.data;
      assertInstant(d.at);
      const s = live(state, d.callId);
      if (seen(s, d.gatewayEventId) || RANK[s.status] >= RANK.Answered) return [];
      if (s.status !== 'Initiated' && s.status !== 'Ringing') throw outOfOrder(command.type, s.status);
      return [{ type: 'CallAnswered', data: { ...d } }];
    }
    case 'ReportDtmf': {
      const d = command.data;
      assertInstant(d.at);
      if (typeof d.digits !== 'string' || !DTMF_DIGITS.test(d.digits))
        throw badInput(`digits must be DTMF (0-9, *, #, A-D), got "${String(d.digits)}"`, { field: 'digits' });
      const s = live(state, d.callId);
      if (seen(s, d.gatewayEventId)) return [];
      if (s.status !== 'Answered') throw outOfOrder(command.type, s.status);
      return [{ type: 'DtmfReceived', data: { ...d } }];
    }
    case 'TerminateCall': {
      const d = command.data;
      assertInstant(d.at);
      if (d.sipStatus !== null && (!Number.isInteger(d.sipStatus) || d.sipStatus < 100 || d.sipStatus > 699))
        throw badInput('sipStatus must be a SIP status code from 100 to 699', { field: 'sipStatus' });
      const s = live(state, d.callId);
      if (s.status === 'Terminated' || seen(s, d.gatewayEventId)) return [];
      const answeredAt = s.status === 'Answered' ? s.answeredAt : null;
      const port = s.status === 'Downloaded' ? { gatewayId: null, port: null } : { gatewayId: s.gatewayId, port: s.port };
      return [{ type: 'CallTerminated', data: { ...d, talkSeconds: talkSecondsBetween(answeredAt, d.at), ...port } }];
    }
    case 'RecognizeDtmf': {
      const d = command.data;
      assertInstant(d.at);
      const s = live(state, d.callId);
      // Only an answered call has digits to act on; after the end, late timers change nothing.
      if (s.status !== 'Answered') return [];
      const options = {
        interDigitTimeoutMs: d.interDigitTimeoutMs ?? DEFAULT_COLLECTOR_OPTIONS.interDigitTimeoutMs,
        terminator: d.terminator ?? DEFAULT_COLLECTOR_OPTIONS.terminator,
      };
      const { recognized } = replayDtmf(s.dtmf.reports, d.table, options, d.at);
      return recognized
        .slice(s.dtmf.recognized)
        .map((r) => ({ type: 'DtmfCommandRecognized', data: { callId: d.callId, ...commandFor(r, { allowedOrigins: d.allowedOrigins }, r.at) } }));
    }
    case 'SendChannelMessage': {
      const d = command.data;
      assertInstant(d.at);
      if (d.text.trim().length === 0 || d.text.length > 1000) throw badInput('text must be 1 to 1000 characters', { field: 'text' });
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
    default:
      return unreachable(command);
  }
};

const remember = (s: CallBase, gatewayEventId: string | null): readonly string[] =>
  gatewayEventId === null || s.seenGatewayEventIds.includes(gatewayEventId)
    ? s.seenGatewayEventIds
    : [...s.seenGatewayEventIds, gatewayEventId];

/** Never throws: an event that does not fit the state (impossible through decide) leaves it unchanged. */
const evolve = (state: CallState, event: CallEvent): CallState => {
  switch (event.type) {
    case 'CallDownloaded': {
      const d = event.data;
      return { status: 'Downloaded', callId: d.callId, merchantId: d.merchantId, downloadedAt: d.at, seenGatewayEventIds: [], mediaJoined: false };
    }
    case 'CallInitiated': {
      if (state.status !== 'Downloaded') return state;
      const d = event.data;
      const { status: _, ...base } = state;
      return { ...base, status: 'Initiated', callCenterId: d.callCenterId, gatewayId: d.gatewayId, port: d.port, ani: d.ani, initiatedAt: d.at };
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
      return { ...state, dtmf: { ...state.dtmf, recognized: state.dtmf.recognized + 1 }, channels: opens ? [...state.channels, d.argument!] : state.channels };
    }
    case 'ChannelMessageSent':
      return state;
    case 'CallerJoinedMedia':
      return state.status === 'Absent' || state.status === 'Terminated' ? state : { ...state, mediaJoined: true };
    case 'CallTerminated': {
      if (state.status === 'Absent' || state.status === 'Terminated') return state;
      const d = event.data;
      return {
        status: 'Terminated',
        callId: state.callId,
        merchantId: state.merchantId,
        downloadedAt: state.downloadedAt,
        seenGatewayEventIds: remember(state, d.gatewayEventId),
        mediaJoined: state.mediaJoined,
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

export const callDecider: Decider<CallState, CallCommand, CallEvent> = {
  name: 'call@1',
  decide,
  evolve,
  initialState: initialCallState,
  isTerminal,
};
