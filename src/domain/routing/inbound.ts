import type { InboundDestinationKind, TerminationCause } from '../call/events';
import type { DirectDestination } from '../did/did';
import type { ActiveMerchant } from '../merchant/merchant';
import { isOpenAt, resolveRedirect, routeCall } from './routing';

/**
 * Where a phone call to one of the merchant's numbers rings (issue 23), purely: the number's
 * destination resolved to a call center whose consoles take it.
 * - CALL_CENTER: that center (after its redirects).
 * - AGENT: the agent's center (the key's), and only that agent may answer.
 * - LINK: the link's routing, as for a click (opening hours, capacity, least utilised).
 * The center must be open and take calls in the browser (a BROWSER center): an inbound call rings in
 * consoles, and a PSTN center has none. Refusals say what the caller should hear: NO_ROUTE (nobody can
 * take calls on this number: 404), CLOSED (480 Temporarily Unavailable) or BUSY (486 Busy Here).
 * `activeCalls` is a hint for LINK routing; the application takes the center's slot after this.
 */
export type InboundRoute =
  | { ok: true; callCenterId: string; destination: InboundDestinationKind; agent: string | null; linkId: string | null; reason: string }
  | { ok: false; refusal: 'NO_ROUTE' | 'CLOSED' | 'BUSY'; reason: string };

export interface InboundRouteInput {
  merchant: ActiveMerchant;
  /** A number's direct destination (a main number's menu resolves to one first). */
  destination: DirectDestination;
  /** For an AGENT number: the key's call center (null when the key is gone or bound to no center). */
  agentCenterId: string | null;
  at: Date;
  activeCalls: Readonly<Record<string, number>>;
}

export const routeInbound = (input: InboundRouteInput): InboundRoute => {
  const { merchant, destination, at, activeCalls } = input;
  let requested: string;
  switch (destination.kind) {
    case 'LINK': {
      // Only the link's centers that take calls in consoles (after their redirects) are candidates.
      const link = merchant.links[destination.linkId];
      if (!link) return { ok: false, refusal: 'NO_ROUTE', reason: `link ${destination.linkId} unknown` };
      const inConsoles = link.callCenterIds.filter((id) => takesConsoleCalls(merchant, id));
      if (inConsoles.length === 0) return { ok: false, refusal: 'NO_ROUTE', reason: `link ${destination.linkId} has no call center that takes calls in consoles` };
      const narrowed: ActiveMerchant = { ...merchant, links: { ...merchant.links, [link.linkId]: { ...link, callCenterIds: inConsoles } } };
      const route = routeCall({ merchant: narrowed, linkId: destination.linkId, at, callerRegion: null, activeCalls });
      // An open center that is full makes the caller hear busy; only closed ones, "try later"; none at all, no route.
      if (!route.ok) return { ok: false, refusal: route.reason.includes(': full (') ? 'BUSY' : route.reason.includes(': closed') ? 'CLOSED' : 'NO_ROUTE', reason: route.reason };
      if (route.media !== 'BROWSER') return { ok: false, refusal: 'NO_ROUTE', reason: `${route.callCenterId} takes calls on the phone, not in consoles: an inbound call cannot ring there` };
      return { ok: true, callCenterId: route.callCenterId, destination: 'LINK', agent: null, linkId: destination.linkId, reason: `link ${destination.linkId}: ${route.reason}` };
    }
    case 'AGENT':
      if (input.agentCenterId === null) return { ok: false, refusal: 'NO_ROUTE', reason: `agent key ${destination.keyId} is revoked or bound to no call center` };
      requested = input.agentCenterId;
      break;
    case 'CALL_CENTER':
      requested = destination.callCenterId;
      break;
  }
  let callCenterId: string;
  let chain: string[];
  try {
    ({ callCenterId, chain } = resolveRedirect(merchant, requested));
  } catch (e) {
    return { ok: false, refusal: 'NO_ROUTE', reason: (e as Error).message };
  }
  const center = merchant.callCenters[callCenterId];
  const via = chain.length > 1 ? ` (redirected: ${chain.join(' → ')})` : '';
  if (center.kind !== 'BROWSER') return { ok: false, refusal: 'NO_ROUTE', reason: `${callCenterId}${via} takes calls on the phone, not in consoles: an inbound call cannot ring there` };
  if (!isOpenAt(center, at)) return { ok: false, refusal: 'CLOSED', reason: `${callCenterId}${via}: closed` };
  const active = activeCalls[callCenterId] ?? 0;
  if (active >= center.capacity) return { ok: false, refusal: 'BUSY', reason: `${callCenterId}${via}: full (${active}/${center.capacity})` };
  const agent = destination.kind === 'AGENT' ? destination.keyId : null;
  return { ok: true, callCenterId, destination: destination.kind, agent, linkId: null, reason: `${callCenterId}${via} open, ${active}/${center.capacity} busy${agent ? `, rings for agent ${agent}` : ''}` };
};

const takesConsoleCalls = (merchant: ActiveMerchant, callCenterId: string): boolean => {
  try {
    return merchant.callCenters[resolveRedirect(merchant, callCenterId).callCenterId].kind === 'BROWSER';
  } catch {
    return false; // an unknown center or a redirect cycle takes nothing
  }
};

type Refusal = Extract<InboundRoute, { ok: false }>['refusal'];

/** The SIP status a caller hears for a refusal. */
export const SIP_STATUS_OF_REFUSAL = { NO_ROUTE: 404, CLOSED: 480, BUSY: 486 } as const satisfies Record<Refusal, number>;

/** How a refused call is recorded as ended (every center closed: nobody could answer). */
export const CAUSE_OF_REFUSAL = { NO_ROUTE: 'NO_ROUTE', CLOSED: 'NO_ANSWER', BUSY: 'BUSY' } as const satisfies Record<Refusal, TerminationCause>;
