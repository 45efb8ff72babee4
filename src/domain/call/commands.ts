import type { RatePlan } from '../rating/rate-plan';
import type { DtmfAction } from '../merchant/events';
import type { CallbackCallPlaced, CallDownloaded, CallerMediaSettingsApplied, InboundCallReceived, CallMedia, Party, RoutingRule, TerminationCause } from './events';
import type { DownloadPolicy } from './download-policy';

/**
 * Commands carry their time (`at`, ISO-8601) and ids: decide stays pure. The widget's download
 * carries the merchant's facts its policy needs (./download-policy.ts): the decider refuses what the
 * merchant does not allow.
 */
export type RecordDownload = {
  type: 'RecordDownload';
  data: CallDownloaded['data'] & { policy: DownloadPolicy };
};
/**
 * A phone call reached one of the merchant's numbers (issue 23): the application found the number's
 * destination and took its capacity before; the command carries the outcome. `refused`: nobody can
 * take it (busy, closed, no route), and the call is recorded as arrived and ended in one append,
 * without ringing anywhere. The same arrival again (a webhook delivered twice, two instances) decides
 * nothing.
 */
export type ReceiveInboundCall = {
  type: 'ReceiveInboundCall';
  data: InboundCallReceived['data'] & { refused: { cause: 'BUSY' | 'NO_ANSWER' | 'NO_ROUTE'; sipStatus: number; reason: string } | null };
};
/**
 * A callback's try (issue 25): the scheduler took the center's slot and a port for the caller ID and
 * started the try on the callback's stream; the call rings in the center's consoles. The same
 * placement again decides nothing.
 */
export type PlaceCallbackCall = { type: 'PlaceCallbackCall'; data: CallbackCallPlaced['data'] };
/** Routing and port seizure happen before: the command carries their outcome. */
export type InitiateCall = {
  type: 'InitiateCall';
  data: {
    callId: string;
    callCenterId: string;
    media: CallMedia;
    destination: string;
    /** The seized port: set for PSTN, null for BROWSER. */
    gatewayId: string | null;
    port: number | null;
    ani: string | null;
    routing: { rule: RoutingRule; requestedCallCenterId: string; reason: string };
    ratePlan: RatePlan | null;
    at: string;
  };
};
export type ReportRinging = { type: 'ReportRinging'; data: { callId: string; gatewayEventId: string | null; at: string } };
/**
 * The call was answered: reported by a gateway (gatewayEventId, answeredBy null) for a PSTN call, or
 * by the agent in the console (answeredBy = the agent, gatewayEventId null) for a BROWSER call.
 */
export type AnswerCall = { type: 'AnswerCall'; data: { callId: string; gatewayEventId: string | null; answeredBy: string | null; at: string } };
/**
 * The merchant's DTMF rules a recognition applies: its table and allowed origins at the instant of
 * the command, and the collector's options.
 */
export interface DtmfRules {
  table: Record<string, { action: DtmfAction; argument: string | null }>;
  allowedOrigins: string[] | null;
  /** Default 3000. */
  interDigitTimeoutMs?: number;
  /** Default '#'. */
  terminator?: string;
}

/**
 * Digits the gateway reports. Decides DtmfReceived and, in the same append, a DtmfCommandRecognized
 * for each sequence these digits complete under the merchant's rules: recognition belongs to the
 * report, so a command keyed on the phone is in the call's state when the report's answer returns.
 */
export type ReportDtmf = {
  type: 'ReportDtmf';
  data: { callId: string; digits: string; gatewayEventId: string | null; at: string } & DtmfRules;
};
export type TerminateCall = {
  type: 'TerminateCall';
  data: {
    callId: string;
    cause: TerminationCause;
    by: Party;
    sipStatus: number | null;
    gatewayEventId: string | null;
    /** Why a FAILED call failed, as the gateway reports it (e.g. TRUNK_NO_RESPONSE); absent or null otherwise. */
    reason?: string | null;
    at: string;
  };
};

/**
 * Turns the DTMF digits received so far into the merchant's commands (issue 5 §4) and decides a
 * DtmfCommandRecognized for each one not recorded yet. Idempotent; sent by the timer at the
 * collector's deadline (a "#NN" or "*7" that only the inter-digit timeout ends: no digit follows).
 * The rules are the merchant's at `at`.
 */
export type RecognizeDtmf = {
  type: 'RecognizeDtmf';
  data: { callId: string; at: string } & DtmfRules;
};

/**
 * A command the agent gives with a console button instead of keying DTMF: it decides the same
 * DtmfCommandRecognized (source AGENT) under the same rules (a page only within allowedOrigins).
 * The table is the merchant's, to record the equivalent sequence.
 */
export type IssueAgentCommand = {
  type: 'IssueAgentCommand';
  data: {
    callId: string;
    agent: string;
    action: DtmfAction;
    argument: string | null;
    table: Record<string, { action: DtmfAction; argument: string | null }>;
    allowedOrigins: string[] | null;
    /**
     * Issue 25: the agent a completed transfer handed the call to (read from the call's
     * `transfer-` stream by the application); absent or null: no hand-over, the answering agent holds it.
     */
    holder?: string | null;
    at: string;
  };
};

/** Chat on an opened channel: the agent (GATEWAY/CRM side) or the caller (call token). */
export type SendChannelMessage = {
  type: 'SendChannelMessage';
  data: { callId: string; channelId: string; from: 'AGENT' | 'CALLER'; text: string; at: string };
};

/** The caller's browser is given its media room join: once per call, so a call token joins once. */
export type JoinMedia = { type: 'JoinMedia'; data: { callId: string; room: string; at: string } };

/**
 * The caller's widget reports what its browser applied to the microphone (issue 24), after an agent's
 * MEDIA_SETTING command or the caller's own choice. Authenticated by the call token.
 */
export type ReportCallerMediaSettings = {
  type: 'ReportCallerMediaSettings';
  data: Omit<CallerMediaSettingsApplied['data'], 'honoured'>;
};

export type CallCommand =
  | RecordDownload
  | ReceiveInboundCall
  | PlaceCallbackCall
  | InitiateCall
  | ReportRinging
  | AnswerCall
  | ReportDtmf
  | TerminateCall
  | RecognizeDtmf
  | IssueAgentCommand
  | SendChannelMessage
  | JoinMedia
  | ReportCallerMediaSettings;
