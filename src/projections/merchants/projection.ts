import type { ApiKeyIssued, ApiKeyRevoked } from '../../domain/merchant/api-key';
import type { MerchantEvent } from '../../domain/merchant/events';
import type { DidAssigned, DidReleased } from '../../domain/did/did';
import { iso, jsonOrNull, types } from '../db';
import type { RowProjection } from '../rows';
import type { TableDef } from '../tables';

/** A merchant as configured: its settings, and the rate plan in force. */
export const MERCHANTS: TableDef = {
  name: 'mc_merchants',
  columns: (d) => {
    const t = types(d);
    return [`id ${t.key} not null`, `name ${t.text} not null`, `max_concurrent_calls ${t.int}`, `allowed_origins ${t.json}`, `rate_plan ${t.json}`, `created_at ${t.key} not null`];
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
    return [`id ${t.key} not null`, `merchant_id ${t.key} not null`, `label ${t.text} not null`, `call_center_ids ${t.json} not null`, `position ${t.key} not null`];
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

const merchantOf = (stored: { data: unknown }) => (stored.data as { merchantId: string }).merchantId;

/**
 * merchants: each merchant's configuration as the API reads it back — settings, call centers
 * (with redirects), links, the rate plan in force, the DTMF table — and the API keys (never their
 * secrets or hashes). What `merchant(id)` and `apiKeys` answer.
 */
export const merchantsProjection = (): RowProjection => ({
  name: 'merchants',
  tables: [MERCHANTS, CALL_CENTERS, LINKS, DTMF, API_KEYS, DIDS],
  prefetch: (stored) => {
    switch (stored.type) {
      case 'CallCenterRedirected':
      case 'CallCenterKindSet':
      case 'CallCenterIdentityDtmfSet':
        return [{ table: 'mc_call_centers', key: [(stored.data as { callCenterId: string }).callCenterId] }];
      case 'RatePlanSet':
        return [{ table: 'mc_merchants', key: [merchantOf(stored)] }];
      case 'DidReleased':
        return [{ table: 'mc_dids', key: [(stored.data as { number: string }).number] }];
      case 'ApiKeyRevoked':
        return [{ table: 'mc_api_keys', key: [(stored.data as { keyId: string }).keyId] }];
      default:
        return [];
    }
  },
  apply: (rows, stored, warn) => {
    if (stored.type === 'DidAssigned') {
      const d = (stored as unknown as DidAssigned).data;
      rows.put('mc_dids', { number: d.number, merchant_id: d.merchantId, destination: JSON.stringify(d.destination), assigned_at: iso(d.at), released_at: null });
      return;
    }
    if (stored.type === 'DidReleased') {
      const d = (stored as unknown as DidReleased).data;
      const row = rows.get('mc_dids', [d.number]);
      if (!row) return warn({ number: d.number }, 'merchants: release of an unknown number');
      rows.put('mc_dids', { ...row, released_at: iso(d.at) });
      return;
    }
    if (stored.type === 'ApiKeyIssued') {
      const d = (stored as unknown as ApiKeyIssued).data;
      rows.put('mc_api_keys', { id: d.keyId, role: d.role, merchant_id: d.merchantId, call_center_id: d.callCenterId ?? null, created_at: iso(d.at), revoked_at: null });
      return;
    }
    if (stored.type === 'ApiKeyRevoked') {
      const d = (stored as unknown as ApiKeyRevoked).data;
      const k = rows.get('mc_api_keys', [d.keyId]);
      if (k) rows.put('mc_api_keys', { ...k, revoked_at: k.revoked_at ?? iso(d.at) });
      return;
    }
    const event = stored as unknown as MerchantEvent;
    switch (event.type) {
      case 'MerchantCreated': {
        const d = event.data;
        rows.put('mc_merchants', {
          id: d.merchantId,
          name: d.name,
          max_concurrent_calls: d.maxConcurrentCalls,
          allowed_origins: d.allowedOrigins === null ? null : JSON.stringify(d.allowedOrigins),
          rate_plan: null,
          created_at: iso(d.at),
        });
        return;
      }
      case 'CallCenterAdded': {
        const d = event.data;
        rows.put('mc_call_centers', {
          id: d.callCenterId,
          merchant_id: d.merchantId,
          name: d.name,
          phone_number: d.phoneNumber,
          time_zone: d.timeZone,
          weekly_hours: d.weeklyHours === null ? null : JSON.stringify(d.weeklyHours),
          capacity: d.capacity,
          region: d.region,
          redirected_to: null,
          kind: d.kind ?? 'PSTN',
          position: stored.position,
          identity_dtmf: 0,
        });
        return;
      }
      case 'CallCenterRedirected': {
        const d = event.data;
        const c = rows.get('mc_call_centers', [d.callCenterId]);
        if (!c) return warn({ callCenterId: d.callCenterId }, 'merchants: redirect of an unknown call center');
        rows.put('mc_call_centers', { ...c, redirected_to: d.toCallCenterId });
        return;
      }
      case 'CallCenterKindSet': {
        const d = event.data;
        const c = rows.get('mc_call_centers', [d.callCenterId]);
        if (!c) return warn({ callCenterId: d.callCenterId }, 'merchants: kind of an unknown call center');
        rows.put('mc_call_centers', { ...c, kind: d.kind });
        return;
      }
      case 'CallCenterIdentityDtmfSet': {
        const d = event.data;
        const c = rows.get('mc_call_centers', [d.callCenterId]);
        if (!c) return warn({ callCenterId: d.callCenterId }, 'merchants: identity DTMF of an unknown call center');
        rows.put('mc_call_centers', { ...c, identity_dtmf: d.enabled ? 1 : 0 });
        return;
      }
      case 'LinkCreated': {
        const d = event.data;
        rows.put('mc_links', { id: d.linkId, merchant_id: d.merchantId, label: d.label, call_center_ids: JSON.stringify(d.callCenterIds), position: stored.position });
        return;
      }
      case 'RatePlanSet': {
        const m = rows.get('mc_merchants', [event.data.merchantId]);
        if (!m) return warn({ merchantId: event.data.merchantId }, 'merchants: a rate plan for an unknown merchant');
        // Plans only grow in version: an older one replayed late never replaces a newer one.
        const current = jsonOrNull<{ version: number }>(m.rate_plan);
        if (!current || current.version < event.data.plan.version) rows.put('mc_merchants', { ...m, rate_plan: JSON.stringify(event.data.plan) });
        return;
      }
      case 'DtmfCommandSet': {
        const d = event.data;
        rows.put('mc_dtmf', { merchant_id: d.merchantId, sequence: d.sequence, action: d.action, argument: d.argument });
        return;
      }
      default:
        return;
    }
  },
});
