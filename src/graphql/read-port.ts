import type { CallView } from '../app/call-view';

/** What the API reads from the projections (implemented by src/projections). */
export interface CallRowView extends CallView {}

// The views are the projections' own row shapes; this file only states what the API needs of them.
import type { ChargeView } from '../projections/billing/queries';
import type { BillingSummary as BillingSummaryView } from '../projections/billing/queries';
import type { CallContextView } from '../projections/crm-context/queries';
import type { CallCenterStatsRow, TimelineEntry } from '../projections/call-history/queries';
import type { ChargeRecord } from '../projections/billing/queries';
import type { GatewayPortView } from '../projections/gateway-ports/queries';
import type { ApiKeyView, CallCenterConfigView, DtmfCommandView, LinkConfigView, MerchantConfigView } from '../projections/merchants/queries';
export type { ChargeView, BillingSummaryView, CallContextView, TimelineEntry, GatewayPortView };

export interface ReadQueries {
  getCall(callId: string): Promise<CallRowView | null>;
  getCalls(callIds: readonly string[]): Promise<CallRowView[]>;
  listCalls(
    filter: { merchantId?: string | null; state?: string | null; linkId?: string | null; callCenterId?: string | null; from?: string | null; to?: string | null },
    first: number,
    after?: string | null,
  ): Promise<{ rows: CallRowView[]; endCursor: string | null; hasNextPage: boolean; cursors?: string[] }>;
  timeline(callId: string): Promise<TimelineEntry[]>;
  chargesForCalls(callIds: readonly string[]): Promise<Map<string, ChargeView>>;
  contextsForCalls(callIds: readonly string[]): Promise<Map<string, CallContextView>>;
  billingSummary(merchantId: string, from: string, to: string, groupBy: string | null): Promise<BillingSummaryView>;
  contextByAni(ani: string, at: Date | null, merchantId: string | null): Promise<CallContextView | null>;
  callCenterStats(merchantId: string, from: string, to: string): Promise<CallCenterStatsRow[]>;
  customerCalls(merchantId: string, customerId: string, exceptCallId: string, first: number, callCenterId?: string | null): Promise<CallRowView[]>;
  chargeRecords(filter: { merchantId: string; from: string; to: string }, first: number, after?: string | null): Promise<{ rows: ChargeRecord[]; endCursor: string | null; hasNextPage: boolean }>;
  gateway(gatewayId: string): Promise<{ id: string; name: string; region: string; ports: GatewayPortView[] } | null>;
  merchant(merchantId: string): Promise<MerchantConfigView | null>;
  callCenters(merchantId: string): Promise<CallCenterConfigView[]>;
  links(merchantId: string): Promise<LinkConfigView[]>;
  dtmfCommands(merchantId: string): Promise<DtmfCommandView[]>;
  apiKeys(merchantId: string | null): Promise<ApiKeyView[]>;
}
