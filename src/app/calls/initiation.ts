import type { Clock } from '../../ports/clock';
import type { MediaGateway } from '../../ports/media';
import { callDecider, type CallDeciderState } from '../../domain/call/call';
import { centerIdentityOf } from '../../domain/call/identity';
import type { ActiveMerchant } from '../../domain/merchant/merchant';
import { queueCenterOf, resolveRedirect, routeCall, type RouteDecision } from '../../domain/routing/routing';
import { positionOf, queueDecider, type QueueState } from '../../domain/queue/queue';
import { estimateWait } from '../../domain/queue/wait-estimate';
import { DomainError, notFound } from '../../domain/shared/errors';
import { callStreamId, queueStreamId } from '../../domain/shared/streams';
import type { CallView } from '../../projections/call-history/view';
import type { CommandHandler, CommandMetadata } from '../command-handler';
import type { CallTokens } from '../call-token';
import type { Capacity, HeldSlot, Line } from './capacity';
import type { CallReader } from './reader';
import { terminateCall } from './terminate';

export interface InitiationOptions {
  ringingTimeoutSeconds: number;
  maxCallDurationSeconds: number;
}

/** The line of a call to a browser center: no gateway, port or caller ID. */
const NO_LINE = { gatewayId: null, port: null, ani: null } as const;

/**
 * What the widget is told when a call cannot be placed. NO_ROUTE and NO_PORT are raised after the
 * call was recorded as terminated with that cause; LIMIT_EXCEEDED leaves it DOWNLOADED, so that it
 * can be placed again once the merchant has a free slot.
 */
const refused = (code: 'NO_ROUTE' | 'NO_PORT' | 'LIMIT_EXCEEDED', message: string) => new DomainError(code, message);

/** Where a queued call waits (issue 25): its center, its 1-based position, about how long, and until when at most. */
export interface CallQueueView {
  callCenterId: string;
  position: number;
  estimatedWaitSeconds: number;
  timesOutAt: string;
}

/** The call as initiateCall answers it: with its place in a queue when it waits (null otherwise). */
export type InitiatedCall = CallView & { queue: CallQueueView | null };

/**
 * What initiation asks of the queues besides their streams (./queue.ts's QueueBoard, this instance's
 * fold): hints, never decisions (the queue's stream decides).
 */
export interface QueueHints {
  /** Calls wait in this center's queue: a new call of a queueing link does not take a slot ahead of them. */
  hasWaiting(callCenterId: string): boolean;
  /** The center's recent handle times (ms, newest last) for the estimated wait. */
  handleTimes(callCenterId: string): readonly number[];
}

const NO_HINTS: QueueHints = { hasWaiting: () => false, handleTimes: () => [] };

type Downloaded = Extract<CallDeciderState, { status: 'Downloaded' }>;

/**
 * Everything the steps after routing need (one call, its merchant, the chosen center and the slots
 * held for it): what `place` takes, from an initiation or from the queue's dispatcher.
 */
export interface Placement {
  call: Downloaded;
  merchant: ActiveMerchant;
  route: Extract<RouteDecision, { ok: true }>;
  /** The slots taken for the call: given back when a step fails. */
  held: HeldSlot[];
  now: Date;
  meta: CommandMetadata;
}

/**
 * The widget's initiateCall: route → slots → port → initiate → dial, the steps that span streams.
 * Each step appends through the generic command handler to its own stream; when a later step fails,
 * what the earlier ones took is given back (the compensation): the merchant's and the center's slots,
 * and the port. After the initiation, whatever ends the call releases them (./terminate.ts, ./effects.ts).
 *
 * Issue 25: when every open center of the link is full and the link has a queue policy, the call
 * joins the queue of the center it would have used (`queueCenterOf`: open now, nearest the caller,
 * first in the link's order), gives the merchant's slot back and stays DOWNLOADED; the queue's
 * dispatcher (./queue.ts) places it through `place` when a slot frees there.
 */
export class CallInitiation {
  constructor(
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly capacity: Capacity,
    private readonly media: MediaGateway,
    private readonly tokens: CallTokens,
    private readonly clock: Clock,
    private readonly options: InitiationOptions,
    private readonly queues: QueueHints = NO_HINTS,
  ) {}

  async initiate(callToken: string, correlationId: string): Promise<InitiatedCall> {
    const now = this.clock.now();
    const { callId, merchantId } = this.tokens.verify(callToken, now);
    const meta: CommandMetadata = { merchantId, correlationId, causationId: null };
    const { state: call } = await this.handler.load(callDecider, callStreamId(callId));
    if (call.status === 'Absent') throw notFound('call', callId);
    if (call.status !== 'Downloaded') throw new DomainError('CONFLICT', `call ${callId} is ${call.status.toUpperCase()}, not DOWNLOADED`);
    const merchant = await this.reader.merchant(merchantId);
    const policy = merchant.links[call.linkId]?.queuePolicy ?? null;

    // A call that waits already answers where it waits (initiateCall again: no second join).
    const waiting = policy ? await this.waitingPlace(merchant, call) : null;
    if (waiting) return waiting.dispatched ? { ...(await this.reader.view(callId)), queue: null } : { ...(await this.reader.view(callId)), queue: waiting.queue };

    // The merchant's limit and the center's capacity are held as slots (src/domain/capacity/slot.ts):
    // a consistent count, whatever the number of processes; a failure below gives them back.
    const held: HeldSlot[] = [];
    const giveBack = () => Promise.all(held.splice(0).map((h) => this.capacity.freeSlot(h, callId, meta)));
    if (merchant.maxConcurrentCalls !== null) {
      const slot = await this.capacity.takeSlot('merchant', merchantId, merchant.maxConcurrentCalls, callId, now, meta);
      if (slot === null) throw refused('LIMIT_EXCEEDED', `merchant has ${merchant.maxConcurrentCalls} concurrent calls already`);
      held.push({ scope: 'merchant', ownerId: merchantId, slot });
    }

    // Route, and take the chosen center's slot (a center found full is routed around). For a link
    // that queues, a center with calls waiting counts as full: a new call does not overtake them.
    const { route, slot } = await this.capacity.routeWithSlot(merchant.callCenters, merchantId, callId, now, meta, (activeCalls) => {
      if (policy) for (const id of Object.keys(merchant.callCenters)) if (this.queues.hasWaiting(id)) activeCalls[id] = merchant.callCenters[id].capacity;
      return routeCall({ merchant, linkId: call.linkId, at: now, callerRegion: call.callerRegion, activeCalls });
    });
    if (slot) held.push(slot);
    if (!route.ok) {
      await giveBack();
      // Every open center is full (not closed): the call waits, if its link lets it.
      const queueCenter = policy ? queueCenterOf({ merchant, linkId: call.linkId, at: now, callerRegion: call.callerRegion }) : null;
      if (policy && queueCenter) return this.join(call, merchant, queueCenter, policy, now, meta);
      await terminateCall(this.handler, this.clock, callId, { cause: 'NO_ROUTE', by: 'SYSTEM', sipStatus: null, gatewayEventId: null }, meta);
      throw refused('NO_ROUTE', `no call center can take the call: ${route.reason}`);
    }
    const version = await this.place({ call, merchant, route, held, now, meta });
    return { ...(await this.reader.view(callId, version)), queue: null };
  }

  /**
   * The steps after routing, shared by an initiation and the queue's dispatcher: seize a port (not
   * for a BROWSER center), InitiateCall, dial. When a step fails, the port and `held` are given back;
   * NO_PORT ends the call. Returns the call stream's version after InitiateCall.
   */
  async place(p: Placement): Promise<number> {
    const { call, merchant, route, held, now, meta } = p;
    const { callId, merchantId } = call;
    const giveBack = () => Promise.all(held.splice(0).map((h) => this.capacity.freeSlot(h, callId, meta)));
    const center = merchant.callCenters[route.callCenterId];
    // A browser center has no phone line: no port to seize and nothing to dial (the call rings in its consoles).
    const seized: Line | typeof NO_LINE | null = route.media === 'BROWSER' ? NO_LINE : await this.capacity.seizePort(callId, merchantId, center.region, now, meta);
    if (!seized) {
      await giveBack();
      await terminateCall(this.handler, this.clock, callId, { cause: 'NO_PORT', by: 'SYSTEM', sipStatus: null, gatewayEventId: null }, meta);
      throw refused('NO_PORT', 'every gateway port is busy');
    }
    let initiated: number;
    try {
      const result = await this.handler.handle(
        callDecider,
        callStreamId(callId),
        {
          type: 'InitiateCall',
          data: {
            callId,
            callCenterId: route.callCenterId,
            media: route.media,
            destination: route.destination,
            gatewayId: seized.gatewayId,
            port: seized.port,
            ani: seized.ani,
            routing: { rule: route.rule, requestedCallCenterId: route.requestedCallCenterId, reason: route.reason },
            ratePlan: merchant.ratePlan,
            at: now.toISOString(),
          },
        },
        meta,
      );
      initiated = result.version;
    } catch (e) {
      // E.g. the call was ended meanwhile (abandoned): give back what this initiation took.
      if (seized.gatewayId !== null) await this.capacity.releasePort(callId, seized.gatewayId, seized.port, meta);
      await giveBack();
      throw e;
    }
    if (seized.gatewayId !== null)
      await this.media.dial({
        callId,
        merchantId,
        destination: route.destination,
        ani: seized.ani,
        gatewayId: seized.gatewayId,
        port: seized.port,
        ringingTimeoutSeconds: this.options.ringingTimeoutSeconds,
        maxDurationSeconds: this.options.maxCallDurationSeconds,
        identity: centerIdentityOf(call, center),
      });
    return initiated;
  }

  /** The estimated wait at `position` of the center's queue, from its recent handle times. */
  private estimate(merchant: ActiveMerchant, callCenterId: string, position: number): number {
    return estimateWait(position, this.queues.handleTimes(callCenterId), merchant.callCenters[callCenterId]?.capacity ?? 1).seconds;
  }

  /** JoinQueue on the center's stream: the call's place, or the queue's refusal (QUEUE_FULL: LIMIT_EXCEEDED, the call stays DOWNLOADED). */
  private async join(call: Downloaded, merchant: ActiveMerchant, callCenterId: string, policy: NonNullable<ActiveMerchant['links'][string]['queuePolicy']>, now: Date, meta: CommandMetadata): Promise<InitiatedCall> {
    const { state } = await this.handler.handle(
      queueDecider,
      queueStreamId(callCenterId),
      { type: 'JoinQueue', data: { callCenterId, merchantId: merchant.merchantId, callId: call.callId, linkId: call.linkId, policy, at: now.toISOString() } },
      meta,
    );
    const queue = this.queueView(merchant, callCenterId, state, call.callId);
    return { ...(await this.reader.view(call.callId)), queue };
  }

  /**
   * Where the call waits now, read from the queues' streams of the link's centers (not a fold that may
   * lag: a second initiateCall right after the first sees its join); `dispatched` when a slot took it
   * and its InitiateCall is on its way. Null when it waits nowhere.
   */
  private async waitingPlace(merchant: ActiveMerchant, call: Downloaded): Promise<{ queue: CallQueueView | null; dispatched: boolean } | null> {
    const centers = new Set<string>();
    for (const id of merchant.links[call.linkId]?.callCenterIds ?? []) {
      try {
        centers.add(resolveRedirect(merchant, id).callCenterId);
      } catch {
        // An unknown or cyclic center waits nobody.
      }
    }
    for (const callCenterId of centers) {
      const { state } = await this.handler.load(queueDecider, queueStreamId(callCenterId));
      const queue = this.queueView(merchant, callCenterId, state, call.callId);
      if (queue) return { queue, dispatched: false };
      if (state.left.some((l) => l.callId === call.callId && l.outcome === 'DISPATCHED')) return { queue: null, dispatched: true };
    }
    return null;
  }

  private queueView(merchant: ActiveMerchant, callCenterId: string, state: QueueState, callId: string): CallQueueView | null {
    const position = positionOf(state, callId);
    if (position === null) return null;
    const entry = state.waiting[position - 1];
    return { callCenterId, position, estimatedWaitSeconds: this.estimate(merchant, callCenterId, position), timesOutAt: entry.timesOutAt };
  }
}
