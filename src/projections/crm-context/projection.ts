import { types } from '../../adapters/sql/db';
import type { RowProjection } from '../engine/rows';
import type { TableDef } from '../engine/tables';
import { projectionOf, viewTable } from '../engine/projection-of';
import { aniView, contextView, type CrmEvent } from './view';

/** The contract's CallContext per call (./view.ts `ContextRow`). */
export const CONTEXTS: TableDef = {
  name: 'crm_contexts',
  columns: (d) => {
    const t = types(d);
    return [
      `call_id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `link_id ${t.key}`,
      `customer_id ${t.text}`,
      // Migration 12 (issue 23): inbound calls.
      `direction ${t.key} not null default 'OUTBOUND'`,
      `did ${t.key}`,
      // Migration 18 (issue 25): a CALLBACK call's media (a PSTN center's try is dialled).
      `callback_media ${t.key}`,
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
  indexes: [
    { name: 'customer', columns: ['merchant_id', 'customer_id'] },
    // The look-up by the session number played as DTMF (issue 23, migration 9).
    { name: 'session', columns: ['merchant_id', 'session_id'] },
  ],
};

/** ANI occupancy intervals (./view.ts `AniRow`): look-ups "which call is on this ANI at T" read this. */
export const ANI_INTERVALS: TableDef = {
  name: 'crm_ani',
  columns: (d) => {
    const t = types(d);
    return [`call_id ${t.key} not null`, `ani ${t.key} not null`, `merchant_id ${t.key} not null`, `from_at ${t.key} not null`, `to_at ${t.key}`];
  },
  primaryKey: ['call_id'],
  indexes: [{ name: 'ani_from', columns: ['ani', 'from_at'] }],
};

/** The call an event is about. */
const callKey = (e: CrmEvent) => [e.data.callId];

/**
 * crm-context: the context of each call and the ANI occupancy intervals (./view.ts), so the screen
 * pop and the look-up by caller ID, now or at a past instant.
 */
export const crmContextProjection = (): RowProjection =>
  projectionOf<CrmEvent>('crm-context', [
    viewTable({ view: contextView, table: CONTEXTS, key: callKey }),
    // A browser call holds no caller ID: no interval, and its end finds none.
    viewTable({ view: aniView, table: ANI_INTERVALS, key: callKey, optional: true }),
  ]);
