import type { DidEvent } from '../../domain/did/did';
import type { ApiKeyEvent, Role } from '../../domain/merchant/api-key';
import type { CallCenterKind, DtmfAction, MerchantEvent } from '../../domain/merchant/events';
import { unreachable } from '../../domain/shared/decider';
import { iso, jsonOrNull } from '../../adapters/sql/values';
import type { View } from '../engine/projection-of';

/**
 * What merchants reads: the merchants' configuration, their API keys and their numbers, with the
 * store's position (centers and links are listed in the order they were created).
 */
export type MerchantsEvent = (MerchantEvent | ApiKeyEvent | DidEvent) & { position: string };
type Type = MerchantsEvent['type'];

/** A merchant as configured (mc_merchants): its settings, and the rate plan in force (JSON). */
export type MerchantRow = {
  id: string;
  name: string;
  max_concurrent_calls: number | null;
  /** JSON list; null: any origin. */
  allowed_origins: string | null;
  /** JSON RatePlan; null until one is set. */
  rate_plan: string | null;
  created_at: string;
  /** Issue 25 (migration 15): JSON list of callback prefixes; null: unset (its centers' calling codes). */
  callback_prefixes?: string | null;
};

/** A call center (mc_call_centers), with its redirect and kind. */
export type CallCenterRow = {
  id: string;
  merchant_id: string;
  name: string;
  phone_number: string;
  time_zone: string;
  /** JSON OpeningHours[]; null: always open. */
  weekly_hours: string | null;
  capacity: number;
  region: string;
  redirected_to: string | null;
  kind: CallCenterKind;
  /** The position of its creation: a merchant's centers in the order they were added. */
  position: string;
  /** 1: the center hears the session number as DTMF after answer (issue 23); null in rows older than migration 9. */
  identity_dtmf: 0 | 1 | null;
};

/**
 * A link (mc_links): the call centers it rings, in order (JSON), and its queue policy (issue 25: JSON
 * QueuePolicy; null: its calls do not wait; undefined in rows read before migration 13 reads as null).
 */
export type LinkRow = { id: string; merchant_id: string; label: string; call_center_ids: string; position: string; queue_policy: string | null };

/** A DTMF command of a merchant (mc_dtmf). */
export type DtmfRow = { merchant_id: string; sequence: string; action: DtmfAction; argument: string | null };

/** An API key without its secret or hash (mc_api_keys). */
export type ApiKeyRow = { id: string; role: Role; merchant_id: string | null; call_center_id: string | null; created_at: string; revoked_at: string | null };

/** A virtual number (mc_dids) and where it rings (JSON); a released number keeps its row. */
export type DidRow = { number: string; merchant_id: string; destination: string; assigned_at: string; released_at: string | null };

export const merchantView: View<MerchantRow, MerchantsEvent> = {
  name: 'merchant@1',
  initialState: null,
  handles: new Set<Type>(['MerchantCreated', 'RatePlanSet', 'CallbackPrefixesSet']),
  creates: new Set<Type>(['MerchantCreated']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'MerchantCreated': {
        const d = event.data;
        return {
          id: d.merchantId,
          name: d.name,
          max_concurrent_calls: d.maxConcurrentCalls,
          allowed_origins: d.allowedOrigins === null ? null : JSON.stringify(d.allowedOrigins),
          rate_plan: null,
          created_at: iso(d.at),
          callback_prefixes: null,
        };
      }
      case 'CallbackPrefixesSet':
        return row === null ? null : { ...row, callback_prefixes: event.data.prefixes === null ? null : JSON.stringify(event.data.prefixes) };
      case 'RatePlanSet': {
        if (row === null) return null;
        // Plans only grow in version: an older one replayed late never replaces a newer one.
        const current = jsonOrNull<{ version: number }>(row.rate_plan);
        return current === null || current.version < event.data.plan.version ? { ...row, rate_plan: JSON.stringify(event.data.plan) } : row;
      }
      case 'CallCenterAdded':
      case 'CallCenterRedirected':
      case 'CallCenterKindSet':
      case 'CallCenterIdentityDtmfSet':
      case 'LinkCreated':
      case 'LinkQueuePolicySet':
      case 'DtmfCommandSet':
      case 'ApiKeyIssued':
      case 'ApiKeyRevoked':
      case 'DidAssigned':
      case 'DidReleased':
        return row;
      default:
        return unreachable(event);
    }
  },
};

export const callCenterView: View<CallCenterRow, MerchantsEvent> = {
  name: 'call-center@1',
  initialState: null,
  handles: new Set<Type>(['CallCenterAdded', 'CallCenterRedirected', 'CallCenterKindSet', 'CallCenterIdentityDtmfSet']),
  creates: new Set<Type>(['CallCenterAdded']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'CallCenterAdded': {
        const d = event.data;
        return {
          id: d.callCenterId,
          merchant_id: d.merchantId,
          name: d.name,
          phone_number: d.phoneNumber,
          time_zone: d.timeZone,
          weekly_hours: d.weeklyHours === null ? null : JSON.stringify(d.weeklyHours),
          capacity: d.capacity,
          region: d.region,
          redirected_to: null,
          // Centers added before kinds existed (schema 0) are PSTN.
          kind: d.kind ?? 'PSTN',
          position: event.position,
          identity_dtmf: 0,
        };
      }
      case 'CallCenterRedirected':
        return row === null ? null : { ...row, redirected_to: event.data.toCallCenterId };
      case 'CallCenterKindSet':
        return row === null ? null : { ...row, kind: event.data.kind };
      case 'CallCenterIdentityDtmfSet':
        return row === null ? null : { ...row, identity_dtmf: event.data.enabled ? 1 : 0 };
      case 'MerchantCreated':
      case 'RatePlanSet':
      case 'LinkCreated':
      case 'LinkQueuePolicySet':
      case 'CallbackPrefixesSet':
      case 'DtmfCommandSet':
      case 'ApiKeyIssued':
      case 'ApiKeyRevoked':
      case 'DidAssigned':
      case 'DidReleased':
        return row;
      default:
        return unreachable(event);
    }
  },
};

export const linkView: View<LinkRow, MerchantsEvent> = {
  // @2: with the queue policy (issue 25).
  name: 'link@2',
  initialState: null,
  handles: new Set<Type>(['LinkCreated', 'LinkQueuePolicySet']),
  creates: new Set<Type>(['LinkCreated']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'LinkCreated': {
        const d = event.data;
        return { id: d.linkId, merchant_id: d.merchantId, label: d.label, call_center_ids: JSON.stringify(d.callCenterIds), position: event.position, queue_policy: null };
      }
      case 'LinkQueuePolicySet':
        return row === null ? null : { ...row, queue_policy: event.data.policy === null ? null : JSON.stringify(event.data.policy) };
      case 'CallbackPrefixesSet':
      case 'MerchantCreated':
      case 'RatePlanSet':
      case 'CallCenterAdded':
      case 'CallCenterRedirected':
      case 'CallCenterKindSet':
      case 'CallCenterIdentityDtmfSet':
      case 'DtmfCommandSet':
      case 'ApiKeyIssued':
      case 'ApiKeyRevoked':
      case 'DidAssigned':
      case 'DidReleased':
        return row;
      default:
        return unreachable(event);
    }
  },
};

/** A DTMF command: set again, replaced. */
export const dtmfView: View<DtmfRow, MerchantsEvent> = {
  name: 'dtmf-command@1',
  initialState: null,
  handles: new Set<Type>(['DtmfCommandSet']),
  creates: new Set<Type>(['DtmfCommandSet']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'DtmfCommandSet': {
        const d = event.data;
        return { merchant_id: d.merchantId, sequence: d.sequence, action: d.action, argument: d.argument };
      }
      case 'MerchantCreated':
      case 'RatePlanSet':
      case 'CallCenterAdded':
      case 'CallCenterRedirected':
      case 'CallCenterKindSet':
      case 'CallCenterIdentityDtmfSet':
      case 'LinkCreated':
      case 'LinkQueuePolicySet':
      case 'CallbackPrefixesSet':
      case 'ApiKeyIssued':
      case 'ApiKeyRevoked':
      case 'DidAssigned':
      case 'DidReleased':
        return row;
      default:
        return unreachable(event);
    }
  },
};

/** An API key: issued, then perhaps revoked (the first revocation's instant stays). Never its secret or hash. */
export const apiKeyView: View<ApiKeyRow, MerchantsEvent> = {
  name: 'api-key@1',
  initialState: null,
  handles: new Set<Type>(['ApiKeyIssued', 'ApiKeyRevoked']),
  creates: new Set<Type>(['ApiKeyIssued']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'ApiKeyIssued': {
        const d = event.data;
        // Keys issued before schema 2 have no center.
        return { id: d.keyId, role: d.role, merchant_id: d.merchantId, call_center_id: d.callCenterId ?? null, created_at: iso(d.at), revoked_at: null };
      }
      case 'ApiKeyRevoked':
        return row === null ? null : { ...row, revoked_at: row.revoked_at ?? iso(event.data.at) };
      case 'MerchantCreated':
      case 'RatePlanSet':
      case 'CallCenterAdded':
      case 'CallCenterRedirected':
      case 'CallCenterKindSet':
      case 'CallCenterIdentityDtmfSet':
      case 'LinkCreated':
      case 'LinkQueuePolicySet':
      case 'DtmfCommandSet':
      case 'CallbackPrefixesSet':
      case 'DidAssigned':
      case 'DidReleased':
        return row;
      default:
        return unreachable(event);
    }
  },
};

/** A virtual number: assigned (again: replaced), then perhaps released. */
export const didView: View<DidRow, MerchantsEvent> = {
  name: 'did@1',
  initialState: null,
  handles: new Set<Type>(['DidAssigned', 'DidReleased']),
  creates: new Set<Type>(['DidAssigned']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'DidAssigned': {
        const d = event.data;
        return { number: d.number, merchant_id: d.merchantId, destination: JSON.stringify(d.destination), assigned_at: iso(d.at), released_at: null };
      }
      case 'DidReleased':
        return row === null ? null : { ...row, released_at: iso(event.data.at) };
      case 'MerchantCreated':
      case 'RatePlanSet':
      case 'CallCenterAdded':
      case 'CallCenterRedirected':
      case 'CallCenterKindSet':
      case 'CallCenterIdentityDtmfSet':
      case 'LinkCreated':
      case 'LinkQueuePolicySet':
      case 'DtmfCommandSet':
      case 'ApiKeyIssued':
      case 'CallbackPrefixesSet':
      case 'ApiKeyRevoked':
        return row;
      default:
        return unreachable(event);
    }
  },
};
