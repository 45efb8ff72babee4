import { randomUUID } from 'node:crypto';
import type { CheckpointStore } from '../../ports/checkpoint';
import type { EventStore, StoredEvent } from '../../ports/event-store';
import { reconnectDelayMs } from '../../ports/dependency';
import type { CallTerminated } from '../../domain/call/events';
import { callDecider } from '../../domain/call/call';
import { DomainError } from '../../domain/shared/errors';
import { callStreamId, transferStreamId } from '../../domain/shared/streams';
import { transferDecider } from '../../domain/transfer/transfer';
import type { CommandHandler } from '../command-handler';
import type { Capacity } from './capacity';
import type { LiveState } from '../live-state';
import { follow, FollowerStopped, type StoreFollower } from '../follow';

export interface CallEffectsDeps {
  store: EventStore;
  checkpoints: CheckpointStore;
  handler: CommandHandler;
  capacity: Capacity;
  live: LiveState;
  /** A release the domain refused (never retried: it would be refused again). */
  onRefused: (e: unknown, callId: string) => void;
  /** A release failed (the store away) and is tried again with backoff. */
  onRetry?: (e: unknown, attempt: number, callId: string) => void;
  /** A failed read of the store subscription (read again with backoff). */
  onStoreError?: (e: unknown) => void;
}

/** The checkpoint's name in the {@link CheckpointStore}. */
export const CALL_EFFECTS = 'call-effects';

/** Releases in flight at once, at most (each a few appends). */
const CONCURRENT_RELEASES = 64;

/**
 * The process manager of what a call's end does to other streams, and the owner of its guarantee:
 * when a call ends (CallTerminated, whoever ended it: caller, callee, gateway, timeout, refusal),
 * the capacity slots it holds are freed and its port is released with the ANI quarantine. The
 * process that ended the call releases at once too (./terminate.ts CallEnding: the next call must
 * find the port free under load); this catches every release that did not happen there (the store
 * away at that moment, a crash, another process, a port seized but never recorded).
 *
 * Driven by the event store from a checkpoint, like the live state and the supervisor: not by the
 * bus, so that ports come back while a Kafka broker is away (the write side does not need it).
 * A follower of the store (./follow.ts) whose terminations are handled concurrently; the checkpoint
 * moves past an event once it and everything before it is done, so a crash repeats some releases,
 * and the slot and port deciders decide [] for a repeat (idempotent by construction). Every process follows the store: with several instances on
 * one store the first release of a call is stored and the others decide [] (a release names its
 * call, so it never frees what another call took since).
 *
 * Issue 25: a transfer of the call still open at its end is cancelled (CALL_ENDED), the same way.
 * The commands are one pure reaction, `react(CallTerminated, holdings)` (src/domain/capacity/react.ts),
 * run through the command handler by Capacity.releaseAll.
 * What a call holds comes from the LiveState index once it has seen the event (exact up to there),
 * not from the event's data: that covers a port seized but never recorded on the call, when a
 * process died between the seizure and the initiation. On start, slots and ports still held by calls
 * that have ended (a crash before their release) are released first.
 */
export class CallEffects {
  private follower: StoreFollower | null = null;
  private stopped = false;

  constructor(private readonly deps: CallEffectsDeps) {}

  /** Releases what ended calls still hold, then follows the store from the checkpoint (a cluster job: from its lease's). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.reconcile();
    const { store, checkpoints } = this.deps;
    this.follower = await follow(store, {
      name: CALL_EFFECTS,
      scope: 'cluster',
      checkpoint: { from: 'saved', checkpoints },
      // Terminations released in parallel: one slow release must not hold up the next call's port.
      concurrency: CONCURRENT_RELEASES,
      handle: (e) => (e.type === 'CallTerminated' ? this.untilDone(e) : undefined),
      onError: (e) => this.deps.onStoreError?.(e),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.follower?.stop();
  }

  /** The effects of these events' terminations (calls in parallel), once each; a failure rejects. */
  async handle(events: readonly StoredEvent[]): Promise<void> {
    await Promise.all(events.filter((e) => e.type === 'CallTerminated').map((e) => this.ended(e)));
  }

  /** A release that meets the store away is tried again with backoff until it is stored, or the process stops. */
  private async untilDone(e: StoredEvent): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        return await this.ended(e);
      } catch (err) {
        this.deps.onRetry?.(err, attempt, (e.data as CallTerminated['data']).callId);
        // At most a second apart: a port held by an ended call is a call refused NO_PORT.
        await new Promise((r) => setTimeout(r, Math.min(1000, reconnectDelayMs(attempt))));
      }
    }
    // Stopped before it was stored: the checkpoint stays before it, and the next owner releases it.
    throw new FollowerStopped(CALL_EFFECTS);
  }

  private async ended(e: StoredEvent): Promise<void> {
    const ended: CallTerminated = { type: 'CallTerminated', data: e.data as CallTerminated['data'] };
    const { callId } = ended.data;
    const meta = { correlationId: e.correlationId, causationId: e.eventId, merchantId: e.merchantId };
    try {
      await this.deps.capacity.releaseAll(ended, e.position, meta);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err; // the store is away: tried again
      this.deps.onRefused(err, callId);
    }
    await this.cancelOpenTransfer(callId, ended.data.at, meta);
  }

  /**
   * Issue 25: a transfer still open when its call ends is cancelled (CALL_ENDED), at the call's end.
   * A repeat decides [] (cancelled already); one completed meanwhile is refused, and left as it is.
   */
  private async cancelOpenTransfer(callId: string, at: string, meta: { correlationId: string; causationId: string; merchantId: string | null }): Promise<void> {
    const stream = transferStreamId(callId);
    const open = (await this.deps.handler.load(transferDecider, stream)).state.open;
    if (open === null) return;
    try {
      await this.deps.handler.handle(transferDecider, stream, { type: 'CancelTransfer', data: { callId, transferId: open.transferId, reason: 'CALL_ENDED', at } }, meta);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      this.deps.onRefused(err, callId);
    }
  }

  /** Slots and ports held by calls that have ended: released (at most a few, after a crash). */
  private async reconcile(): Promise<void> {
    const { handler, live, capacity } = this.deps;
    for (const callId of live.holders()) {
      const { state } = await handler.load(callDecider, callStreamId(callId));
      if (state.status !== 'Terminated') continue; // live, or an initiation in flight: its end releases it
      await capacity.releaseHeld(callId, { correlationId: randomUUID(), causationId: null, merchantId: state.merchantId }).catch((err) => this.deps.onRefused(err, callId));
    }
  }
}
