import type { CallEvent } from '../../domain/call/events';
import { iso, types } from '../db';
import type { View } from '../rows';
import type { TableDef } from '../tables';

/** The contract's CallContext per call: what a CRM shows before the agent says hello. */
export const CONTEXTS: TableDef = {
  name: 'crm_contexts',
  columns: (d) => {
    const t = types(d);
    return [
      `call_id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `link_id ${t.key}`,
      `customer_id ${t.text}`,
      `session_id ${t.text}`,
      `page_url ${t.text}`,
      `referrer ${t.text}`,
      `context ${t.json}`,
      `ani ${t.key}`,
      `call_center_id ${t.key}`,
      `state ${t.key} not null`,
    ];
  },
  primaryKey: ['call_id'],
  // The screen pop's "earlier calls of this customer" (migration 5).
  indexes: [{ name: 'customer', columns: ['merchant_id', 'customer_id'] }],
};

/**
 * ANI occupancy: the interval [initiated, terminated) during which a call held the port's caller ID.
 * `to_at` is null while the call is live. Look-ups "which call is on this ANI at T" read this.
 */
export const ANI_INTERVALS: TableDef = {
  name: 'crm_ani',
  columns: (d) => {
    const t = types(d);
    return [`call_id ${t.key} not null`, `ani ${t.key} not null`, `merchant_id ${t.key} not null`, `from_at ${t.key} not null`, `to_at ${t.key}`];
  },
  primaryKey: ['call_id'],
  indexes: [{ name: 'ani_from', columns: ['ani', 'from_at'] }],
};

/** crm-context: context per call, the ANI occupancy intervals, and so the screen-pop payload. */
export const crmContextView = (): View => ({
  name: 'crm-context',
  tables: [CONTEXTS, ANI_INTERVALS],
  prefetch: (stored) => {
    switch (stored.type) {
      case 'CallInitiated':
      case 'CallRinging':
      case 'CallAnswered':
        return [{ table: 'crm_contexts', key: [(stored.data as { callId: string }).callId] }];
      case 'CallTerminated': {
        const key = [(stored.data as { callId: string }).callId];
        return [{ table: 'crm_contexts', key }, { table: 'crm_ani', key }];
      }
      default:
        return [];
    }
  },
  apply: (rows, stored) => {
    const event = stored as unknown as CallEvent;
    const setState = (callId: string, state: string) => {
      const c = rows.get('crm_contexts', [callId]);
      if (c) rows.put('crm_contexts', { ...c, state });
      return c;
    };
    switch (event.type) {
      case 'CallDownloaded': {
        const d = event.data;
        rows.put('crm_contexts', {
          call_id: d.callId,
          merchant_id: d.merchantId,
          link_id: d.linkId,
          customer_id: d.customerId,
          session_id: d.sessionId,
          page_url: d.pageUrl,
          referrer: d.referrer,
          context: d.context === undefined ? null : JSON.stringify(d.context),
          ani: null,
          call_center_id: null,
          state: 'DOWNLOADED',
        });
        return;
      }
      case 'CallInitiated': {
        const d = event.data;
        const c = rows.get('crm_contexts', [d.callId]);
        if (c) rows.put('crm_contexts', { ...c, state: 'INITIATED', ani: d.ani, call_center_id: d.callCenterId });
        if (d.ani === null) return; // a browser (PC-to-PC) call holds no caller ID
        rows.put('crm_ani', { call_id: d.callId, ani: d.ani, merchant_id: d.merchantId, from_at: iso(d.at), to_at: null });
        return;
      }
      case 'CallRinging':
        setState(event.data.callId, 'RINGING');
        return;
      case 'CallAnswered':
        setState(event.data.callId, 'ANSWERED');
        return;
      case 'CallTerminated': {
        setState(event.data.callId, 'TERMINATED');
        const interval = rows.get('crm_ani', [event.data.callId]);
        if (interval && interval.to_at === null) rows.put('crm_ani', { ...interval, to_at: iso(event.data.at) });
        return;
      }
      default:
        return;
    }
  },
});
