import { randomUUID } from 'node:crypto';
import type { BusSubscription, EventBatch, EventBus } from '../../ports/bus';
import type { CheckpointStore } from '../../ports/checkpoint';
import type { StoredEvent } from '../../ports/event-store';
import type { CallTerminated } from '../../domain/call/events';
import { callDecider } from '../../domain/call/call';
import { DomainError } from '../../domain/shared/errors';
import { callStreamId } from '../../domain/shared/streams';
import type { CommandHandler } from '../command-handler';
import type { Capacity } from './capacity';
import type { LiveState } from '../live-state';

export interface CallEffectsDeps {
  bus: EventBus;
  /** The consumer group: one for every instance, so that one of them handles each call. */
  group: string;
  checkpoints: CheckpointStore;
  handler: CommandHandler;
  capacity: Capacity;
  live: LiveState;
  /** A release the domain refused (never retried: it would be refused again). */
  onRefused: (e: unknown, callId: string) => void;
  /** A batch failed and will be delivered again. */
  onRetry?: (e: unknown, attempt: number, batch: EventBatch) => void;
}

/** The checkpoint's name in the {@link CheckpointStore}. */
export const CALL_EFFECTS = 'call-effects';

/**
 * The process manager of what a call's end does to other streams, and the one place it is done:
 * when a call ends (CallTerminated, whoever ended it: caller, callee, gateway, timeout, refusal),
 * the capacity slots it holds are freed and its port is released with the ANI quarantine.
 *
 * Driven by events from a checkpoint. One consumer group for all instances (`webdial.call-effects`):
 * on Kafka each call's partition has one owner at a time, so two instances do not both act; the
 * in-process bus of the embedded mode catches the group up from the saved checkpoint after a
 * restart. The checkpoint is saved after a batch's effects: a crash repeats some of them, and the
 * slot and port deciders decide [] for a repeat (idempotent by construction).
 *
 * What a call holds comes from the LiveState index once it has seen the event (exact up to there),
 * not from the event's data: that covers a port seized but never recorded on the call, when a
 * process died between the seizure and the initiation. On start, slots and ports still held by calls
 * that have ended (a crash before their release) are released first.
 */
export class CallEffects {
  private sub: BusSubscription | null = null;

  constructor(private readonly deps: CallEffectsDeps) {}

  async start(): Promise<void> {
    await this.reconcile();
    const { bus, group, checkpoints } = this.deps;
    this.sub = await bus.subscribe(group, ['webdial.calls'], (batch) => this.handle(batch), {
      fromBeginning: true,
      afterPosition: await checkpoints.load(CALL_EFFECTS),
      onRetry: this.deps.onRetry,
    });
  }

  async stop(): Promise<void> {
    await this.sub?.stop();
    await this.deps.checkpoints.flush();
  }

  /** One batch: the effects of its terminations (calls in parallel), then the checkpoint. */
  async handle(batch: EventBatch): Promise<void> {
    await Promise.all(batch.events.filter((e) => e.type === 'CallTerminated').map((e) => this.ended(e)));
    if (batch.watermark !== null) await this.deps.checkpoints.save(CALL_EFFECTS, batch.watermark);
  }

  private async ended(e: StoredEvent): Promise<void> {
    const { callId } = e.data as CallTerminated['data'];
    try {
      await this.deps.capacity.releaseAll(callId, e.position, { correlationId: e.correlationId, causationId: e.eventId, merchantId: e.merchantId });
    } catch (err) {
      if (err instanceof DomainError) return this.deps.onRefused(err, callId);
      throw err; // the store is away: the bus delivers the batch again
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
