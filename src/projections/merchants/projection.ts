import { types } from '../../adapters/sql/db';
import type { RowProjection } from '../engine/rows';
import type { TableDef } from '../engine/tables';
import { projectionOf, viewTable } from '../engine/projection-of';
import { apiKeyView, callCenterView, didView, dtmfView, linkView, merchantView, type MerchantsEvent } from './view';

/** A merchant as configured: its settings, and the rate plan in force. */
export const MERCHANTS: TableDef = {
  name: 'mc_merchants',
  columns: (d) => {
    const t = types(d);
    return [
      `id ${t.key} not null`,
      `name ${t.text} not null`,
      `max_concurrent_calls ${t.int}`,
      `allowed_origins ${t.json}`,
      `rate_plan ${t.json}`,
      `created_at ${t.key} not null`,
      // Issue 25 (migration 15): JSON list of callback prefixes; null: unset.
      `callback_prefixes ${t.json}`,
    ];
  },
  primaryKey: ['id'],
};

export const CALL_CENTERS: TableDef = {
  name: 'mc_call_centers',
  columns: (d) => {
    const t = types(d);
    return [
      `id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `name ${t.text} not null`,
      `phone_number ${t.text} not null`,
      `time_zone ${t.text} not null`,
      `weekly_hours ${t.json}`,
      `capacity ${t.int} not null`,
      `region ${t.text} not null`,
      `redirected_to ${t.key}`,
      `kind ${t.text} not null`,
      `position ${t.key} not null`,
      // Issue 23 (migration 9): 1 when the center hears the session number as DTMF after answer.
      `identity_dtmf ${t.int}`,
    ];
  },
  primaryKey: ['id'],
  indexes: [{ name: 'merchant', columns: ['merchant_id', 'position'] }],
};

export const LINKS: TableDef = {
  name: 'mc_links',
  columns: (d) => {
    const t = types(d);
    return [
      `id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `label ${t.text} not null`,
      `call_center_ids ${t.json} not null`,
      `position ${t.key} not null`,
      // Issue 25 (migration 13): the link's queue policy, JSON; null: its calls do not wait.
      `queue_policy ${t.json}`,
    ];
  },
  primaryKey: ['id'],
  indexes: [{ name: 'merchant', columns: ['merchant_id', 'position'] }],
};

export const DTMF: TableDef = {
  name: 'mc_dtmf',
  columns: (d) => {
    const t = types(d);
    return [`merchant_id ${t.key} not null`, `sequence ${t.key} not null`, `action ${t.text} not null`, `argument ${t.text}`];
  },
  primaryKey: ['merchant_id', 'sequence'],
};

/** API keys without their secrets: who holds which role for which merchant, and since when. */
export const API_KEYS: TableDef = {
  name: 'mc_api_keys',
  columns: (d) => {
    const t = types(d);
    return [`id ${t.key} not null`, `role ${t.text} not null`, `merchant_id ${t.key}`, `call_center_id ${t.key}`, `created_at ${t.key} not null`, `revoked_at ${t.key}`];
  },
  primaryKey: ['id'],
  indexes: [{ name: 'merchant', columns: ['merchant_id', 'created_at'] }],
};

/** Virtual numbers (DIDs) and where each rings (issue 23; migration 10). A released number keeps its row, with released_at. */
export const DIDS: TableDef = {
  name: 'mc_dids',
  columns: (d) => {
    const t = types(d);
    return [`number ${t.key} not null`, `merchant_id ${t.key} not null`, `destination ${t.json} not null`, `assigned_at ${t.key} not null`, `released_at ${t.key}`];
  },
  primaryKey: ['number'],
  indexes: [{ name: 'merchant', columns: ['merchant_id', 'number'] }],
};

/** The call center an event is about. */
const centerKey = (e: MerchantsEvent) => {
  switch (e.type) {
    case 'CallCenterAdded':
    case 'CallCenterRedirected':
    case 'CallCenterKindSet':
    case 'CallCenterIdentityDtmfSet':
      return [e.data.callCenterId];
    default:
      return null;
  }
};

/**
 * merchants: each merchant's configuration as the API reads it back — settings, call centers
 * (with redirects), links, the rate plan in force, the DTMF table — the API keys (never their
 * secrets or hashes) and the numbers. What `merchant(id)` and `apiKeys` answer. Rows: ./view.ts.
 */
export const merchantsProjection = (): RowProjection =>
  projectionOf<MerchantsEvent>('merchants', [
    viewTable({ view: merchantView, table: MERCHANTS, key: (e) => (e.type === 'MerchantCreated' || e.type === 'RatePlanSet' || e.type === 'CallbackPrefixesSet' ? [e.data.merchantId] : null) }),
    viewTable({ view: callCenterView, table: CALL_CENTERS, key: centerKey }),
    viewTable({ view: linkView, table: LINKS, key: (e) => (e.type === 'LinkCreated' || e.type === 'LinkQueuePolicySet' ? [e.data.linkId] : null) }),
    viewTable({ view: dtmfView, table: DTMF, key: (e) => (e.type === 'DtmfCommandSet' ? [e.data.merchantId, e.data.sequence] : null) }),
    viewTable({ view: apiKeyView, table: API_KEYS, key: (e) => (e.type === 'ApiKeyIssued' || e.type === 'ApiKeyRevoked' ? [e.data.keyId] : null) }),
    viewTable({ view: didView, table: DIDS, key: (e) => (e.type === 'DidAssigned' || e.type === 'DidReleased' ? [e.data.number] : null) }),
  ]);
