import type { EventStore, StoredEvent } from '../../ports/event-store';
import { QUEUE_EVENT_TYPES } from '../../domain/queue/queue';
import { CALLBACK_EVENT_TYPES } from '../../domain/callback/callback';
import { estimateWait } from '../../domain/queue/wait-estimate';
import { callStreamId } from '../../domain/shared/streams';
import type { EventHub } from '../event-hub';
import type { QueueBoard } from './queue';
import type { CallReader } from './reader';

const QUEUE_TYPES = new Set<string>(QUEUE_EVENT_TYPES);
const CALLBACK_TYPES = new Set<string>(CALLBACK_EVENT_TYPES);

/** A waiting call's place, as its shopper is shown it. */
export interface QueuePlace {
  callCenterId: string;
  position: number;
  estimatedWaitSeconds: number;
  timesOutAt: string;
}

/** One call waiting in a center's queue, as the agent console lists it. */
export interface QueuedCallView extends QueuePlace {
  callId: string;
  ticket: number;
  linkId: string;
  /** The link's label (null when the merchant no longer has the link). */
  linkLabel: string | null;
  joinedAt: string;
}

export interface QueueViewDeps {
  board: QueueBoard;
  hub: EventHub;
  store: Pick<EventStore, 'headPosition'>;
  reader: CallReader;
  /** How long a push waits for the board to fold its queue event (then the board is read as it is). */
  boardWaitMs?: number;
  /** A merchant that could not be read for an estimate (the estimate then assumes one slot). */
  onError?: (e: unknown, what: string) => void;
}

/**
 * The queue as people see it (issue 25, must-have 1): the shopper's live place (customerSession's
 * QUEUE_POSITION pushes) and the calls a center's agents see waiting. Both read this instance's
 * QueueBoard, a fold of every queue: no read model, nothing that grows with history.
 *
 * The board and the subscriptions hub are separate followers of the store, so a push mapped from a
 * queue event waits until the board has folded that event (`QueueBoard.waitFor(position)`) before it
 * reads the call's place: a place is never read from a board behind the event that moved it.
 */
/**
 * A subscription's values: `first`, then what `step` makes of each event the hub hands over (undefined:
 * nothing to send), in order; the hub's iterator ends with it.
 */
const pushes = <T>(first: T[], events: AsyncIterator<StoredEvent>, step: (e: StoredEvent) => Promise<T | undefined>): AsyncIterableIterator<T> => {
  const pending = [...first];
  const iterator: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () => {
      for (;;) {
        if (pending.length > 0) return { value: pending.shift()!, done: false };
        const r = await events.next();
        if (r.done) return { value: undefined, done: true };
        const v = await step(r.value);
        if (v !== undefined) pending.push(v);
      }
    },
    return: async () => {
      await events.return?.();
      return { value: undefined, done: true };
    },
  };
  return iterator;
};

export class QueueView {
  constructor(private readonly deps: QueueViewDeps) {}

  /** The center's waiting calls in order, the first `first` of them, and the merchant the queue belongs to (null: no call ever joined it). */
  async waiting(callCenterId: string, first: number): Promise<{ merchantId: string | null; calls: QueuedCallView[] }> {
    const q = this.deps.board.queueOf(callCenterId);
    if (!q || q.merchantId === null || q.waiting.length === 0) return { merchantId: q?.merchantId ?? null, calls: [] };
    const merchantId = q.merchantId;
    const merchant = await this.deps.reader.merchant(merchantId).catch(() => null);
    const capacity = merchant?.callCenters[callCenterId]?.capacity ?? 1;
    const handleTimes = this.deps.board.handleTimes(callCenterId);
    const calls = q.waiting.slice(0, first).map((e, i) => ({
      callId: e.callId,
      callCenterId,
      position: i + 1,
      ticket: e.ticket,
      linkId: e.linkId,
      linkLabel: merchant?.links[e.linkId]?.label ?? null,
      joinedAt: e.joinedAt,
      timesOutAt: e.timesOutAt,
      estimatedWaitSeconds: estimateWait(i + 1, handleTimes, capacity).seconds,
    }));
    return { merchantId, calls };
  }

  /**
   * A call's session: each event of its own stream mapped by `map` (the call's states, pages…), and
   * `place(…)` once on subscribe when the call waits, then whenever its place in the queue changes
   * (its join, and a departure ahead of it: dispatched, abandoned, timed out). Nothing when it leaves
   * the queue: the call's own events (INITIATED, or TERMINATED) say what happened.
   *
   * Without a gap or a race: the store's head is read, the board is waited for up to that head, the
   * first place is read there, and the hub is followed strictly after that head.
   */
  async session<T>(callId: string, map: (e: StoredEvent) => T | undefined, place: (p: QueuePlace) => T): Promise<AsyncIterableIterator<T>> {
    const { board, hub, store, reader } = this.deps;
    const head = await store.headPosition();
    if (head !== null) await this.boardAt(head);
    const stream = callStreamId(callId);
    let capacity: number | null = null;
    let lastSent: number | null = null;
    const placeNow = async (): Promise<T | undefined> => {
      const at = board.placeOf(callId);
      if (!at) {
        lastSent = null;
        return undefined;
      }
      if (at.position === lastSent) return undefined;
      lastSent = at.position;
      if (capacity === null && at.merchantId !== null) capacity = await this.capacityOf(at.merchantId, at.callCenterId);
      const estimatedWaitSeconds = estimateWait(at.position, board.handleTimes(at.callCenterId), capacity ?? 1).seconds;
      return place({ callCenterId: at.callCenterId, position: at.position, estimatedWaitSeconds, timesOutAt: at.entry.timesOutAt });
    };
    const first = await placeNow();
    // The center it waits in: from the board at the head, or from its own join later on.
    let center = board.placeOf(callId)?.callCenterId ?? null;
    // The hub's filter drops only the queue events that cannot move this call's place: all of them once
    // the call is placed or ended (it never waits again), and, once its join is seen, other centers'.
    // The filter sees live events before a catch-up ends, so it only ever narrows; which events concern
    // the call is decided below, in the store's order.
    let settled = await reader.view(callId).then(
      (v) => v.state !== 'DOWNLOADED',
      () => false,
    );
    let joined = center;
    // The callbacks booked from this click (issue 25): the widget follows them on the same session, e.g. its try ringing this browser.
    const ownCallback = (e: StoredEvent): boolean => CALLBACK_TYPES.has(e.type) && (e.data as { originCallId?: unknown }).originCallId === callId;
    const concerns = (e: StoredEvent): boolean => {
      if (ownCallback(e)) return true;
      if (e.streamId === stream) {
        if (e.type === 'CallInitiated' || e.type === 'CallTerminated') settled = true;
        return true;
      }
      if (settled || !QUEUE_TYPES.has(e.type)) return false;
      const d = e.data as { callId: string; callCenterId: string };
      if (d.callId === callId) joined = d.callCenterId;
      return joined === null || d.callCenterId === joined;
    };
    return pushes(first === undefined ? [] : [first], hub.iterate(concerns, (e) => e, head), async (e) => {
      if (e.streamId === stream || ownCallback(e)) return map(e);
      const d = e.data as { callId: string; callCenterId: string };
      if (d.callId === callId) center = d.callCenterId;
      if (center === null || d.callCenterId !== center) return undefined;
      await this.boardAt(e.position);
      return placeNow();
    });
  }

  /**
   * A center's waiting calls as they change (the console's Queue card): the list now (the first
   * `first`), then again after each queue event of that center, once the board has folded it; a list
   * the same as the last one sent is not sent again. From the store's head on, without a gap (as
   * `session`). Ends when the subscriber leaves.
   */
  async watch(callCenterId: string, first: number): Promise<AsyncIterableIterator<QueuedCallView[]>> {
    const { hub, store } = this.deps;
    const head = await store.headPosition();
    if (head !== null) await this.boardAt(head);
    const events = hub.iterate((e) => QUEUE_TYPES.has(e.type) && (e.data as { callCenterId?: unknown }).callCenterId === callCenterId, (e) => e, head);
    let last: string | null = null;
    /** The list now, or undefined when it is the one sent last. */
    const changed = async (): Promise<QueuedCallView[] | undefined> => {
      const { calls } = await this.waiting(callCenterId, first);
      const key = JSON.stringify(calls.map((c) => [c.callId, c.position, c.estimatedWaitSeconds]));
      if (key === last) return undefined;
      last = key;
      return calls;
    };
    return pushes([(await changed())!], events, async (e) => {
      await this.boardAt(e.position);
      return changed();
    });
  }

  /** Waits until the board has folded `position`, at most boardWaitMs (then it is read as it is: a hint). */
  private async boardAt(position: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      // A board not started yet (waitFor throws): read as it is.
      Promise.resolve().then(() => this.deps.board.waitFor(position)).catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.deps.boardWaitMs ?? 5000);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  private async capacityOf(merchantId: string, callCenterId: string): Promise<number | null> {
    try {
      return (await this.deps.reader.merchant(merchantId)).callCenters[callCenterId]?.capacity ?? null;
    } catch (e) {
      this.deps.onError?.(e, `reading merchant ${merchantId} for a queue estimate`);
      return null;
    }
  }
}
