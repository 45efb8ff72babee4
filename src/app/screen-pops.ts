import type { EventStore, StoredEvent } from '../ports/event-store';
import type { CallEvent } from '../domain/call/events';
import type { TransferStarted } from '../domain/transfer/transfer';
import { callStreamId } from '../domain/shared/streams';
import type { ReadQueries } from '../projections';
import { screenPopOf, type CallContextView } from '../projections/crm-context/view';
import type { ReadSideProgress } from './consistency';
import type { EventHub } from './event-hub';

export interface ScreenPopsDeps {
  hub: EventHub;
  reads: Pick<ReadQueries, 'screenPop'>;
  progress: Pick<ReadSideProgress, 'waitFor'>;
  store: Pick<EventStore, 'readStream'>;
  /** A pop that could be built neither from the read side nor from the call's stream (it is skipped). */
  onError: (e: unknown, callId: string) => void;
}

/**
 * The screen pops of a merchant as its calls ring (the `screenPops` subscription): for each
 * CallRinging, once every projection has applied it, the call's context from the crm-context read
 * model, which knows the call's center (an AGENT key's pops are its center's). When the read side
 * does not get there within the read wait (it is away), the same View is folded over the call's
 * stream instead, so a pop is not lost to an outage of the read database.
 * Issue 25: a TransferStarted pops the call again, in its target center's consoles (a CRM key's: in
 * every console again), so that the screen pop follows the call to the new agent.
 */
export class ScreenPops {
  constructor(private readonly deps: ScreenPopsDeps) {}

  follow(merchantId: string, callCenterId: string | null): AsyncIterableIterator<CallContextView> {
    // Issue 25: a transfer offers the call to its target center: its consoles get the call's pop too.
    const rings = this.deps.hub.iterate((e) => (e.type === 'CallRinging' || e.type === 'TransferStarted') && e.merchantId === merchantId, (e) => e, null);
    const iterator: AsyncIterableIterator<CallContextView> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        for (;;) {
          const ring = await rings.next();
          if (ring.done) return { value: undefined, done: true };
          const offeredTo = ring.value.type === 'TransferStarted' ? (ring.value.data as TransferStarted['data']).to.callCenterId : null;
          const pop = await this.popOf(ring.value, merchantId);
          if (pop && (callCenterId === null || (offeredTo ?? pop.callCenterId) === callCenterId)) return { value: pop, done: false };
        }
      },
      // Ends the hub's iterator too: a pending next() resolves as done.
      return: async () => {
        await rings.return?.();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  private async popOf(ringing: StoredEvent, merchantId: string): Promise<CallContextView | null> {
    const callId = (ringing.data as { callId: string }).callId;
    try {
      await this.deps.progress.waitFor(ringing.position);
      const pop = await this.deps.reads.screenPop(callId, merchantId);
      if (pop) return pop;
    } catch {
      // The read side is behind or away: the call's own stream says the same.
    }
    try {
      const events = await this.deps.store.readStream(callStreamId(callId));
      return screenPopOf(events.map((e) => ({ type: e.type, data: e.data }) as CallEvent));
    } catch (e) {
      this.deps.onError(e, callId);
      return null;
    }
  }
}
