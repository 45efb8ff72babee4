/**
 * The merchant: one stream per merchant (`merchant-<id>`) holding its whole configuration — call
 * centers (hours, capacity, region, redirects), links, the rate plan, the DTMF table and allowed
 * origins. One stream, so that rules spanning them (a link names only this merchant's centers, a
 * redirect never closes a cycle) are checked against one consistent state.
 */
import { assertMediaSettingArgument } from '../call/media-settings';
import type { Decider } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, conflict, DomainError, notFound } from '../shared/errors';
import { assertE164, assertNonEmpty, DTMF_DIGITS, isTimeZone, originOf } from '../shared/validation';
import type { RatePlan } from '../rating/rate-plan';
import { assertQueuePolicy, type QueuePolicy } from '../queue/queue';
import { assertCallbackPrefixes } from '../callback/callback-number';
import type {
  CallCenterConfig,
  CallCenterKind,
  DtmfAction,
  MerchantCommand,
  MerchantEvent,
  OpeningHours,
} from './events';

/** identityDtmf: the center hears the caller's session number as DTMF after it answers (issue 23). */
export type CallCenterState = CallCenterConfig & { redirectedTo: string | null; identityDtmf: boolean };
export interface LinkState {
  linkId: string;
  label: string;
  callCenterIds: string[];
  /** Issue 25: how its calls may wait when no center has a free slot; null: they do not wait. */
  queuePolicy: QueuePolicy | null;
}

export interface ActiveMerchant {
  status: 'Active';
  merchantId: string;
  name: string;
  /** null: no limit. */
  maxConcurrentCalls: number | null;
  /** null: any origin. */
  allowedOrigins: string[] | null;
  callCenters: Record<string, CallCenterState>;
  links: Record<string, LinkState>;
  ratePlan: RatePlan | null;
  dtmfTable: Record<string, { action: DtmfAction; argument: string | null }>;
  /** Issue 25: the prefixes its shoppers may be called back on; null: unset (its centers' calling codes). */
  callbackPrefixes: string[] | null;
}

export type MerchantState = { status: 'Absent' } | ActiveMerchant;

export const initialMerchantState: MerchantState = { status: 'Absent' };

// ---------------------------------------------------------------- validation (BAD_USER_INPUT)

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Minutes since local midnight of "HH:MM"; "24:00" is 1440 (allowed for close only). */
export const minutesOf = (hhmm: string): number => (hhmm === '24:00' ? 1440 : Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5)));

export const assertOpeningHours = (hours: OpeningHours[] | null): void => {
  if (hours === null) return;
  if (!Array.isArray(hours)) throw badInput('weeklyHours must be a list or null', { field: 'weeklyHours' });
  hours.forEach((h, i) => {
    const field = `weeklyHours[${i}]`;
    if (!Number.isInteger(h.day) || h.day < 1 || h.day > 7) throw badInput(`${field}.day must be 1 (Monday) to 7 (Sunday), got ${h.day}`, { field });
    if (!HHMM.test(h.open)) throw badInput(`${field}.open must be "HH:MM" from 00:00 to 23:59, got "${h.open}"`, { field });
    if (!HHMM.test(h.close) && h.close !== '24:00')
      throw badInput(`${field}.close must be "HH:MM" from 00:00 to 24:00, got "${h.close}"`, { field });
    if (minutesOf(h.open) === minutesOf(h.close))
      throw badInput(`${field}: open and close must differ (close before open spans midnight)`, { field });
  });
};

const assertCapacity = (n: number, field: string): void => {
  if (!Number.isSafeInteger(n) || n < 1) throw badInput(`${field} must be an integer >= 1, got ${n}`, { field });
};

/** An origin as the browser sends it: scheme://host[:port], lower case, no path or trailing slash. */
export const assertOrigin = (value: string, field: string): void => {
  const origin = typeof value === 'string' ? originOf(value) : null;
  if (origin === null) throw badInput(`${field} must be an http(s) origin like https://shop.example, got "${value}"`, { field });
  // Origins are compared exactly (a browser's Origin header never holds a pattern): a wildcard
  // would be stored and then never match anything.
  if (origin.includes('*')) throw badInput(`${field}: wildcards are not supported; list each origin exactly (https://www.shop.example, https://shop.example), got "${value}"`, { field });
  if (origin !== value) throw badInput(`${field} must be exactly an origin (scheme://host[:port]); did you mean "${origin}"?`, { field });
};

export const CALL_CENTER_KINDS: readonly CallCenterKind[] = ['PSTN', 'BROWSER'];

const assertKind = (kind: CallCenterKind): void => {
  if (!CALL_CENTER_KINDS.includes(kind)) throw badInput(`kind must be PSTN or BROWSER, got "${String(kind)}"`, { field: 'kind' });
};

export const assertCallCenter = (c: CallCenterConfig): void => {
  assertKind(c.kind);
  assertNonEmpty(c.callCenterId, 'callCenterId');
  assertNonEmpty(c.name, 'name');
  assertE164(c.phoneNumber, 'phoneNumber');
  if (!isTimeZone(c.timeZone)) throw badInput(`timeZone must be an IANA time zone like America/New_York, got "${c.timeZone}"`, { field: 'timeZone' });
  assertOpeningHours(c.weeklyHours);
  assertCapacity(c.capacity, 'capacity');
  assertNonEmpty(c.region, 'region', 64);
};

const PREFIX = /^\+\d{1,15}$/;

export const assertRatePlan = (plan: Omit<RatePlan, 'version'>): void => {
  if (!/^[A-Z]{3}$/.test(plan.currency)) throw badInput(`currency must be an ISO 4217 code like EUR, got "${plan.currency}"`, { field: 'currency' });
  for (const f of ['connectionFeeMinor', 'ratePerMinuteMinor', 'minimumChargeMinor'] as const)
    if (!Number.isSafeInteger(plan[f]) || plan[f] < 0) throw badInput(`${f} must be a non-negative integer (minor units), got ${plan[f]}`, { field: f });
  for (const f of ['firstIncrementSeconds', 'nextIncrementSeconds'] as const)
    if (!Number.isSafeInteger(plan[f]) || plan[f] < 1 || plan[f] > 86_400)
      throw badInput(`${f} must be an integer from 1 to 86400 seconds, got ${plan[f]}`, { field: f });
  const seen = new Set<string>();
  for (const r of plan.prefixRates ?? []) {
    if (!PREFIX.test(r.prefix)) throw badInput(`prefix must be "+" and 1 to 15 digits, got "${r.prefix}"`, { field: 'prefixRates' });
    if (seen.has(r.prefix)) throw badInput(`prefix ${r.prefix} appears twice`, { field: 'prefixRates' });
    seen.add(r.prefix);
    if (!Number.isSafeInteger(r.ratePerMinuteMinor) || r.ratePerMinuteMinor < 0)
      throw badInput(`ratePerMinuteMinor for ${r.prefix} must be a non-negative integer, got ${r.ratePerMinuteMinor}`, { field: 'prefixRates' });
  }
  // The direction rates (INBOUND, issue 23; CALLBACK, issue 25): absent or null fall back to ratePerMinuteMinor.
  for (const field of ['inboundRatePerMinuteMinor', 'callbackRatePerMinuteMinor'] as const) {
    const rate = plan[field];
    if (rate !== undefined && rate !== null && (!Number.isSafeInteger(rate) || rate < 0))
      throw badInput(`${field} must be a non-negative integer (minor units) or null, got ${rate}`, { field });
  }
};

const VOLUME = /^[+-]?\d{1,3}$/;

/** A VOLUME command's argument: an integer percent from -100 to +100 (DTMF table and console alike). */
export const assertVolumeArgument = (argument: string | null): void => {
  if (argument === null || !VOLUME.test(argument) || Math.abs(Number(argument)) > 100)
    throw badInput(`VOLUME needs an integer percent from -100 to +100 (e.g. "+20"), got "${argument}"`, { field: 'argument' });
};

export const assertDtmfCommand = (sequence: string, action: DtmfAction, argument: string | null): void => {
  if (typeof sequence !== 'string' || sequence.length > 16 || !DTMF_DIGITS.test(sequence))
    throw badInput(`sequence must be 1 to 16 DTMF digits (0-9, *, #, A-D), got "${sequence}"`, { field: 'sequence' });
  switch (action) {
    case 'PUSH_PAGE':
      if (argument === null || originOf(argument) === null)
        throw badInput('PUSH_PAGE needs an absolute http(s) URL as argument', { field: 'argument' });
      return;
    case 'VOLUME':
      return assertVolumeArgument(argument);
    case 'OPEN_CHANNEL':
      if (argument !== null) throw badInput('OPEN_CHANNEL takes no argument ("#NN#" names the channel)', { field: 'argument' });
      return;
    case 'MEDIA_SETTING':
      return assertMediaSettingArgument(argument);
    default:
      return unreachable(action);
  }
};

// ---------------------------------------------------------------- decide / evolve

const active = (state: MerchantState): ActiveMerchant => {
  if (state.status === 'Absent') throw new DomainError('NOT_FOUND', 'merchant not found');
  return state;
};

const center = (m: ActiveMerchant, id: string): CallCenterState => {
  const c = m.callCenters[id];
  if (!c) throw notFound('call center', id);
  return c;
};

/** The redirect chain from `from` if it were sent to `to`, when that chain comes back to `from`; else null. */
const wouldCycle = (m: ActiveMerchant, from: string, to: string): string[] | null => {
  const chain = [from];
  let at: string | null = to;
  while (at !== null) {
    chain.push(at);
    if (at === from) return chain;
    if (chain.length > Object.keys(m.callCenters).length + 1) return chain; // defensive: a cycle already stored
    at = m.callCenters[at]?.redirectedTo ?? null;
  }
  return null;
};

const decide = (command: MerchantCommand, state: MerchantState): MerchantEvent[] => {
  switch (command.type) {
    case 'CreateMerchant': {
      const d = command.data;
      assertNonEmpty(d.merchantId, 'merchantId');
      assertNonEmpty(d.name, 'name');
      if (d.maxConcurrentCalls !== null) assertCapacity(d.maxConcurrentCalls, 'maxConcurrentCalls');
      if (d.allowedOrigins !== null) d.allowedOrigins.forEach((o, i) => assertOrigin(o, `allowedOrigins[${i}]`));
      if (state.status !== 'Absent') throw conflict(`merchant ${d.merchantId} already exists`);
      return [{ type: 'MerchantCreated', data: { ...d, allowedOrigins: d.allowedOrigins === null ? null : [...new Set(d.allowedOrigins)] } }];
    }
    case 'AddCallCenter': {
      const m = active(state);
      const d = command.data;
      assertCallCenter(d);
      if (m.callCenters[d.callCenterId]) throw conflict(`call center ${d.callCenterId} already exists`);
      return [{ type: 'CallCenterAdded', data: { ...d, merchantId: m.merchantId } }];
    }
    case 'RedirectCallCenter': {
      const m = active(state);
      const d = command.data;
      const c = center(m, d.callCenterId);
      if (d.toCallCenterId !== null) {
        center(m, d.toCallCenterId);
        const cycle = wouldCycle(m, d.callCenterId, d.toCallCenterId);
        if (cycle) throw conflict(`redirect would close a cycle: ${cycle.join(' → ')}`, { chain: cycle });
      }
      if (c.redirectedTo === d.toCallCenterId) return [];
      return [{ type: 'CallCenterRedirected', data: { ...d, merchantId: m.merchantId } }];
    }
    case 'SetCallCenterKind': {
      const m = active(state);
      const d = command.data;
      assertKind(d.kind);
      const c = center(m, d.callCenterId);
      if (c.kind === d.kind) return [];
      return [{ type: 'CallCenterKindSet', data: { ...d, merchantId: m.merchantId } }];
    }
    case 'SetCallCenterIdentityDtmf': {
      const m = active(state);
      const d = command.data;
      if (typeof d.enabled !== 'boolean') throw badInput('enabled must be true or false', { field: 'enabled' });
      const c = center(m, d.callCenterId);
      if (c.identityDtmf === d.enabled) return [];
      return [{ type: 'CallCenterIdentityDtmfSet', data: { ...d, merchantId: m.merchantId } }];
    }
    case 'CreateLink': {
      const m = active(state);
      const d = command.data;
      assertNonEmpty(d.linkId, 'linkId');
      assertNonEmpty(d.label, 'label');
      if (!Array.isArray(d.callCenterIds) || d.callCenterIds.length === 0)
        throw badInput('callCenterIds must name at least one call center', { field: 'callCenterIds' });
      if (new Set(d.callCenterIds).size !== d.callCenterIds.length)
        throw badInput('callCenterIds must not repeat a call center', { field: 'callCenterIds' });
      for (const id of d.callCenterIds) center(m, id);
      if (m.links[d.linkId]) throw conflict(`link ${d.linkId} already exists`);
      return [{ type: 'LinkCreated', data: { ...d, callCenterIds: [...d.callCenterIds], merchantId: m.merchantId } }];
    }
    case 'SetLinkQueuePolicy': {
      const m = active(state);
      const d = command.data;
      if (d.policy !== null) assertQueuePolicy(d.policy);
      const link = m.links[d.linkId];
      if (!link) throw notFound('link', d.linkId);
      const current = link.queuePolicy ?? null;
      const policy = d.policy === null ? null : { maxWaitSeconds: d.policy.maxWaitSeconds, maxLength: d.policy.maxLength };
      if (current?.maxWaitSeconds === policy?.maxWaitSeconds && current?.maxLength === policy?.maxLength) return [];
      return [{ type: 'LinkQueuePolicySet', data: { merchantId: m.merchantId, linkId: d.linkId, policy, at: d.at } }];
    }
    case 'SetCallbackPrefixes': {
      const m = active(state);
      const d = command.data;
      const prefixes = d.prefixes === null ? null : assertCallbackPrefixes(d.prefixes);
      if (JSON.stringify(prefixes) === JSON.stringify(m.callbackPrefixes ?? null)) return [];
      return [{ type: 'CallbackPrefixesSet', data: { merchantId: m.merchantId, prefixes, at: d.at } }];
    }
    case 'SetRatePlan': {
      const m = active(state);
      const { plan, at } = command.data;
      assertRatePlan(plan);
      const version = (m.ratePlan?.version ?? 0) + 1;
      const stored: RatePlan = { ...plan, prefixRates: (plan.prefixRates ?? []).map((r) => ({ ...r })), version };
      return [{ type: 'RatePlanSet', data: { merchantId: m.merchantId, plan: stored, at } }];
    }
    case 'SetDtmfCommand': {
      const m = active(state);
      const d = command.data;
      assertDtmfCommand(d.sequence, d.action, d.argument);
      const current = m.dtmfTable[d.sequence];
      if (current && current.action === d.action && current.argument === d.argument) return [];
      return [{ type: 'DtmfCommandSet', data: { ...d, merchantId: m.merchantId } }];
    }
    default:
      return unreachable(command);
  }
};

const evolve = (state: MerchantState, event: MerchantEvent): MerchantState => {
  if (event.type === 'MerchantCreated') {
    const d = event.data;
    return {
      status: 'Active',
      merchantId: d.merchantId,
      name: d.name,
      maxConcurrentCalls: d.maxConcurrentCalls,
      allowedOrigins: d.allowedOrigins,
      callCenters: {},
      links: {},
      ratePlan: null,
      dtmfTable: {},
      callbackPrefixes: null,
    };
  }
  if (state.status === 'Absent') return state;
  switch (event.type) {
    case 'CallCenterAdded': {
      const { merchantId: _m, at: _a, ...config } = event.data;
      return { ...state, callCenters: { ...state.callCenters, [config.callCenterId]: { ...config, redirectedTo: null, identityDtmf: false } } };
    }
    case 'CallCenterRedirected': {
      const d = event.data;
      const c = state.callCenters[d.callCenterId];
      if (!c) return state;
      return { ...state, callCenters: { ...state.callCenters, [d.callCenterId]: { ...c, redirectedTo: d.toCallCenterId } } };
    }
    case 'CallCenterKindSet': {
      const d = event.data;
      const c = state.callCenters[d.callCenterId];
      if (!c) return state;
      return { ...state, callCenters: { ...state.callCenters, [d.callCenterId]: { ...c, kind: d.kind } } };
    }
    case 'CallCenterIdentityDtmfSet': {
      const d = event.data;
      const c = state.callCenters[d.callCenterId];
      if (!c) return state;
      return { ...state, callCenters: { ...state.callCenters, [d.callCenterId]: { ...c, identityDtmf: d.enabled } } };
    }
    case 'LinkCreated': {
      const d = event.data;
      return { ...state, links: { ...state.links, [d.linkId]: { linkId: d.linkId, label: d.label, callCenterIds: d.callCenterIds, queuePolicy: null } } };
    }
    case 'LinkQueuePolicySet': {
      const d = event.data;
      const link = state.links[d.linkId];
      if (!link) return state;
      return { ...state, links: { ...state.links, [d.linkId]: { ...link, queuePolicy: d.policy } } };
    }
    case 'CallbackPrefixesSet':
      return { ...state, callbackPrefixes: event.data.prefixes };
    case 'RatePlanSet':
      return { ...state, ratePlan: event.data.plan };
    case 'DtmfCommandSet': {
      const d = event.data;
      return { ...state, dtmfTable: { ...state.dtmfTable, [d.sequence]: { action: d.action, argument: d.argument } } };
    }
    default:
      return unreachable(event);
  }
};

export const merchantDecider: Decider<MerchantState, MerchantCommand, MerchantEvent> = {
  // @3: links carry their queue policy (issue 25); @4: the callback prefixes.
  name: 'merchant@4',
  decide,
  evolve,
  initialState: initialMerchantState,
};
