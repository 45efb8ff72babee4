import { randomUUID } from 'node:crypto';
import type { EventStore, StoredEvent } from '../../ports/event-store';
import type { Clock } from '../../ports/clock';
import type { MediaGateway } from '../../ports/media';
import { callDecider } from '../../domain/call/call';
import { CALL_EVENT_TYPES, type CallEvent } from '../../domain/call/events';
import type { SlotFreed } from '../../domain/capacity/slot';
import { isOpenAt, routeCall } from '../../domain/routing/routing';
import { callsBack } from '../../domain/callback/callback';
import { dueTimeOuts, headOf, initialQueueState, QUEUE_EVENT_TYPES, queueDecider, type FallThrough, type QueueEntry, type QueueEvent, type QueueState } from '../../domain/queue/queue';
import { handleTimesFold, type HandleTimes } from '../../domain/queue/wait-estimate';
import { DomainError } from '../../domain/shared/errors';
import { callStreamId, queueStreamId } from '../../domain/shared/streams';
import type { CommandHandler, CommandMetadata } from '../command-handler';
import { follow, type StoreFollower } from '../follow';
import type { Capacity, HeldSlot } from './capacity';
import type { CallInitiation, Placement, QueueHints } from './initiation';
import type { CallReader } from './reader';
import type { CallEnding } from './terminate';

const QUEUE_TYPES = new Set<string>(QUEUE_EVENT_TYPES);
const CALL_TYPES = new Set<string>(CALL_EVENT_TYPES);
/** Stale dispatches in a row after which a drain stops (see QueueDispatcher.drain). */
const STALE_TRIES = 5;

/** What one try for the head did: served it (or it left), found no free slot, or was refused as stale. */
type Outcome = 'SERVED' | 'NO_SLOT' | 'STALE';

interface BoardSnapshot {
  queues: Array<[string, QueueState]>;
  handleTimes: HandleTimes;
  unsettled: Array<[string, Unsettled]>;
}

/** A call that left its queue to be placed (DISPATCHED) or ended (TIMED_OUT), until the call's stream shows it. */
export interface Unsettled {
  callCenterId: string;
  outcome: 'DISPATCHED' | 'TIMED_OUT';
  at: string;
}

/**
 * How long a call that left its queue may stay DOWNLOADED before the dispatcher ends it: the steps
 * after a DispatchCall or a TimeOutWait take milliseconds, unless the process doing them died.
 */
export const UNSETTLED_GRACE_MS = 30_000;

/** What the dispatcher is told as the board folds (while it runs). */
interface BoardListener {
  joined(callCenterId: string): void;
  slotFreed(freed: SlotFreed['data']): void;
  /** A call ended while it waited in `callCenterId`'s queue. */
  endedWaiting(callId: string, callCenterId: string, e: StoredEvent): void;
}

/**
 * The queues as this instance knows them (issue 25): every center's queue folded with the queue
 * decider's own `evolve`, and each center's recent handle times (`handleTimesFold`: answered →
 * terminated of its calls; a window of 20 per center, and the calls in progress: no growth with
 * history). Follows the store from its snapshot and the tail, like the call supervisor: every
 * instance folds it (initiation asks it for hints and estimates), and the instance that runs the
 * dispatcher (the `queue-dispatcher` cluster job) is told what to react to.
 *
 * Hints only: a decision reads the queue's stream (the command handler), never this fold.
 */
export class QueueBoard implements QueueHints {
  private readonly queues = new Map<string, QueueState>();
  /** callId → the center whose queue it waits in. */
  private readonly waiting = new Map<string, string>();
  /** callId → how it left its queue, until its CallInitiated or CallTerminated is folded. */
  private readonly unsettledCalls = new Map<string, Unsettled>();
  private handleTimesState: HandleTimes = handleTimesFold.initialState;
  private follower: StoreFollower | null = null;
  private listener: BoardListener | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly onStoreError: (e: unknown) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    this.follower = await follow<BoardSnapshot>(this.store, {
      name: 'queue-board',
      label: 'queue board',
      scope: 'instance',
      checkpoint: {
        from: 'snapshot',
        state: {
          kind: 'queue-board@2',
          save: () => ({ queues: [...this.queues], handleTimes: this.handleTimesState, unsettled: [...this.unsettledCalls] }),
          restore: (s) => {
            for (const [id, q] of s.queues) this.setQueue(id, q);
            this.handleTimesState = s.handleTimes;
            for (const [callId, u] of s.unsettled) this.unsettledCalls.set(callId, u);
          },
        },
      },
      handle: (e) => this.apply(e),
      onError: this.onStoreError,
    });
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }

  /** Resolves once the board has folded `position`. */
  waitFor(position: string): Promise<void> {
    if (!this.follower) throw new Error('queue board not started');
    return this.follower.waitFor(position);
  }

  listen(listener: BoardListener | null): void {
    this.listener = listener;
  }

  hasWaiting(callCenterId: string): boolean {
    return (this.queues.get(callCenterId)?.waiting.length ?? 0) > 0;
  }

  handleTimes(callCenterId: string): readonly number[] {
    return this.handleTimesState.byCenter[callCenterId] ?? [];
  }

  /** The center a call waits in, or null. */
  waitingIn(callId: string): string | null {
    return this.waiting.get(callId) ?? null;
  }

  /** A center's queue as folded here (null: none joined it yet). */
  queueOf(callCenterId: string): QueueState | null {
    return this.queues.get(callCenterId) ?? null;
  }

  /** Where a call waits: its center, its 1-based position and its entry; null when it does not wait. */
  placeOf(callId: string): { callCenterId: string; merchantId: string | null; position: number; entry: QueueEntry } | null {
    const callCenterId = this.waiting.get(callId);
    const q = callCenterId === undefined ? undefined : this.queues.get(callCenterId);
    if (!callCenterId || !q) return null;
    const i = q.waiting.findIndex((e) => e.callId === callId);
    return i < 0 ? null : { callCenterId, merchantId: q.merchantId, position: i + 1, entry: q.waiting[i] };
  }

  /** The calls that left a queue at or before `before` and whose stream shows neither an initiation nor an end yet. */
  unsettled(before: string): Array<[string, Unsettled]> {
    return [...this.unsettledCalls].filter(([, u]) => u.at <= before);
  }

  /** The centers with calls waiting, and their queues. */
  nonEmpty(): Array<[string, QueueState]> {
    return [...this.queues].filter(([, q]) => q.waiting.length > 0);
  }

  private setQueue(callCenterId: string, next: QueueState): void {
    const before = this.queues.get(callCenterId);
    for (const e of before?.waiting ?? []) this.waiting.delete(e.callId);
    for (const e of next.waiting) this.waiting.set(e.callId, callCenterId);
    this.queues.set(callCenterId, next);
  }

  private apply(e: StoredEvent): void {
    if (QUEUE_TYPES.has(e.type)) {
      const event = { type: e.type, data: e.data } as QueueEvent;
      const id = event.data.callCenterId;
      this.setQueue(id, queueDecider.evolve(this.queues.get(id) ?? initialQueueState, event));
      if (event.type === 'QueueCallJoined') this.listener?.joined(id);
      if (event.type === 'QueueCallDispatched' || event.type === 'QueueWaitTimedOut')
        this.unsettledCalls.set(event.data.callId, { callCenterId: id, outcome: event.type === 'QueueCallDispatched' ? 'DISPATCHED' : 'TIMED_OUT', at: event.data.at });
      return;
    }
    if (e.type === 'SlotFreed') return this.listener?.slotFreed(e.data as SlotFreed['data']);
    if (!CALL_TYPES.has(e.type)) return;
    this.handleTimesState = handleTimesFold.evolve(this.handleTimesState, { type: e.type, data: e.data } as CallEvent);
    if (e.type === 'CallInitiated' || e.type === 'CallTerminated') this.unsettledCalls.delete((e.data as { callId: string }).callId);
    if (e.type === 'CallTerminated') {
      const callId = (e.data as { callId: string }).callId;
      const center = this.waiting.get(callId);
      if (center) this.listener?.endedWaiting(callId, center, e);
    }
  }
}

export interface QueueDispatcherDeps {
  board: QueueBoard;
  handler: CommandHandler;
  reader: CallReader;
  capacity: Capacity;
  initiation: CallInitiation;
  ending: CallEnding;
  media: MediaGateway;
  clock: Clock;
  /** A step that failed (the store away, a refusal): logged; the next event or tick tries again. */
  onError: (e: unknown, what: string) => void;
  tickMs?: number;
}

/**
 * The queue's dispatcher (issue 25), the `queue-dispatcher` cluster job: one instance runs it (its
 * lease); exactly-once does not rest on that, but on the streams: the queue's expected version (one
 * DispatchCall of a head wins, a stale one is refused) and the slot streams (a slot is held once).
 *
 * It reacts to what the board folds: a join, a slot freed (of a center: its queue; of a merchant: its
 * centers' queues), and on start every non-empty queue. For the head of a center's queue, read from
 * the stream: take the merchant's slot (when it has a limit) and the center's; DispatchCall naming that
 * head; then the initiation's own steps after routing (CallInitiation.place: a port unless BROWSER,
 * InitiateCall, dial). No slot: it waits for the next freed one. A stale DispatchCall: the slots
 * given back, the stream read again. A head whose call has ended meanwhile is recorded abandoned.
 *
 * A call that ends while it waits (the shopper hung up) → AbandonWait. Each second, the waits past
 * their deadline → TimeOutWait, falling through to another open center of the link with a free slot
 * (NEXT_CENTER, placed there) or, with none, ending (END: the call ended by SYSTEM with cause NO_ROUTE). Deadlines come from the folded streams: a restart or a
 * hand-over loses none.
 */
export class QueueDispatcher {
  /** Centers being drained, and those asked again meanwhile. */
  private readonly draining = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** The time-outs in progress, by call: a second caller (the tick, a drain) waits for the first. */
  private readonly timingOut = new Map<string, Promise<void>>();
  /** Unsettled calls being ended (see settle). */
  private readonly settling = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly deps: QueueDispatcherDeps) {}

  /** Starts dispatching: every non-empty queue is looked at now, then on each join, freed slot and tick. */
  async start(): Promise<{ stop(): Promise<void> }> {
    this.running = true;
    const { board } = this.deps;
    board.listen({
      joined: (id) => this.kick(id),
      slotFreed: (freed) => {
        if (freed.scope === 'center') return this.kick(freed.ownerId);
        for (const [id, q] of board.nonEmpty()) if (q.merchantId === freed.ownerId) this.kick(id);
      },
      endedWaiting: (callId, id, e) => void this.abandon(id, callId, { merchantId: e.merchantId, correlationId: e.correlationId, causationId: e.eventId }),
    });
    await this.tick();
    for (const [id] of board.nonEmpty()) this.kick(id);
    this.timer = setInterval(() => void this.tick(), this.deps.tickMs ?? 1000);
    this.timer.unref();
    return { stop: () => this.stop() };
  }

  async stop(): Promise<void> {
    this.running = false;
    this.deps.board.listen(null);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.draining.values()]);
  }

  /** Drains the center's queue once more (one drain per center at a time; a kick meanwhile runs it again). */
  kick(callCenterId: string): void {
    if (!this.running) return;
    if (this.draining.has(callCenterId)) {
      this.again.add(callCenterId);
      return;
    }
    const run = (async () => {
      do {
        this.again.delete(callCenterId);
        try {
          await this.drain(callCenterId);
        } catch (e) {
          this.deps.onError(e, `dispatching the queue of ${callCenterId}`);
        }
      } while (this.again.has(callCenterId) && this.running);
    })().finally(() => this.draining.delete(callCenterId));
    this.draining.set(callCenterId, run);
  }

  /**
   * Serves heads while slots are free. A head refused as stale is read again, at most
   * STALE_TRIES times in a row (the next event or tick drains again): never a busy loop.
   */
  private async drain(callCenterId: string): Promise<void> {
    const { handler } = this.deps;
    for (let stale = 0; this.running; ) {
      const { state } = await handler.load(queueDecider, queueStreamId(callCenterId));
      const head = headOf(state);
      if (!head || state.merchantId === null) return;
      const outcome = await this.dispatchHead(callCenterId, state.merchantId, head);
      if (outcome === 'NO_SLOT') return;
      stale = outcome === 'STALE' ? stale + 1 : 0;
      if (stale >= STALE_TRIES) throw new Error(`${STALE_TRIES} dispatches in a row refused as stale; trying again on the next event`);
    }
  }

  /** One try for the head. */
  private async dispatchHead(callCenterId: string, merchantId: string, head: QueueEntry): Promise<Outcome> {
    const { handler, reader, capacity, initiation, clock } = this.deps;
    const now = clock.now();
    const meta: CommandMetadata = { merchantId, correlationId: randomUUID(), causationId: null };
    const { state: call } = await handler.load(callDecider, callStreamId(head.callId));
    // Hung up (or ended otherwise) before its AbandonWait was stored; or past its deadline.
    if (call.status !== 'Downloaded') return (await this.abandon(callCenterId, head.callId, meta), 'SERVED');
    if (Date.parse(head.timesOutAt) <= now.getTime()) return (await this.timeOut(callCenterId, head.callId), 'SERVED');
    const merchant = await reader.merchant(merchantId);
    const center = merchant.callCenters[callCenterId];
    // A center closed since: its calls wait (for it to open, or for their deadline).
    if (!center || !isOpenAt(center, now)) return 'NO_SLOT';
    // The slots this dispatcher stored for the head (`fresh`): the only ones it may give back. A slot
    // found held by the head already was taken for it by another dispatcher racing for the same head.
    const held: Array<HeldSlot & { fresh: boolean }> = [];
    const giveBack = () => Promise.all(held.splice(0).flatMap((h) => (h.fresh ? [capacity.freeSlot(h, head.callId, meta)] : [])));
    if (merchant.maxConcurrentCalls !== null) {
      const taken = await capacity.claimSlot('merchant', merchantId, merchant.maxConcurrentCalls, head.callId, now, meta);
      if (taken === null) return 'NO_SLOT';
      held.push({ scope: 'merchant', ownerId: merchantId, ...taken });
    }
    const taken = await capacity.claimSlot('center', callCenterId, center.capacity, head.callId, now, meta);
    if (taken === null) return (await giveBack(), 'NO_SLOT');
    held.push({ scope: 'center', ownerId: callCenterId, ...taken });
    let waitedMs: number;
    try {
      const r = await handler.handle(queueDecider, queueStreamId(callCenterId), { type: 'DispatchCall', data: { callCenterId, callId: head.callId, at: now.toISOString() } }, meta);
      // [] : the head was dispatched already, by another dispatcher that places it (with the slots it
      // holds, which may be these): nothing to give back, nothing to place.
      if (r.events[0]?.type !== 'QueueCallDispatched') return 'SERVED';
      waitedMs = r.events[0].data.waitedMs;
    } catch (e) {
      // Stale (it left, or another head is first now): what was stored for it goes back; read the queue again.
      await giveBack();
      if (e instanceof DomainError && e.code === 'CONFLICT') return 'STALE';
      throw e;
    }
    const route = {
      ok: true as const,
      callCenterId,
      destination: center.phoneNumber,
      media: center.kind,
      rule: 'QUEUE' as const,
      requestedCallCenterId: callCenterId,
      reason: `${callCenterId}: a slot freed after ${Math.round(waitedMs / 1000)} s in its queue (ticket ${head.ticket})`,
    };
    try {
      await initiation.place({ call, merchant, route, held: held.map(({ scope, ownerId, slot }) => ({ scope, ownerId, slot })), now, meta });
    } catch (e) {
      // place gave back what it took (and ended the call on NO_PORT); the next head may still be served.
      this.deps.onError(e, `placing queued call ${head.callId}`);
    }
    return 'SERVED';
  }

  private async abandon(callCenterId: string, callId: string, meta: CommandMetadata): Promise<void> {
    try {
      await this.deps.handler.handle(queueDecider, queueStreamId(callCenterId), { type: 'AbandonWait', data: { callCenterId, callId, at: this.deps.clock.now().toISOString() } }, meta);
    } catch (e) {
      this.deps.onError(e, `recording the abandoned wait of ${callId}`);
    }
  }

  /**
   * The wait is over, and the call falls through: to another open center of its link with a free slot
   * (NEXT_CENTER: its slots are taken first, then TimeOutWait names it, then the call is placed there,
   * rule NEAREST_REGION/FIRST_OPEN… as routing chose it), else TimeOutWait (CALLBACK_OFFER from a center
   * that calls back, END otherwise) and the call ended by SYSTEM, NO_ROUTE. A center whose own queue has calls waiting counts as full: the fall-through does
   * not overtake them.
   */
  private timeOut(callCenterId: string, callId: string): Promise<void> {
    const running = this.timingOut.get(callId);
    if (running) return running;
    const run = this.fallThrough(callCenterId, callId).finally(() => this.timingOut.delete(callId));
    this.timingOut.set(callId, run);
    return run;
  }

  private async fallThrough(callCenterId: string, callId: string): Promise<void> {
    const { handler, ending, media, clock } = this.deps;
    const meta: CommandMetadata = { merchantId: null, correlationId: randomUUID(), causationId: null };
    const next = await this.nextCenter(callCenterId, callId, meta);
    const fallThrough: FallThrough = next ? { kind: 'NEXT_CENTER', callCenterId: next.route.callCenterId } : (await this.offersCallback(callCenterId)) ? { kind: 'CALLBACK_OFFER' } : { kind: 'END' };
    let r: Awaited<ReturnType<CommandHandler['handle']>>;
    try {
      r = await handler.handle(queueDecider, queueStreamId(callCenterId), { type: 'TimeOutWait', data: { callCenterId, callId, fallThrough, at: clock.now().toISOString() } }, meta);
    } catch (e) {
      await next?.giveBack();
      throw e;
    }
    const timedOut = r.events[0];
    if (timedOut?.type !== 'QueueWaitTimedOut') {
      await next?.giveBack(); // it left meanwhile
      return;
    }
    if (next) {
      // place gives back what it took when a step fails (and ends the call on NO_PORT).
      await this.deps.initiation.place(next.placement).catch((e) => this.deps.onError(e, `placing ${callId} at ${next.route.callCenterId} after its wait`));
      return;
    }
    await ending.end(callId, { cause: 'NO_ROUTE', by: 'SYSTEM', sipStatus: null, gatewayEventId: null, reason: null }, { correlationId: meta.correlationId, causationId: r.stored[0]?.eventId ?? null });
    await media.hangUp(callId);
  }

  /**
   * Whether a shopper whose wait ended at this center is offered a callback instead (CALLBACK_OFFER):
   * callbacks are placed from BROWSER and PSTN centers (`callsBack`). The call ends as with END; the widget
   * offers "call me back" on that end, and the queue's event records that the offer was made.
   */
  private async offersCallback(callCenterId: string): Promise<boolean> {
    const merchantId = this.deps.board.queueOf(callCenterId)?.merchantId ?? null;
    if (merchantId === null) return false;
    const center = (await this.deps.reader.merchant(merchantId).catch(() => null))?.callCenters[callCenterId];
    return center !== undefined && callsBack(center);
  }

  /**
   * Another open center of the call's link with a free slot, its slots taken (the merchant's too, when
   * it has a limit), ready to place; null (nothing held) when there is none, or the call no longer waits.
   */
  private async nextCenter(callCenterId: string, callId: string, meta: CommandMetadata): Promise<{ route: Placement['route']; placement: Placement; giveBack(): Promise<void> } | null> {
    const { handler, reader, capacity, board, clock } = this.deps;
    const { state: call } = await handler.load(callDecider, callStreamId(callId));
    if (call.status !== 'Downloaded') return null;
    const merchant = await reader.merchant(call.merchantId);
    const callMeta = { ...meta, merchantId: call.merchantId };
    const now = clock.now();
    const held: HeldSlot[] = [];
    const giveBack = async () => {
      await Promise.all(held.splice(0).map((h) => capacity.freeSlot(h, callId, callMeta)));
    };
    if (merchant.maxConcurrentCalls !== null) {
      const slot = await capacity.takeSlot('merchant', call.merchantId, merchant.maxConcurrentCalls, callId, now, callMeta);
      if (slot === null) return null;
      held.push({ scope: 'merchant', ownerId: call.merchantId, slot });
    }
    const { route, slot } = await capacity.routeWithSlot(merchant.callCenters, call.merchantId, callId, now, callMeta, (activeCalls) => {
      for (const id of Object.keys(merchant.callCenters)) if (id === callCenterId || board.hasWaiting(id)) activeCalls[id] = merchant.callCenters[id].capacity;
      return routeCall({ merchant, linkId: call.linkId, at: now, callerRegion: call.callerRegion, activeCalls });
    });
    if (slot) held.push(slot);
    if (!route.ok) return (await giveBack(), null);
    return { route, placement: { call, merchant, route, held, now, meta: callMeta }, giveBack };
  }

  private async tick(): Promise<void> {
    const now = this.deps.clock.now();
    const at = now.toISOString();
    for (const [id, q] of this.deps.board.nonEmpty())
      for (const due of dueTimeOuts(q, at)) this.timeOut(id, due.callId).catch((e) => this.deps.onError(e, `timing out the wait of ${due.callId}`));
    const stale = new Date(now.getTime() - UNSETTLED_GRACE_MS).toISOString();
    for (const [callId, u] of this.deps.board.unsettled(stale))
      if (!this.settling.has(callId)) {
        this.settling.add(callId);
        this.settle(callId)
          .catch((e) => this.deps.onError(e, `ending ${callId}, left its queue ${u.outcome} at ${u.at} and never placed`))
          .finally(() => this.settling.delete(callId));
      }
  }

  /**
   * A call that left its queue more than UNSETTLED_GRACE_MS ago and is still DOWNLOADED: the process
   * that dispatched it or timed it out died between that append and the call's own (InitiateCall, or
   * its end). It is ended by SYSTEM with NO_ROUTE (reason QUEUE_UNSETTLED), which gives back any slot
   * it holds; re-placing it would need the route that process chose, which only it knew.
   */
  private async settle(callId: string): Promise<void> {
    const { handler, ending, media } = this.deps;
    const { state } = await handler.load(callDecider, callStreamId(callId));
    if (state.status !== 'Downloaded') return;
    await ending.end(callId, { cause: 'NO_ROUTE', by: 'SYSTEM', sipStatus: null, gatewayEventId: null, reason: 'QUEUE_UNSETTLED' }, { correlationId: randomUUID(), causationId: null });
    await media.hangUp(callId);
  }
}
