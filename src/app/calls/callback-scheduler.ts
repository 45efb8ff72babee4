import { randomUUID } from 'node:crypto';
import type { Clock } from '../../ports/clock';
import type { CheckpointStore } from '../../ports/checkpoint';
import type { EventStore, StoredEvent } from '../../ports/event-store';
import { legIdOf, type DialRequest, type MediaGateway } from '../../ports/media';
import { callDecider } from '../../domain/call/call';
import type { CallbackCallPlaced, CallTerminated, TerminationCause } from '../../domain/call/events';
import { centerIdentityOf } from '../../domain/call/identity';
import { callbackDecider, callsBack, type AttemptOutcome } from '../../domain/callback/callback';
import { isOpenAt } from '../../domain/routing/routing';
import { DomainError } from '../../domain/shared/errors';
import { callbackStreamId, callStreamId } from '../../domain/shared/streams';
import type { CommandHandler, CommandMetadata } from '../command-handler';
import { follow, type StoreFollower } from '../follow';
import { newId } from '../ids';
import type { Capacity, HeldSlot } from './capacity';
import type { CallReader } from './reader';
import type { CallEnding } from './terminate';

/** The callbacks whose next try is due (the callbacks read model: src/projections/callbacks/queries.ts). */
export interface DueCallbacks {
  dueCallbacks(at: string, limit?: number): Promise<Array<{ id: string }>>;
  /**
   * The ATTEMPTING callbacks to a browser last updated (their page rung) at or before `before`, oldest
   * first: the ones whose ringing may be over. Each is decided from its stream (`ringsUntil`).
   */
  ringingBrowserCallbacks(before: string, limit?: number): Promise<Array<{ id: string }>>;
}

export interface CallbackSchedulerDeps {
  handler: CommandHandler;
  store: EventStore;
  reader: CallReader;
  capacity: Capacity;
  ending: CallEnding;
  media: MediaGateway;
  clock: Clock;
  due: DueCallbacks;
  options: { ringingTimeoutSeconds: number; maxCallDurationSeconds: number };
  /** A step that failed (the store away, a refusal): logged; the next tick or event tries again. */
  onError: (e: unknown, what: string) => void;
  tickMs?: number;
}

/** What one look at a due callback did. */
export type TryOutcome = 'PLACED' | 'WAITING' | 'SKIPPED';

/** The name of the shopper's leg of a PSTN center's try (its id: `legIdOf(callId, SHOPPER_LEG)`). */
export const SHOPPER_LEG = 'shopper';

/**
 * How a try's call ended, as the callback's outcome (ANSWERED is reported when the shopper's phone
 * answers, not here): nobody in the center answered (NO_AGENT: for a PSTN center, its number was busy,
 * did not answer or failed), or the shopper's phone leg's end: busy, no answer (or declined), anything
 * else FAILED (the agent hung up first, a trunk failure...).
 */
export const outcomeOfEnd = (answeredByAgent: boolean, cause: CallTerminated['data']['cause']): Exclude<AttemptOutcome, 'ANSWERED'> => {
  if (!answeredByAgent) return 'NO_AGENT';
  if (cause === 'BUSY') return 'BUSY';
  if (cause === 'NO_ANSWER' || cause === 'REJECTED') return 'NO_ANSWER';
  return 'FAILED';
};

/**
 * The callback scheduler (issue 25), the `callback-scheduler` cluster process: one instance runs it.
 *
 * **Due callbacks** come from the callbacks read model (PENDING, `next_attempt_at` ≤ now), polled
 * every second: the rows every instance already keeps, with the due time the decider computed. A
 * row may lag or be stale; that is harmless, because every decision is the callback's stream's
 * (StartCallbackAttempt with its expected version: a try not due, in progress or closed is refused).
 *
 * **A try** (agent first): the center open, its slot (and the merchant's) free and a gateway port for
 * the caller ID, then StartCallbackAttempt with a new call id, then PlaceCallbackCall on that call's
 * stream. A BROWSER center's try (media BROWSER: CallbackCallPlaced + CallRinging) rings in the
 * center's consoles with the origin click's screen pop. A PSTN center's try (media PSTN:
 * CallbackCallPlaced alone) dials the center's number from the seized port (the call's own leg,
 * caller ID the port's ANI, the origin click's X-Webdial identity): its ringing and answer are
 * the gateway's reports, like any dialled call's. No slot or no port: it waits for the next tick.
 *
 * **Then**, following the store from its lease's checkpoint: the agent answers (CallAnswered of a
 * CALLBACK call) → `reachShopper`: a PHONE target's number is dialled into the call's room from the
 * seized port, as the call's second leg `<callId>.shopper` (DialRequest.intoCallId; a PSTN center's
 * try has the center as its own leg, a BROWSER center's none); a BROWSER target rings the page that booked it
 * (RingBrowser → CallbackBrowserRung with its `ringsUntil`; answered by the widget's answerCallback,
 * and ended NO_ANSWER by the tick once `ringsUntil` has passed: `endUnansweredRing`). For a phone,
 * its leg's answer is reported by the media sink (`phoneAnswered` → ReportCallbackAttempt ANSWERED, the
 * callback DONE); the call ending with the try still open → ReportCallbackAttempt with the outcome
 * (`outcomeOfEnd`): the decider's retry policy makes the next try due 5 minutes later, or fails the
 * callback after the third. The call's end releases its slot and port as any call's. The shopper leg
 * ending ends the call (`shopperLegEnded`) and its room (the agent's console, or the center's phone).
 */
export class CallbackScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking: Promise<void> | null = null;
  private follower: StoreFollower | null = null;
  /** callId → its placement (a CALLBACK call's first event never changes). */
  private readonly placements = new Map<string, CallbackCallPlaced['data'] | null>();

  constructor(private readonly deps: CallbackSchedulerDeps) {}

  async start(checkpoints: CheckpointStore): Promise<{ stop(): Promise<void> }> {
    this.running = true;
    this.follower = await follow(this.deps.store, {
      name: 'callback-scheduler',
      scope: 'cluster',
      checkpoint: { from: 'saved', checkpoints },
      handle: (e) => this.react(e),
      onError: (e) => this.deps.onError(e, 'following the calls'),
    });
    this.timer = setInterval(() => void this.tick(), this.deps.tickMs ?? 1000);
    this.timer.unref();
    return { stop: () => this.stop() };
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    await this.follower?.stop();
  }

  /** One pass over the due callbacks (one pass at a time). */
  tick(): Promise<void> {
    if (!this.running || this.ticking) return this.ticking ?? Promise.resolve();
    this.ticking = (async () => {
      try {
        const now = this.deps.clock.now();
        for (const { id } of await this.deps.due.dueCallbacks(now.toISOString(), 20)) {
          if (!this.running) return;
          await this.tryOne(id).catch((e: unknown) => this.deps.onError(e, `placing a try of callback ${id}`));
        }
        const rungBefore = new Date(now.getTime() - this.deps.options.ringingTimeoutSeconds * 1000).toISOString();
        for (const { id } of await this.deps.due.ringingBrowserCallbacks(rungBefore, 20)) {
          if (!this.running) return;
          await this.endUnansweredRing(id).catch((e: unknown) => this.deps.onError(e, `ending the unanswered ring of callback ${id}`));
        }
      } catch (e) {
        this.deps.onError(e, 'reading the due callbacks');
      }
    })().finally(() => (this.ticking = null));
    return this.ticking;
  }

  /** Places a try of the callback when it is due and its center can take it now. */
  async tryOne(callbackId: string): Promise<TryOutcome> {
    const { handler, reader, capacity, clock } = this.deps;
    const now = clock.now();
    const { state: cb } = await handler.load(callbackDecider, callbackStreamId(callbackId));
    if (cb.status !== 'Pending' || Date.parse(cb.nextAttemptAt) > now.getTime()) return 'SKIPPED';
    const merchant = await reader.merchant(cb.merchantId);
    const center = merchant.callCenters[cb.callCenterId];
    if (!center || !callsBack(center) || !isOpenAt(center, now)) return 'WAITING';
    const callId = newId('c');
    const meta: CommandMetadata = { merchantId: cb.merchantId, correlationId: randomUUID(), causationId: null };
    const held: HeldSlot[] = [];
    const giveBack = () => Promise.all(held.splice(0).map((h) => capacity.freeSlot(h, callId, meta)));
    if (merchant.maxConcurrentCalls !== null) {
      const slot = await capacity.takeSlot('merchant', cb.merchantId, merchant.maxConcurrentCalls, callId, now, meta);
      if (slot === null) return 'WAITING';
      held.push({ scope: 'merchant', ownerId: cb.merchantId, slot });
    }
    const slot = await capacity.takeSlot('center', cb.callCenterId, center.capacity, callId, now, meta);
    if (slot === null) return (await giveBack(), 'WAITING');
    held.push({ scope: 'center', ownerId: cb.callCenterId, slot });
    const media = center.kind === 'PSTN' ? 'PSTN' : 'BROWSER';
    // A try dials from a port (its caller ID is what the phone sees): the center's number (PSTN) or
    // the shopper's phone; a browser center's try to the shopper's browser dials nothing.
    const dials = media === 'PSTN' || cb.target.kind === 'PHONE';
    const line = dials ? await capacity.seizePort(callId, cb.merchantId, center.region, now, meta) : null;
    if (dials && !line) return (await giveBack(), 'WAITING');
    const release = async () => {
      if (line) await capacity.releasePort(callId, line.gatewayId, line.port, meta);
      await giveBack();
    };
    let attempt: number;
    try {
      const r = await handler.handle(callbackDecider, callbackStreamId(callbackId), { type: 'StartCallbackAttempt', data: { callbackId, callId, center, at: now.toISOString() } }, meta);
      const started = r.events.find((e) => e.type === 'CallbackAttemptStarted');
      if (!started) throw new DomainError('CONFLICT', 'the try was started already');
      attempt = started.data.attempt;
    } catch (e) {
      await release();
      // Raced (another try, a cancel, not due any more): nothing to place.
      if (e instanceof DomainError && e.code === 'CONFLICT') return 'SKIPPED';
      throw e;
    }
    const origin = cb.originCallId === null ? [] : await this.deps.store.readStream(callStreamId(cb.originCallId));
    const downloaded = origin.find((e) => e.type === 'CallDownloaded')?.data as
      | { linkId: string; customerId: string | null; sessionId: string | null; pageUrl: string; referrer: string | null; context: unknown }
      | undefined;
    try {
      await handler.handle(
        callDecider,
        callStreamId(callId),
        {
          type: 'PlaceCallbackCall',
          data: {
            callId,
            merchantId: cb.merchantId,
            callbackId,
            attempt,
            callCenterId: cb.callCenterId,
            number: cb.target.kind === 'PHONE' ? cb.target.number : null,
            gatewayId: line?.gatewayId ?? null,
            port: line?.port ?? null,
            ani: line?.ani ?? null,
            originCallId: cb.originCallId,
            linkId: downloaded?.linkId ?? null,
            customerId: downloaded?.customerId ?? null,
            sessionId: downloaded?.sessionId ?? null,
            pageUrl: downloaded?.pageUrl ?? null,
            referrer: downloaded?.referrer ?? null,
            context: downloaded?.context ?? null,
            ratePlan: merchant.ratePlan,
            media,
            at: now.toISOString(),
          },
        },
        meta,
      );
    } catch (e) {
      // The try is started but no call rings: what it took goes back, and the try fails (retried by the policy).
      await release();
      await this.report(callbackId, attempt, 'FAILED', meta);
      throw e;
    }
    if (media === 'PSTN') {
      // The center's number, dialled as the call's own leg: the center's CRM finds the call by the
      // port's caller ID (the crm-context look-up by ANI) or by its X-Webdial-Call-Id header.
      const click = { linkId: downloaded?.linkId ?? null, customerId: downloaded?.customerId ?? null, sessionId: downloaded?.sessionId ?? null };
      await this.dialOrEnd(
        { ...this.dialOf(callId, cb.merchantId, center.phoneNumber, line!), identity: centerIdentityOf(click, center) },
        `dialling the center of callback ${callbackId}`,
        meta,
      );
    }
    return 'PLACED';
  }

  /** The shopper's phone answered a try's call (its second leg `.shopper`, through the media sink): the callback is DONE. */
  async phoneAnswered(callId: string, correlationId: string): Promise<void> {
    const placed = await this.placementOf(callId);
    if (!placed) return;
    await this.report(placed.callbackId, placed.attempt, 'ANSWERED', { merchantId: placed.merchantId, correlationId, causationId: null });
  }

  /**
   * What the follower reacts to: an agent answering a CALLBACK call (dial the shopper), the call's end
   * (the try's outcome), a callback cancelled while a try rings (its call ended).
   */
  private async react(e: StoredEvent): Promise<void> {
    if (e.type === 'CallbackCancelled') return this.endCancelledTry((e.data as { callbackId: string }).callbackId, e);
    if (e.type !== 'CallAnswered' && e.type !== 'CallTerminated') return;
    const callId = (e.data as { callId: string }).callId;
    const placed = await this.placementOf(callId);
    if (!placed) return;
    const meta: CommandMetadata = { merchantId: placed.merchantId, correlationId: e.correlationId, causationId: e.eventId };
    if (e.type === 'CallAnswered') return this.reachShopper(placed, meta);
    const { state: cb } = await this.deps.handler.load(callbackDecider, callbackStreamId(placed.callbackId));
    if (cb.status !== 'Attempting' || cb.current.callId !== callId) return; // answered (DONE), cancelled, or a later try runs
    const { state: call } = await this.deps.handler.load(callDecider, callStreamId(callId));
    const answeredByAgent = call.status === 'Terminated' && call.answeredAt !== null;
    await this.report(placed.callbackId, placed.attempt, outcomeOfEnd(answeredByAgent, (e.data as CallTerminated['data']).cause), meta);
  }

  /**
   * A callback cancelled while its last try was open (started, no outcome yet): that try's call ends
   * (HANGUP by SYSTEM) and its media with it; a try already answered (DONE) cannot be cancelled.
   */
  private async endCancelledTry(callbackId: string, e: StoredEvent): Promise<void> {
    const events = await this.deps.store.readStream(callbackStreamId(callbackId));
    const i = events.map((x) => x.type).lastIndexOf('CallbackAttemptStarted');
    if (i < 0 || events.slice(i + 1).some((x) => x.type === 'CallbackAttemptFailed' || x.type === 'CallbackCompleted')) return;
    const callId = (events[i].data as { callId: string }).callId;
    const { state: call } = await this.deps.handler.load(callDecider, callStreamId(callId));
    if (call.status === 'Absent' || call.status === 'Terminated') return;
    await this.deps.ending.end(callId, { cause: 'HANGUP', by: 'SYSTEM', sipStatus: null, gatewayEventId: null, reason: null }, { correlationId: e.correlationId, causationId: e.eventId });
    await this.deps.media.hangUp(callId);
  }

  /**
   * The try's call was answered on the center's side (it depends on nothing else): the shopper is
   * reached. A PHONE target's number is dialled into the call's room, from the seized port (caller
   * ID its ANI; for a PSTN center the same port as the center's leg: see docs), as the call's second
   * leg `<callId>.shopper`, whose reports reach `phoneAnswered` / `shopperLegEnded`. A BROWSER
   * target's page is rung (`ringBrowser`).
   */
  private async reachShopper(placed: CallbackCallPlaced['data'], meta: CommandMetadata): Promise<void> {
    const { state: call } = await this.deps.handler.load(callDecider, callStreamId(placed.callId));
    if (call.status !== 'Answered') return; // ended meanwhile (or a replay after the end)
    const { number, gatewayId, port, ani } = placed;
    if (number === null || gatewayId === null || port === null || ani === null) return this.ringBrowser(placed, meta);
    // Always the call's second leg, whatever the center: its own leg (if any) is the center's.
    const request: DialRequest = { ...this.dialOf(legIdOf(placed.callId, SHOPPER_LEG), placed.merchantId, number, { gatewayId, port, ani }), intoCallId: placed.callId };
    // No `identity`: the X-Webdial headers tell a call center who is calling; the shopper's carrier
    // is no business of the merchant's link, customer or session ids.
    await this.dialOrEnd(request, `dialling the shopper of callback ${placed.callbackId}`, meta);
  }

  /**
   * BROWSER: the shopper's page is told (CallbackBrowserRung, seen by its customerSession) and rings
   * until `ringsUntil` (the ringing timeout); the widget's answerCallback reports the try ANSWERED.
   * The deadline is in the stream: the tick (`endUnansweredRing`) ends it on whichever instance runs this.
   */
  private async ringBrowser(placed: CallbackCallPlaced['data'], meta: CommandMetadata): Promise<void> {
    const at = this.deps.clock.now().toISOString();
    await this.deps.handler.handle(callbackDecider, callbackStreamId(placed.callbackId), { type: 'RingBrowser', data: { callbackId: placed.callbackId, attempt: placed.attempt, ringingTimeoutSeconds: this.deps.options.ringingTimeoutSeconds, at } }, meta);
  }

  /**
   * A browser that did not answer in time (the page closed, the shopper away): the try's call ends
   * NO_ANSWER by SYSTEM, and its media; the follower then reports the try NO_ANSWER (the retry policy).
   */
  async endUnansweredRing(callbackId: string): Promise<void> {
    const now = this.deps.clock.now();
    const { state: cb } = await this.deps.handler.load(callbackDecider, callbackStreamId(callbackId));
    if (cb.status !== 'Attempting' || cb.current.ringsUntil === null || Date.parse(cb.current.ringsUntil) >= now.getTime()) return;
    const { callId } = cb.current;
    const { state: call } = await this.deps.handler.load(callDecider, callStreamId(callId));
    if (call.status === 'Absent') return;
    if (call.status !== 'Terminated')
      await this.deps.ending.end(callId, { cause: 'NO_ANSWER', by: 'SYSTEM', sipStatus: null, gatewayEventId: null, reason: 'CALLBACK_BROWSER_NOT_ANSWERED' }, { correlationId: randomUUID(), causationId: null });
    await this.deps.media.hangUp(callId);
  }

  /**
   * The shopper's leg ended. Before its answer (busy, no answer, a failure) the call ends with that
   * cause, which becomes the try's outcome (`outcomeOfEnd`); after it, the shopper hung up: the call
   * ends HANGUP. Either way by the CALLER (the shopper is the callback's caller), and the call's room
   * goes (a BYE to a PSTN center's phone; a browser center's console sees the call end).
   */
  async shopperLegEnded(callId: string, cause: TerminationCause, sipStatus: number | null, reason: string | null, correlationId: string): Promise<void> {
    const placed = await this.placementOf(callId);
    if (!placed) return;
    const meta = { correlationId, causationId: null };
    await this.deps.ending.end(callId, { cause, by: 'CALLER', sipStatus, gatewayEventId: null, reason }, meta);
    await this.deps.media.hangUp(callId);
  }

  /** What every dial of a try carries: its line (the seized port) and the call's timeouts. */
  private dialOf(callId: string, merchantId: string, destination: string, line: { gatewayId: string; port: number; ani: string }): DialRequest {
    const { ringingTimeoutSeconds, maxCallDurationSeconds } = this.deps.options;
    return { callId, merchantId, destination, ani: line.ani, gatewayId: line.gatewayId, port: line.port, ringingTimeoutSeconds, maxDurationSeconds: maxCallDurationSeconds };
  }

  /** Dials; a media that cannot even take the request ends the try's call FAILED (the follower reports the try) and hangs up what it has. */
  private async dialOrEnd(request: DialRequest, what: string, meta: Omit<CommandMetadata, 'merchantId'>): Promise<void> {
    const callId = request.intoCallId ?? request.callId;
    try {
      await this.deps.media.dial(request);
    } catch (e) {
      this.deps.onError(e, what);
      await this.deps.ending.end(callId, { cause: 'FAILED', by: 'SYSTEM', sipStatus: null, gatewayEventId: null, reason: 'MEDIA_SERVER_UNAVAILABLE' }, meta);
      await this.deps.media.hangUp(callId);
    }
  }

  private async report(callbackId: string, attempt: number, outcome: AttemptOutcome, meta: CommandMetadata): Promise<void> {
    await this.deps.handler.handle(callbackDecider, callbackStreamId(callbackId), { type: 'ReportCallbackAttempt', data: { callbackId, attempt, outcome, at: this.deps.clock.now().toISOString() } }, meta);
  }

  /** The CallbackCallPlaced of a call; null for a call that is not a callback's try. */
  private async placementOf(callId: string): Promise<CallbackCallPlaced['data'] | null> {
    if (this.placements.has(callId)) return this.placements.get(callId)!;
    const [first] = await this.deps.store.readStream(callStreamId(callId));
    const placed = first?.type === 'CallbackCallPlaced' ? (first.data as CallbackCallPlaced['data']) : null;
    if (first) {
      if (this.placements.size > 10_000) this.placements.delete(this.placements.keys().next().value!);
      this.placements.set(callId, placed);
    }
    return placed;
  }
}
