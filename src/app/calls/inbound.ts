import type { Clock } from '../../ports/clock';
import type { InboundArrival, InboundCallSink, InboundDecision } from '../../ports/media';
import { callDecider, type CallDeciderState } from '../../domain/call/call';
import type { ReceiveInboundCall } from '../../domain/call/commands';
import { menuChoice, type DirectDestination } from '../../domain/did/did';
import { apiKeyDecider } from '../../domain/merchant/api-key-decider';
import type { ActiveMerchant } from '../../domain/merchant/merchant';
import { CAUSE_OF_REFUSAL, routeInbound, SIP_STATUS_OF_REFUSAL, type InboundRoute } from '../../domain/routing/inbound';
import { apiKeyStreamId, callStreamId } from '../../domain/shared/streams';
import type { CommandHandler, CommandMetadata } from '../command-handler';
import type { DidService } from '../did-service';
import type { Capacity, HeldSlot } from './capacity';
import type { CallReader } from './reader';

/**
 * What became of an arrival, for the metric `webdial_inbound_calls_total{outcome}`: RINGING, or why
 * it was refused (UNKNOWN_DID: the media server took a number nobody holds, e.g. released a moment
 * ago while its trunk still listed it; NO_ROUTE; CLOSED; BUSY; REPEAT: the same arrival reported again).
 */
export type InboundOutcome = 'RINGING' | 'UNKNOWN_DID' | 'NO_ROUTE' | 'CLOSED' | 'BUSY' | 'REPEAT' | 'MENU' | 'MENU_RETRY' | 'MENU_NO_MATCH';

const REFUSALS = Object.keys(CAUSE_OF_REFUSAL) as Array<keyof typeof CAUSE_OF_REFUSAL>;

/** How many IDs a caller may key at a main number's prompt before the call ends. */
export const MENU_TRIES = 3;

/**
 * Phone calls to the merchants' numbers (issue 23), the application side of the media adapter's
 * InboundCallSink: number → destination (the DID's stream) → route (pure: ../../domain/routing/inbound.ts)
 * → the merchant's and the center's slots → `ReceiveInboundCall` on the call's stream, after which
 * the call rings in the destination's consoles (screen pops fire on its CallRinging). The caller
 * hears ringing until an agent answers in the console, whose published microphone makes the media
 * server answer the phone (src/media/livekit/INBOUND.md).
 *
 * A refusal is recorded too, when the number is ours (the merchant sees its missed calls): the
 * arrival, then its end with the cause the caller hears (BUSY 486; NO_ROUTE 404; CLOSED is recorded
 * as NO_ANSWER with 480). A number nobody holds records nothing (there is no merchant to record it
 * for) and is only counted.
 *
 * Idempotent per call id: the same arrival again (two webhooks, two instances) decides from the
 * call's stream and takes nothing.
 */
export class InboundCalls implements InboundCallSink {
  constructor(
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly dids: DidService,
    private readonly capacity: Capacity,
    private readonly clock: Clock,
    private readonly onOutcome: (outcome: InboundOutcome, arrival: InboundArrival, reason: string) => void = () => undefined,
  ) {}

  async arrived(arrival: InboundArrival): Promise<InboundDecision> {
    const known = (await this.handler.load(callDecider, callStreamId(arrival.callId))).state;
    if (known.status !== 'Absent') return this.repeat(arrival, known);
    const number = await this.dids.lookUp(arrival.did);
    if (number === null) return this.refuse(arrival, 'UNKNOWN_DID', 404, `${arrival.did} is not assigned to anyone`);
    if (number.destination.kind === 'MENU') {
      // A main number: the media answers with the prompt and comes back with the ID keyed (keyed()).
      this.onOutcome('MENU', arrival, `${number.destination.entries.length} entries`);
      return { kind: 'MENU', triesLeft: MENU_TRIES };
    }
    return this.ring(arrival, number.merchantId, number.destination, null);
  }

  /**
   * An ID keyed at a main number's prompt (`tries`: every try so far, the last one now): the menu's
   * entry rings as a direct number would, with the tries recorded on the call. A wrong ID (none of the
   * menu's, or more than 12 digits) gets the prompt again, up to MENU_TRIES tries; then the call ends
   * (nothing recorded: no destination was chosen; counted MENU_NO_MATCH).
   */
  async keyed(arrival: InboundArrival, tries: readonly string[]): Promise<InboundDecision> {
    const known = (await this.handler.load(callDecider, callStreamId(arrival.callId))).state;
    if (known.status !== 'Absent') return this.repeat(arrival, known);
    const keyed = tries.slice(-MENU_TRIES).map((t) => String(t).slice(0, 32));
    const number = await this.dids.lookUp(arrival.did);
    if (number === null) return this.refuse(arrival, 'UNKNOWN_DID', 404, `${arrival.did} is not assigned to anyone`);
    // The number was made direct while the caller listened to the prompt: it rings there.
    if (number.destination.kind !== 'MENU') return this.ring(arrival, number.merchantId, number.destination, keyed);
    const last = keyed[keyed.length - 1] ?? '';
    const choice = menuChoice(number.destination.entries, last);
    if (choice.ok) return this.ring(arrival, number.merchantId, choice.entry.destination, keyed);
    if (keyed.length < MENU_TRIES) {
      this.onOutcome('MENU_RETRY', arrival, `${choice.reason}: "${last}"`);
      return { kind: 'MENU', triesLeft: MENU_TRIES - keyed.length };
    }
    return this.refuse(arrival, 'MENU_NO_MATCH', 404, `${MENU_TRIES} tries, none a menu ID (${choice.reason} last)`);
  }

  /** Routes a direct destination, takes the slots and records the call: it rings, or it is refused. */
  private async ring(arrival: InboundArrival, merchantId: string, destination: DirectDestination, keyed: string[] | null): Promise<InboundDecision> {
    const { callId } = arrival;
    const meta: CommandMetadata = { merchantId, correlationId: `inbound:${callId}`, causationId: null };
    const now = this.clock.now();
    const merchant = await this.reader.merchant(merchantId);
    const agentCenterId = destination.kind === 'AGENT' ? await this.agentCenter(destination.keyId, merchantId) : null;

    // The slots, as for a click: a consistent count across instances; a refusal gives them back.
    const held: HeldSlot[] = [];
    const giveBack = () => Promise.all(held.map((h) => this.capacity.freeSlot(h, callId, meta)));
    const limit = merchant.maxConcurrentCalls;
    const merchantSlot = limit === null ? null : await this.capacity.takeSlot('merchant', merchantId, limit, callId, now, meta);
    let route: InboundRoute;
    if (limit !== null && merchantSlot === null) route = { ok: false, refusal: 'BUSY', reason: `the merchant has ${limit} concurrent calls already` };
    else {
      if (merchantSlot !== null) held.push({ scope: 'merchant', ownerId: merchantId, slot: merchantSlot });
      const routed = await this.capacity.routeWithSlot(merchant.callCenters, merchantId, callId, now, meta, (activeCalls) =>
        routeInbound({ merchant, destination, agentCenterId, at: now, activeCalls }),
      );
      route = routed.route;
      if (routed.slot) held.push(routed.slot);
    }

    const received = (callCenterId: string, r: Extract<InboundRoute, { ok: true }> | null, refused: ReceiveInboundCall['data']['refused']) =>
      this.handler.handle(
        callDecider,
        callStreamId(callId),
        {
          type: 'ReceiveInboundCall',
          data: {
            callId,
            merchantId,
            did: arrival.did,
            ani: arrival.caller,
            destination: r?.destination ?? destination.kind,
            callCenterId,
            agent: r?.agent ?? null,
            linkId: r?.linkId ?? (destination.kind === 'LINK' ? destination.linkId : null),
            sipCallId: arrival.sipCallId,
            keyed,
            ratePlan: merchant.ratePlan,
            at: now.toISOString(),
            refused,
          },
        },
        meta,
      );

    if (!route.ok) {
      await giveBack();
      // Recorded against the center the number names (for an AGENT or LINK number: the first we know).
      const centerId = refusedCenter(destination, agentCenterId, merchant);
      const sipStatus = SIP_STATUS_OF_REFUSAL[route.refusal];
      if (centerId !== null) await received(centerId, null, { cause: CAUSE_OF_REFUSAL[route.refusal], sipStatus, reason: route.refusal });
      return this.refuse(arrival, route.refusal, sipStatus, route.reason);
    }
    try {
      await received(route.callCenterId, route, null);
    } catch (e) {
      await giveBack();
      throw e;
    }
    this.onOutcome('RINGING', arrival, route.reason);
    return { kind: 'RING' };
  }

  private repeat(arrival: InboundArrival, state: Exclude<CallDeciderState, { status: 'Absent' }>): InboundDecision {
    this.onOutcome('REPEAT', arrival, state.status);
    if (state.status !== 'Terminated') return { kind: 'RING' };
    const refusal = REFUSALS.find((r) => CAUSE_OF_REFUSAL[r] === state.cause) ?? 'CLOSED';
    return { kind: 'REFUSE', sipStatus: SIP_STATUS_OF_REFUSAL[refusal], reason: `the call has ended (${state.cause})` };
  }

  private refuse(arrival: InboundArrival, outcome: InboundOutcome, sipStatus: number, reason: string): InboundDecision {
    this.onOutcome(outcome, arrival, reason);
    return { kind: 'REFUSE', sipStatus, reason };
  }

  /** The AGENT key's center when the key is active and the merchant's; null otherwise. */
  private async agentCenter(keyId: string, merchantId: string): Promise<string | null> {
    const { state } = await this.handler.load(apiKeyDecider, apiKeyStreamId(keyId));
    return state.status === 'Active' && state.merchantId === merchantId ? state.callCenterId : null;
  }
}

/** The center a refused call is recorded against: the number's center, the agent's, or the link's first; null when none exists. */
const refusedCenter = (destination: DirectDestination, agentCenterId: string | null, merchant: ActiveMerchant): string | null => {
  const id = destination.kind === 'CALL_CENTER' ? destination.callCenterId : destination.kind === 'AGENT' ? agentCenterId : (merchant.links[destination.linkId]?.callCenterIds[0] ?? null);
  return id !== null && id in merchant.callCenters ? id : null;
};
