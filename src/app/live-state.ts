import type { EventStore, StoredEvent } from '../ports/event-store';
import { follow, type FollowerState, type StoreFollower } from './follow';
import type { CallbackCallPlaced, CallInitiated, CallTerminated, InboundCallReceived } from '../domain/call/events';
import type { GatewayCreated, PortConfig, PortReleased, PortSeized } from '../domain/gateway/events';
import type { SlotTaken } from '../domain/capacity/slot';
import type { MerchantCreated } from '../domain/merchant/events';

export interface GatewayInfo {
  gatewayId: string;
  name: string;
  region: string;
  ports: PortConfig[];
}

export interface ActiveCall {
  callId: string;
  merchantId: string;
  callCenterId: string;
  /** Null for a call to a browser center (no port). */
  gatewayId: string | null;
  port: number | null;
}

/**
 * An in-process index the command side uses: the gateways and their ports, which calls are live on
 * which center, and which slots and ports each call holds. Its one writer is its own subscription
 * to the event store (catch-up, then live), so every process on one store converges, and `waitFor`
 * tells when it has seen a position (an append of this process, an event a follower handles).
 *
 * For everything up to the position it has seen, the index is exact. For what other writers are
 * doing right now it is a hint: the invariants that must hold under concurrency (one call per port,
 * N calls per limit) are enforced by appends with an expected version on the port's or slot's own
 * stream, never by this index.
 */
const NONE: ReadonlySet<number> = new Set();

interface LiveSnapshot {
  gateways: GatewayInfo[];
  origins: string[];
  active: ActiveCall[];
  slots: Array<[string, SlotTaken['data']]>;
  busy: Array<[string, { callId: string; until: number | null }]>;
  ports: Array<[string, Array<{ gatewayId: string; port: number }>]>;
}

export class LiveState {
  readonly gateways = new Map<string, GatewayInfo>();
  /** Every origin some merchant allows its button on (merchants' allowedOrigins are fixed at creation). */
  readonly allowedOrigins = new Set<string>();
  private readonly active = new Map<string, ActiveCall>();
  /** Capacity slots held: slot stream id → the slot and its call. */
  private readonly slots = new Map<string, SlotTaken['data']>();
  /** The same, by owner (`<scope>.<ownerId>` → slot numbers) and by call: hints without scans. */
  private readonly slotsByOwner = new Map<string, Set<number>>();
  private readonly slotsByCall = new Map<string, Set<string>>();
  /** "gatewayId:port" → until when it is not free (seized: for ever; released: its ANI quarantine). */
  private readonly busy = new Map<string, { callId: string; until: number }>();
  /** callId → the ports it has seized and not released. */
  private readonly portsByCall = new Map<string, Array<{ gatewayId: string; port: number }>>();
  private follower: StoreFollower | null = null;

  /**
   * `onError`: told about each failed store read (the index reads again with backoff, from where it
   * was) and about an event it cannot read (malformed data: skipped, so that the index goes on).
   */
  constructor(
    private readonly store: EventStore,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /**
   * Catches up with everything stored, then follows live: from its newest snapshot and the events
   * after it (a restart costs the tail, not the history), or from the beginning when it has none.
   */
  async start(): Promise<void> {
    this.follower = await follow(this.store, {
      name: 'live-state',
      label: 'live state',
      scope: 'instance',
      checkpoint: { from: 'snapshot', state: this.snapshots() },
      handle: (e) => this.apply(e),
      onError: this.onError,
    });
  }

  /** Resolves once the index has seen `position` (used after a write in this process). */
  waitFor(position: string): Promise<void> {
    if (!this.follower) throw new Error('live state not started');
    return this.follower.waitFor(position);
  }

  /** The index as a JSON value and back (`live-state@1`). */
  private snapshots(): FollowerState<LiveSnapshot> {
    return {
      kind: 'live-state@1',
      save: () => ({
        gateways: [...this.gateways.values()],
        origins: [...this.allowedOrigins],
        active: [...this.active.values()],
        slots: [...this.slots],
        // Infinity (seized) is not JSON: null.
        busy: [...this.busy].map(([k, b]) => [k, { callId: b.callId, until: Number.isFinite(b.until) ? b.until : null }]),
        ports: [...this.portsByCall],
      }),
      restore: (snap) => {
        for (const g of snap.gateways) this.gateways.set(g.gatewayId, g);
        for (const o of snap.origins) this.allowedOrigins.add(o);
        for (const c of snap.active) this.active.set(c.callId, c);
        for (const [streamId, d] of snap.slots) this.holdSlot(streamId, d);
        for (const [k, b] of snap.busy) this.busy.set(k, { callId: b.callId, until: b.until ?? Infinity });
        for (const [callId, ports] of snap.ports) this.portsByCall.set(callId, ports);
      },
    };
  }

  private apply(e: StoredEvent): void {
    switch (e.type) {
      case 'GatewayCreated': {
        const d = e.data as GatewayCreated['data'];
        this.gateways.set(d.gatewayId, { gatewayId: d.gatewayId, name: d.name, region: d.region, ports: d.ports });
        break;
      }
      case 'MerchantCreated':
        for (const o of (e.data as MerchantCreated['data']).allowedOrigins ?? []) this.allowedOrigins.add(o);
        break;
      case 'CallInitiated': {
        const d = e.data as CallInitiated['data'];
        this.active.set(d.callId, { callId: d.callId, merchantId: d.merchantId, callCenterId: d.callCenterId, gatewayId: d.gatewayId, port: d.port });
        break;
      }
      case 'InboundCallReceived': {
        const d = e.data as InboundCallReceived['data'];
        this.active.set(d.callId, { callId: d.callId, merchantId: d.merchantId, callCenterId: d.callCenterId, gatewayId: null, port: null });
        break;
      }
      case 'CallbackCallPlaced': {
        // Issue 25: a callback's try occupies its center and holds its port like a dialled call.
        const d = e.data as CallbackCallPlaced['data'];
        this.active.set(d.callId, { callId: d.callId, merchantId: d.merchantId, callCenterId: d.callCenterId, gatewayId: d.gatewayId, port: d.port });
        break;
      }
      case 'CallTerminated':
        this.active.delete((e.data as CallTerminated['data']).callId);
        break;
      case 'PortSeized': {
        const d = e.data as PortSeized['data'];
        this.busy.set(`${d.gatewayId}:${d.port}`, { callId: d.callId, until: Infinity });
        this.portsByCall.set(d.callId, [...(this.portsByCall.get(d.callId) ?? []), { gatewayId: d.gatewayId, port: d.port }]);
        break;
      }
      case 'PortReleased': {
        const d = e.data as PortReleased['data'];
        // Free again once its caller ID's quarantine is over.
        this.busy.set(`${d.gatewayId}:${d.port}`, { callId: d.callId, until: Date.parse(d.quarantineUntil) });
        const left = (this.portsByCall.get(d.callId) ?? []).filter((p) => p.gatewayId !== d.gatewayId || p.port !== d.port);
        if (left.length > 0) this.portsByCall.set(d.callId, left);
        else this.portsByCall.delete(d.callId);
        break;
      }
      case 'SlotTaken': {
        const before = this.slots.get(e.streamId);
        if (before) this.forgetSlot(e.streamId, before);
        this.holdSlot(e.streamId, e.data as SlotTaken['data']);
        break;
      }
      case 'SlotFreed': {
        const held = this.slots.get(e.streamId);
        if (held?.callId === (e.data as SlotTaken['data']).callId) {
          this.slots.delete(e.streamId);
          this.forgetSlot(e.streamId, held);
        }
        break;
      }
    }
  }

  private holdSlot(streamId: string, d: SlotTaken['data']): void {
    this.slots.set(streamId, d);
    const owner = `${d.scope}.${d.ownerId}`;
    if (!this.slotsByOwner.has(owner)) this.slotsByOwner.set(owner, new Set());
    this.slotsByOwner.get(owner)!.add(d.slot);
    if (!this.slotsByCall.has(d.callId)) this.slotsByCall.set(d.callId, new Set());
    this.slotsByCall.get(d.callId)!.add(streamId);
  }

  private forgetSlot(streamId: string, d: SlotTaken['data']): void {
    const owner = this.slotsByOwner.get(`${d.scope}.${d.ownerId}`);
    owner?.delete(d.slot);
    if (owner?.size === 0) this.slotsByOwner.delete(`${d.scope}.${d.ownerId}`);
    const call = this.slotsByCall.get(d.callId);
    call?.delete(streamId);
    if (call?.size === 0) this.slotsByCall.delete(d.callId);
  }

  activeByCenter(merchantId: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of this.active.values()) if (c.merchantId === merchantId) counts[c.callCenterId] = (counts[c.callCenterId] ?? 0) + 1;
    return counts;
  }

  /** The slot numbers of this owner that this index believes held (a hint: the append decides). */
  heldSlots(scope: SlotTaken['data']['scope'], ownerId: string): ReadonlySet<number> {
    return this.slotsByOwner.get(`${scope}.${ownerId}`) ?? NONE;
  }

  /** Every call that holds a capacity slot or a port, as far as this index has seen. */
  holders(): Set<string> {
    return new Set([...[...this.slots.values()].map((s) => s.callId), ...this.portsByCall.keys()]);
  }

  /** The ports a call has seized and not released, as far as this index has seen. */
  portsOf(callId: string): ReadonlyArray<{ gatewayId: string; port: number }> {
    return this.portsByCall.get(callId) ?? [];
  }

  /** The capacity slots a call holds, as far as this index has seen. */
  slotsOf(callId: string): Array<SlotTaken['data']> {
    return [...(this.slotsByCall.get(callId) ?? [])].map((id) => this.slots.get(id)!).filter(Boolean);
  }

  /** Whether this index believes the port is on a live call (a hint: the port's stream decides). */
  portBusy(gatewayId: string, port: number, at: Date): boolean {
    const b = this.busy.get(`${gatewayId}:${port}`);
    return b !== undefined && at.getTime() < b.until;
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }
}
