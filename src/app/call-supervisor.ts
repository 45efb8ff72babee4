import { randomUUID } from 'node:crypto';
import type { EventStore, StoredEvent, Subscription } from '../ports/event-store';
import type { Clock } from '../ports/clock';
import { callDecider, type CallState } from '../domain/call/call';
import type { CallEvent, CallTerminated } from '../domain/call/events';
import type { PortSeized } from '../domain/gateway/events';
import { dueTimeout, nextDeadline, type TimeoutLimits } from '../domain/call/timeouts';
import type { CallService } from './call-service';
import type { LiveState } from './live-state';

const CALL_TYPES = new Set(['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'DtmfCommandRecognized', 'CallTerminated']);

/**
 * Timeouts as events, and ports released whatever ended the call. Follows the event store from the
 * beginning, folds every live call with the call decider's own `evolve`, and asks the pure
 * `dueTimeout` when a deadline passes. Deadlines are derived from stored events only, so a restart
 * finds the same ones (none lost); terminate is idempotent, so two processes, or a timer racing a
 * hang-up, store one CallTerminated (none doubled).
 */
export class CallSupervisor {
  private readonly live = new Map<string, CallState>();
  private readonly deadlines = new Map<string, number>();
  /** Calls with a DTMF sequence that only the inter-digit timeout can end: when to recognise it. */
  private readonly dtmfDue = new Map<string, number>();
  /** "gatewayId:port" → callId holding it, from the port streams. */
  private readonly seized = new Map<string, string>();
  private sub: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private caughtUp = false;
  private readonly firing = new Set<string>();
  /** Ended calls whose port or slots could not be released yet (the store was away): retried each tick. */
  private readonly unreleased = new Map<string, StoredEvent>();

  constructor(
    private readonly store: EventStore,
    private readonly calls: CallService,
    private readonly liveIndex: LiveState,
    private readonly clock: Clock,
    private readonly limits: TimeoutLimits,
    private readonly onError: (e: unknown, callId: string) => void,
    private readonly tickMs = 1000,
    /** Told about each failed read of its store subscription (it reads again with backoff), and each event it cannot read (skipped). */
    private readonly onStoreError: (e: unknown) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    const head = await this.store.headPosition();
    let reached!: () => void;
    const caughtUp = new Promise<void>((r) => (reached = r));
    if (head === null) reached();
    this.sub = this.store.subscribe({ onError: this.onStoreError }, async (e) => {
      try {
        this.apply(e);
      } catch (err) {
        // Malformed data (a buggy producer): skipped, so that every other call keeps its timeouts.
        this.onStoreError(new Error(`call supervisor cannot follow ${e.type}@${e.position} (${e.streamId}): ${(err as Error).message}; skipped`, { cause: err }));
      }
      if (!this.caughtUp && head !== null && e.position >= head) reached();
    });
    await caughtUp;
    this.caughtUp = true;
    await this.reconcilePorts();
    for (const [callId, state] of this.live) if (state.status === 'Answered' && state.dtmf.reports.length > 0) this.scheduleDtmf(callId);
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
    await this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sub?.stop();
  }

  private apply(e: StoredEvent): void {
    if (e.type === 'PortSeized') {
      const d = e.data as PortSeized['data'];
      this.seized.set(`${d.gatewayId}:${d.port}`, d.callId);
      return;
    }
    if (e.type === 'PortReleased') {
      const d = e.data as { gatewayId: string; port: number };
      this.seized.delete(`${d.gatewayId}:${d.port}`);
      return;
    }
    if (!CALL_TYPES.has(e.type)) return;
    const callId = (e.data as { callId: string }).callId;
    const state = callDecider.evolve(this.live.get(callId) ?? callDecider.initialState, { type: e.type, data: e.data } as CallEvent);
    if (state.status === 'Terminated') {
      this.live.delete(callId);
      this.deadlines.delete(callId);
      this.dtmfDue.delete(callId);
      // Whoever ended the call, its port is freed (idempotent; usually already done by the handler).
      if (this.caughtUp) this.release(callId, e);
      return;
    }
    this.live.set(callId, state);
    if (e.type === 'DtmfReceived' && this.caughtUp) this.scheduleDtmf(callId);
    const due = nextDeadline(state, this.limits);
    if (due) this.deadlines.set(callId, due.getTime());
    else this.deadlines.delete(callId);
  }

  /** Ports and capacity slots still held by calls that ended (a crash between two appends): release them. */
  private async reconcilePorts(): Promise<void> {
    for (const callId of this.liveIndex.slotHolders()) {
      if (this.live.has(callId)) continue;
      const end = (await this.store.readStream(`call-${callId}`)).find((e) => e.type === 'CallTerminated');
      if (end) await this.calls.releasePortOf(end).catch((err) => this.onError(err, callId));
    }
    for (const [key, callId] of this.seized) {
      if (this.live.has(callId)) continue;
      const events = await this.store.readStream(`call-${callId}`);
      const end = events.find((e) => e.type === 'CallTerminated');
      if (!end) continue; // initiation in flight elsewhere, or the call will time out first
      const gatewayId = key.slice(0, key.lastIndexOf(':'));
      const port = Number(key.slice(key.lastIndexOf(':') + 1));
      // The call ended without naming this port (it was seized but never recorded on the call).
      const data = { ...(end.data as CallTerminated['data']), gatewayId, port };
      await this.calls.releasePortOf({ ...end, data }).catch((err) => this.onError(err, callId));
    }
  }

  /** Frees the call's port and slots; when that fails it is tried again on the next ticks until it succeeds. */
  private release(callId: string, terminated: StoredEvent): void {
    this.unreleased.delete(callId);
    this.firing.add(`release:${callId}`);
    this.calls
      .releasePortOf(terminated)
      .catch((err) => {
        this.unreleased.set(callId, terminated);
        this.onError(err, callId);
      })
      .finally(() => this.firing.delete(`release:${callId}`));
  }

  private scheduleDtmf(callId: string): void {
    this.calls
      .recognizeDtmf(callId, randomUUID())
      .then((at) => (at ? this.dtmfDue.set(callId, at.getTime()) : this.dtmfDue.delete(callId)))
      .catch((err) => this.onError(err, callId));
  }

  private async tick(): Promise<void> {
    const now = this.clock.now();
    for (const [callId, e] of this.unreleased) if (!this.firing.has(`release:${callId}`)) this.release(callId, e);
    for (const [callId, at] of this.dtmfDue) {
      if (at > now.getTime()) continue;
      this.dtmfDue.delete(callId);
      this.scheduleDtmf(callId);
    }
    for (const [callId, at] of this.deadlines) {
      if (at > now.getTime() || this.firing.has(callId)) continue;
      const state = this.live.get(callId);
      const due = state ? dueTimeout(state, now, this.limits) : null;
      if (!due) continue;
      this.firing.add(callId);
      this.calls
        .terminateBySystem(callId, due.cause, randomUUID())
        .catch((err) => this.onError(err, callId))
        .finally(() => this.firing.delete(callId));
    }
  }
}
