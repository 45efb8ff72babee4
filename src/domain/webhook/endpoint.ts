/**
 * A merchant's webhook endpoint: one stream per endpoint (`webhook-<id>`). Pure: ids, secrets and
 * time arrive on the command; the address check (DNS) happens before the command is decided.
 */
import type { Decider } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, conflict, notFound } from '../shared/errors';
import { assertNonEmpty } from '../shared/validation';
import { WEBHOOK_EVENT_TYPES, type WebhookCommand, type WebhookEvent, type WebhookSecrets, type WebhookUrlPolicy } from './events';

export type WebhookEndpointStatus = 'ACTIVE' | 'DISABLED' | 'FAILING';

export interface WebhookEndpointConfig {
  endpointId: string;
  merchantId: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  secrets: WebhookSecrets;
  status: WebhookEndpointStatus;
  /** Set while FAILING: when the failures began. */
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

export type WebhookEndpointState = { status: 'Absent' } | ({ status: 'Present' } & { endpoint: WebhookEndpointConfig });

const MAX_URL = 2048;
const MAX_GRACE_MS = 7 * 24 * 3600 * 1000;
const KNOWN_TYPES: ReadonlySet<string> = new Set<string>(WEBHOOK_EVENT_TYPES);

/**
 * The URL rules the domain can check without I/O: an absolute http(s) URL without credentials or
 * fragment; under the `public` policy https only, and not an IP literal or name that is plainly
 * local (the resolved addresses are checked by the application before the command).
 */
export const assertWebhookUrl = (url: string, policy: WebhookUrlPolicy): string => {
  if (typeof url !== 'string' || url.trim() === '') throw badInput('url must not be empty', { field: 'url' });
  if (url.length > MAX_URL) throw badInput(`url must be at most ${MAX_URL} characters`, { field: 'url' });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badInput(`url must be an absolute URL, got "${url}"`, { field: 'url' });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw badInput(`url must be http(s), got "${u.protocol}"`, { field: 'url' });
  if (policy === 'public' && u.protocol !== 'https:') throw badInput('url must be https (http is only accepted in the embedded mode)', { field: 'url' });
  if (u.username || u.password) throw badInput('url must not carry credentials: the signature authenticates webdial', { field: 'url' });
  if (u.hash) throw badInput('url must not have a #fragment', { field: 'url' });
  if (policy === 'public' && /^(localhost|.*\.localhost|.*\.local|.*\.internal)$/i.test(u.hostname.replace(/\.$/, '')))
    throw badInput(`url host ${u.hostname} is not a public address`, { field: 'url' });
  return u.toString();
};

/** Known types, at least one, no repeats (order kept). */
export const assertEventTypes = (types: readonly string[]): string[] => {
  const given: unknown = types;
  if (!Array.isArray(given) || types.length === 0) throw badInput('eventTypes must name at least one event type', { field: 'eventTypes' });
  const unknown = types.filter((t) => !KNOWN_TYPES.has(t));
  if (unknown.length > 0)
    throw badInput(`unknown event type(s) ${unknown.join(', ')}; known: ${WEBHOOK_EVENT_TYPES.join(', ')}`, { field: 'eventTypes' });
  return [...new Set(types)];
};

const assertDescription = (d: string | null): string | null => {
  if (d === null) return null;
  if (d.length > 500) throw badInput('description must be at most 500 characters', { field: 'description' });
  return d;
};

const present = (state: WebhookEndpointState, endpointId: string): WebhookEndpointConfig => {
  if (state.status === 'Absent') throw notFound('webhook endpoint', endpointId);
  return state.endpoint;
};

const decide = (command: WebhookCommand, state: WebhookEndpointState): WebhookEvent[] => {
  switch (command.type) {
    case 'RegisterWebhookEndpoint': {
      const d = command.data;
      assertNonEmpty(d.endpointId, 'endpointId', 64);
      assertNonEmpty(d.merchantId, 'merchantId');
      assertNonEmpty(d.sealedSecret, 'secret', 1000);
      const url = assertWebhookUrl(d.url, d.urlPolicy);
      const eventTypes = assertEventTypes(d.eventTypes);
      const description = assertDescription(d.description);
      if (state.status !== 'Absent') throw conflict(`webhook endpoint ${d.endpointId} already exists`);
      return [{ type: 'WebhookEndpointRegistered', data: { endpointId: d.endpointId, merchantId: d.merchantId, url, eventTypes, description, sealedSecret: d.sealedSecret, at: d.at } }];
    }
    case 'UpdateWebhookEndpoint': {
      const d = command.data;
      const e = present(state, d.endpointId);
      const url = d.url === null ? e.url : assertWebhookUrl(d.url, d.urlPolicy);
      const eventTypes = d.eventTypes === null ? e.eventTypes : assertEventTypes(d.eventTypes);
      const description = d.description === null ? e.description : assertDescription(d.description);
      if (url === e.url && description === e.description && eventTypes.join(',') === e.eventTypes.join(',')) return [];
      return [{ type: 'WebhookEndpointUpdated', data: { endpointId: d.endpointId, url, eventTypes, description, at: d.at } }];
    }
    case 'RotateWebhookSecret': {
      const d = command.data;
      present(state, d.endpointId);
      assertNonEmpty(d.sealedSecret, 'secret', 1000);
      const grace = Date.parse(d.previousValidUntil) - Date.parse(d.at);
      if (!Number.isFinite(grace) || grace < 0 || grace > MAX_GRACE_MS)
        throw badInput('the previous secret may stay valid from 0 seconds to 7 days after a rotation', { field: 'keepPreviousSeconds' });
      return [{ type: 'WebhookSecretRotated', data: { endpointId: d.endpointId, sealedSecret: d.sealedSecret, previousValidUntil: d.previousValidUntil, at: d.at } }];
    }
    case 'DisableWebhookEndpoint': {
      const e = present(state, command.data.endpointId);
      if (e.status === 'DISABLED') return [];
      return [{ type: 'WebhookEndpointDisabled', data: { ...command.data } }];
    }
    case 'EnableWebhookEndpoint': {
      const e = present(state, command.data.endpointId);
      if (e.status === 'ACTIVE') return [];
      return [{ type: 'WebhookEndpointEnabled', data: { ...command.data } }];
    }
    case 'MarkWebhookEndpointFailing': {
      const e = present(state, command.data.endpointId);
      // Only an active endpoint can start failing: a disabled one sends nothing, a failing one already is.
      if (e.status !== 'ACTIVE') return [];
      return [{ type: 'WebhookEndpointFailing', data: { ...command.data } }];
    }
    default:
      return unreachable(command);
  }
};

const evolve = (state: WebhookEndpointState, event: WebhookEvent): WebhookEndpointState => {
  if (event.type === 'WebhookEndpointRegistered') {
    const d = event.data;
    return {
      status: 'Present',
      endpoint: {
        endpointId: d.endpointId,
        merchantId: d.merchantId,
        url: d.url,
        eventTypes: d.eventTypes,
        description: d.description,
        secrets: { current: d.sealedSecret, previous: null },
        status: 'ACTIVE',
        failingSince: null,
        createdAt: d.at,
        updatedAt: d.at,
      },
    };
  }
  if (state.status === 'Absent') return state;
  const e = state.endpoint;
  const next = (patch: Partial<WebhookEndpointConfig>): WebhookEndpointState => ({ status: 'Present', endpoint: { ...e, ...patch, updatedAt: event.data.at } });
  switch (event.type) {
    case 'WebhookEndpointUpdated':
      return next({ url: event.data.url, eventTypes: event.data.eventTypes, description: event.data.description });
    case 'WebhookSecretRotated':
      return next({ secrets: { current: event.data.sealedSecret, previous: { sealed: e.secrets.current, validUntil: event.data.previousValidUntil } } });
    case 'WebhookEndpointDisabled':
      return next({ status: 'DISABLED', failingSince: null });
    case 'WebhookEndpointEnabled':
      return next({ status: 'ACTIVE', failingSince: null });
    case 'WebhookEndpointFailing':
      return next({ status: 'FAILING', failingSince: event.data.failingSince });
    default:
      return unreachable(event);
  }
};

export const webhookEndpointDecider: Decider<WebhookEndpointState, WebhookCommand, WebhookEvent> = {
  name: 'webhook-endpoint@1',
  decide,
  evolve,
  initialState: { status: 'Absent' },
};

/** The secrets that sign a delivery at `now`: the current one, and the previous one during its grace period. */
export const signingSecrets = (secrets: WebhookSecrets, now: string): string[] =>
  secrets.previous && secrets.previous.validUntil > now ? [secrets.current, secrets.previous.sealed] : [secrets.current];

/** Whether an endpoint receives an event type. */
export const receives = (e: Pick<WebhookEndpointConfig, 'eventTypes'>, type: string): boolean => e.eventTypes.includes(type);
