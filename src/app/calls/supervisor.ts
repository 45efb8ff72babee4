import { randomUUID } from 'node:crypto';
import type { EventStore, StoredEvent } from '../../ports/event-store';
import { follow, type StoreFollower } from '../follow';
import type { Clock } from '../../ports/clock';
import type { MediaGateway } from '../../ports/media';
import { callDecider, type CallDeciderState } from '../../domain/call/call';
import { CALL_EVENT_TYPES, type CallEvent } from '../../domain/call/events';
import { dtmfDeadline, dueTimeout, nextDeadline, type TimeoutCause, type TimeoutLimits } from '../../domain/call/timeouts';
import { callStreamId } from '../../domain/shared/streams';
import type { CommandHandler } from '../command-handler';
import type { CallReader } from './reader';
import type { CallEnding } from './terminate';

const CALL_TYPES = new Set<string>(CALL_EVENT_TYPES);

/**
 * The call's time-driven commands: its timeouts (no answer, abandoned, maximum duration) and the
 * DTMF inter-digit deadline (a sequence that only a pause ends). Follows the event store from the
 * beginning, folds every live call with the call decider's own `evolve`, and asks the pure
 * `dueTimeout` / `dtmfDeadline` when to act. Deadlines are derived from stored events only, so a
 * restart finds the same ones (none lost); terminate and RecognizeDtmf are idempotent, so two
 * processes, or a timer racing a hang-up, store one CallTerminated (none doubled).
 *
 * Event-driven effects live elsewhere: DTMF reports decide their commands themselves (ReportDtmf),
 * and what an ended call holds is released by its ending (./terminate.ts) and the call effects' process manager (./effects.ts).
 * Every instance folds the open calls (from its snapshot and the tail: a restart does not refold
 * history); one instance of the cluster runs the timers (the `timers` cluster job), and the one that
 * takes the job over finds every deadline in its own fold. The commands are idempotent: a timer that
 * fires twice across a hand-over, or races a hang-up, decides [] the second time.
 */
export class CallSupervisor {
  private readonly live = new Map<string, CallDeciderState>();
  private readonly deadlines = new Map<string, number>();
  /** Calls with a DTMF sequence that only the inter-digit timeout can end: when to recognise it. */
  private readonly dtmfDue = new Map<string, number>();
  private follower: StoreFollower | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly firing = new Set<string>();

  constructor(
    private readonly store: EventStore,
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly ending: CallEnding,
    private readonly media: MediaGateway,
    private readonly clock: Clock,
    private readonly limits: TimeoutLimits,
    private readonly onError: (e: unknown, callId: string) => void,
    private readonly tickMs = 1000,
    /** Told about each failed read of its store subscription (it reads again with backoff), and each event it cannot read (skipped). */
    private readonly onStoreError: (e: unknown) => void = () => undefined,
    /**
     * Whether the call waits in a call center's queue (issue 25: ./queue.ts): a DOWNLOADED call that
     * waits is not abandoned; its wait's own deadline (at most an hour) ends it.
     */
    private readonly waits: (callId: string) => boolean = () => false,
  ) {}

  /** Folds the open calls: from its snapshot and the tail, then live. Resolves once caught up. */
  async start(): Promise<void> {
    this.follower = await follow<Array<[string, CallDeciderState]>>(this.store, {
      name: 'call-supervisor',
      label: 'call supervisor',
      scope: 'instance',
      checkpoint: {
        from: 'snapshot',
        state: {
          kind: 'call-supervisor@1',
          save: () => [...this.live],
          restore: (calls) => {
            for (const [callId, state] of calls) this.track(callId, state);
          },
        },
      },
      handle: (e) => {
        if (CALL_TYPES.has(e.type)) this.apply(e);
      },
      onError: this.onStoreError,
    });
  }

  /** The `timers` cluster job: fires the deadlines of the calls this instance folds, until stopped. */
  async startTimers(): Promise<{ stop(): Promise<void> }> {
    for (const [callId, state] of this.live) if (state.status === 'Answered' && state.dtmf.reports.length > 0) this.armDtmf(callId, state);
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
    await this.tick();
    return { stop: async () => this.stopTimers() };
  }

  private stopTimers(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.dtmfDue.clear();
  }

  async stop(): Promise<void> {
    this.stopTimers();
    await this.follower?.stop();
  }

  private apply(e: StoredEvent): void {
    const callId = (e.data as { callId: string }).callId;
    const state = callDecider.evolve(this.live.get(callId) ?? callDecider.initialState, { type: e.type, data: e.data } as CallEvent);
    if (state.status === 'Terminated') {
      this.live.delete(callId);
      this.deadlines.delete(callId);
      this.dtmfDue.delete(callId);
      return;
    }
    this.track(callId, state);
    if (e.type === 'DtmfReceived' && this.timer) this.armDtmf(callId, state);
  }

  private track(callId: string, state: CallDeciderState): void {
    this.live.set(callId, state);
    const due = nextDeadline(state, this.limits);
    if (due) this.deadlines.set(callId, due.getTime());
    else this.deadlines.delete(callId);
  }

  /**
   * When the pending sequence times out under the merchant's table (a "#NN", or "*7" while "*76"
   * exists); nothing is sent now: the report recognised what its digits completed.
   */
  private armDtmf(callId: string, state: CallDeciderState): void {
    if (state.status !== 'Answered') return;
    this.reader
      .merchant(state.merchantId)
      .then((m) => this.due(callId, dtmfDeadline(state, m.dtmfTable)))
      .catch((err) => this.onError(err, callId));
  }

  /** At the deadline: the decider appends the commands the timeout ends; and when is the next one, if ever. */
  private async recognizeDtmf(callId: string): Promise<void> {
    const merchantId = await this.reader.merchantOf(callId);
    const merchant = await this.reader.merchant(merchantId);
    const { state } = await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'RecognizeDtmf', data: { callId, table: merchant.dtmfTable, allowedOrigins: merchant.allowedOrigins, at: this.clock.now().toISOString() } },
      { merchantId, correlationId: randomUUID(), causationId: null },
    );
    this.due(callId, dtmfDeadline(state, merchant.dtmfTable));
  }

  private due(callId: string, at: Date | null): void {
    if (at) this.dtmfDue.set(callId, at.getTime());
    else this.dtmfDue.delete(callId);
  }

  /** The timeout's end, by SYSTEM, and the media leg hung up. */
  private async timeOut(callId: string, cause: TimeoutCause, reason: string | null): Promise<void> {
    await this.ending.end(callId, { cause, by: 'SYSTEM', sipStatus: null, gatewayEventId: null, reason }, { correlationId: randomUUID(), causationId: null });
    await this.media.hangUp(callId);
  }

  private async tick(): Promise<void> {
    const now = this.clock.now();
    for (const [callId, at] of this.dtmfDue) {
      if (at > now.getTime()) continue;
      this.dtmfDue.delete(callId);
      this.recognizeDtmf(callId).catch((err) => this.onError(err, callId));
    }
    for (const [callId, at] of this.deadlines) {
      if (at > now.getTime() || this.firing.has(callId)) continue;
      const state = this.live.get(callId);
      const due = state ? dueTimeout(state, now, this.limits) : null;
      if (!due || (due.cause === 'ABANDONED' && this.waits(callId))) continue;
      this.firing.add(callId);
      this.timeOut(callId, due.cause, due.reason)
        .catch((err) => this.onError(err, callId))
        .finally(() => this.firing.delete(callId));
    }
  }
}
