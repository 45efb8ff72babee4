import type { CallView } from '../app/call-view';

/** What the API reads from the projections (implemented by src/projections). */
export interface CallRowView extends CallView {}

export interface ChargeView {
  amountMinor: number;
  currency: string;
  billableSeconds: number;
  sourcePage: string | null;
}

export interface CallContextView {
  callId: string;
  merchantId: string;
  linkId: string | null;
  customerId: string | null;
  sessionId: string | null;
  pageUrl: string | null;
  referrer: string | null;
  context: unknown;
  ani: string | null;
  callCenterId: string | null;
  state: CallView['state'];
}

export interface TimelineEntry {
  eventId: string;
  callId: string;
  merchantId: string;
  type: string;
  position: string;
  occurredAt: string;
  data: unknown;
}

export interface BillingSummaryView {
  merchantId: string;
  currency: string;
  from: string;
  to: string;
  calls: number;
  billableSeconds: number;
  amountMinor: number;
  lines: Array<{ key: string; calls: number; billableSeconds: number; amountMinor: number }>;
}

export interface GatewayPortView {
  gatewayId: string;
  number: number;
  ani: string;
  busy: boolean;
  callId: string | null;
}

export interface ReadQueries {
  getCall(callId: string): Promise<CallRowView | null>;
  getCalls(callIds: readonly string[]): Promise<CallRowView[]>;
  listCalls(
    filter: { merchantId?: string | null; state?: string | null; linkId?: string | null; from?: string | null; to?: string | null },
    first: number,
    after?: string | null,
  ): Promise<{ rows: CallRowView[]; endCursor: string | null; hasNextPage: boolean; cursors?: string[] }>;
  timeline(callId: string): Promise<TimelineEntry[]>;
  chargesForCalls(callIds: readonly string[]): Promise<Map<string, ChargeView>>;
  contextsForCalls(callIds: readonly string[]): Promise<Map<string, CallContextView>>;
  billingSummary(merchantId: string, from: string, to: string, groupBy: string | null): Promise<BillingSummaryView>;
  contextByAni(ani: string, at: Date | null, merchantId: string | null): Promise<CallContextView | null>;
  gateway(gatewayId: string): Promise<{ id: string; name: string; region: string; ports: GatewayPortView[] } | null>;
}
