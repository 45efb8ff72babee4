import type { CallEvent } from '../../domain/call/events';
import { iso, types } from '../db';
import type { TableDef } from '../tables';
import type { Logger, View } from '../view';

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
  // The screen pop's "earlier calls of this customer" (migration 4).
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

const TYPES = new Set(['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'CallTerminated']);

/** crm-context: context per call, the ANI occupancy intervals, and so the screen-pop payload. */
export const crmContextView = (log: Logger): View => ({
  name: 'crm-context',
  topics: ['webdial.calls'],
  tables: [CONTEXTS, ANI_INTERVALS],
  handles: (type) => TYPES.has(type),
  apply: async (tx, t, stored) => {
    const event = stored as unknown as CallEvent;
    const contexts = t('crm_contexts');
    const setState = (state: string) => tx.run(`update ${contexts} set state = ? where call_id = ?`, [state, event.data.callId]);
    switch (event.type) {
      case 'CallDownloaded': {
        const d = event.data;
        await tx.run(
          `insert into ${contexts} (call_id, merchant_id, link_id, customer_id, session_id, page_url, referrer, context, state)
           values (?, ?, ?, ?, ?, ?, ?, ?, 'DOWNLOADED') on conflict (call_id) do nothing`,
          [d.callId, d.merchantId, d.linkId, d.customerId, d.sessionId, d.pageUrl, d.referrer, d.context === undefined ? null : JSON.stringify(d.context)],
        );
        return;
      }
      case 'CallInitiated': {
        const d = event.data;
        await tx.run(`update ${contexts} set state = 'INITIATED', ani = ?, call_center_id = ? where call_id = ?`, [d.ani, d.callCenterId, d.callId]);
        if (d.ani === null) return; // a browser (PC-to-PC) call holds no caller ID
        await tx.run(
          `insert into ${t('crm_ani')} (call_id, ani, merchant_id, from_at) values (?, ?, ?, ?) on conflict (call_id) do nothing`,
          [d.callId, d.ani, d.merchantId, iso(d.at)],
        );
        return;
      }
      case 'CallRinging':
        return setState('RINGING');
      case 'CallAnswered':
        return setState('ANSWERED');
      case 'CallTerminated':
        await setState('TERMINATED');
        await tx.run(`update ${t('crm_ani')} set to_at = ? where call_id = ? and to_at is null`, [iso(event.data.at), event.data.callId]);
        return;
      default:
        log.warn({ type: stored.type }, 'crm-context: unexpected event type');
        return;
    }
  },
});
