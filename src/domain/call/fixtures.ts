/** Shared call fixtures for the specs (not a test file itself). */
import type { CallCommand, DtmfRules } from './commands';
import type { DownloadPolicy } from './download-policy';
import type { CallEvent } from './events';

export const CALL = 'c1';
export const T0 = '2026-11-23T10:00:00.000Z';
export const t = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

/** The merchant's facts a download is decided with: link l1, pages of https://shop.example. */
export const POLICY: DownloadPolicy = { links: ['l1'], allowedOrigins: ['https://shop.example'], requestOrigin: null, maxContextBytes: 8192 };

const downloadedData = (at: string) => ({
  callId: CALL,
  merchantId: 'm1',
  linkId: 'l1',
  customerId: 'cust-7',
  sessionId: null,
  pageUrl: 'https://shop.example/p/42',
  referrer: null,
  context: { cart: 3 },
  callerRegion: 'us-east',
  at,
});
export const download = (at = T0, policy: DownloadPolicy = POLICY): Extract<CallCommand, { type: 'RecordDownload' }> => ({
  type: 'RecordDownload',
  data: { ...downloadedData(at), policy },
});
export const downloaded = (at = T0): CallEvent => ({ type: 'CallDownloaded', data: downloadedData(at) });

export const initiate = (at = t(5)): Extract<CallCommand, { type: 'InitiateCall' }> => ({
  type: 'InitiateCall',
  data: {
    callId: CALL,
    callCenterId: 'cc1',
    media: 'PSTN',
    destination: '+14155550100',
    gatewayId: 'gw1',
    port: 3,
    ani: '+14155550003',
    routing: { rule: 'FIRST_OPEN', requestedCallCenterId: 'cc1', reason: 'open' },
    ratePlan: null,
    at,
  },
});
export const initiated = (at = t(5)): CallEvent => ({ type: 'CallInitiated', data: { ...initiate(at).data, merchantId: 'm1' } });

export const ring = (gatewayEventId: string | null = 'g-ring', at = t(7)): CallCommand => ({
  type: 'ReportRinging',
  data: { callId: CALL, gatewayEventId, at },
});
export const ringing = (gatewayEventId: string | null = 'g-ring', at = t(7)): CallEvent => ({
  type: 'CallRinging',
  data: { callId: CALL, gatewayEventId, at },
});
export const answer = (gatewayEventId: string | null = 'g-ans', at = t(10)): CallCommand => ({
  type: 'AnswerCall',
  data: { callId: CALL, gatewayEventId, answeredBy: null, at },
});
export const answered = (gatewayEventId: string | null = 'g-ans', at = t(10)): CallEvent => ({
  type: 'CallAnswered',
  data: { callId: CALL, gatewayEventId, answeredBy: null, at },
});
/** A digit report under an empty DTMF table (nothing to recognise) unless `rules` says otherwise. */
export const dtmf = (digits: string, gatewayEventId: string | null = 'g-d1', at = t(20), rules: DtmfRules = { table: {}, allowedOrigins: null }): CallCommand => ({
  type: 'ReportDtmf',
  data: { callId: CALL, digits, gatewayEventId, at, ...rules },
});
export const dtmfReceived = (digits: string, gatewayEventId: string | null = 'g-d1', at = t(20)): CallEvent => ({
  type: 'DtmfReceived',
  data: { callId: CALL, digits, gatewayEventId, at },
});
export const terminate = (at = t(75), gatewayEventId: string | null = null): Extract<CallCommand, { type: 'TerminateCall' }> => ({
  type: 'TerminateCall',
  data: { callId: CALL, cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId, at },
});
