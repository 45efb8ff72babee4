import type { RatePlan } from '../rating/rate-plan';
import type { Party, RoutingRule, TerminationCause } from './events';

/** Commands carry their time (`at`, ISO-8601) and ids: decide stays pure. */
export type RecordDownload = {
  type: 'RecordDownload';
  data: {
    callId: string;
    merchantId: string;
    linkId: string;
    customerId: string | null;
    sessionId: string | null;
    pageUrl: string;
    referrer: string | null;
    context: unknown;
    callerRegion: string | null;
    at: string;
  };
};
/** Routing and port seizure happen before: the command carries their outcome. */
export type InitiateCall = {
  type: 'InitiateCall';
  data: {
    callId: string;
    callCenterId: string;
    destination: string;
    gatewayId: string;
    port: number;
    ani: string;
    routing: { rule: RoutingRule; requestedCallCenterId: string; reason: string };
    ratePlan: RatePlan | null;
    at: string;
  };
};
export type ReportRinging = { type: 'ReportRinging'; data: { callId: string; gatewayEventId: string | null; at: string } };
export type AnswerCall = { type: 'AnswerCall'; data: { callId: string; gatewayEventId: string | null; at: string } };
export type ReportDtmf = {
  type: 'ReportDtmf';
  data: { callId: string; digits: string; gatewayEventId: string | null; at: string };
};
export type TerminateCall = {
  type: 'TerminateCall';
  data: {
    callId: string;
    cause: TerminationCause;
    by: Party;
    sipStatus: number | null;
    gatewayEventId: string | null;
    at: string;
  };
};

export type CallCommand = RecordDownload | InitiateCall | ReportRinging | AnswerCall | ReportDtmf | TerminateCall;
