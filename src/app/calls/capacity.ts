import type { Clock } from '../../ports/clock';
import { portDecider } from '../../domain/gateway/gateway';
import { orderGateways } from '../../domain/routing/gateway-choice';
import { slotDecider, type SlotScope } from '../../domain/capacity/slot';
import { DomainError } from '../../domain/shared/errors';
import type { CallTerminated } from '../../domain/call/events';
import { react, releasesOf, type Holdings, type ReleaseCommand, type ReleaseContext } from '../../domain/capacity/react';
import { portStreamId, slotStreamId } from '../../domain/shared/streams';
import type { CommandHandler, CommandMetadata, HandleResult } from '../command-handler';
import type { LiveState } from '../live-state';

/** Ended calls whose given-back streams are remembered at most (see Capacity.releasedHere). */
const RELEASED_CALLS = 10_000;

export interface CapacityOptions {
  /** How long a released port's caller ID is not handed out again. */
  aniQuarantineSeconds: number;
}

/** A seized port and its caller ID. */
export interface Line {
  gatewayId: string;
  port: number;
  ani: string;
}

/** A capacity slot a call holds. */
export interface HeldSlot {
  scope: SlotScope;
  ownerId: string;
  slot: number;
}

/**
 * What a call holds while it is live: capacity slots (a merchant's concurrent-call limit and a call
 * center's capacity, src/domain/capacity/slot.ts) and a gateway port (src/domain/gateway/gateway.ts).
 * Each slot and each port is its own stream, appended with the version just read, so of two
 * processes racing for the last one exactly one wins, whatever the number of processes.
 *
 * The LiveState index only orders the candidates: those this process believes free come first (fewer
 * lost races under load); a stale hint costs a retry, never a double seizure. A stream this process
 * is appending to, or appended to and its index has not seen yet, counts as busy for the others of
 * its initiations (an in-flight reservation), so that concurrent initiations spread out.
 */
export class Capacity {
  /** Slot and port streams reserved by this process: stream id → reservations. */
  private readonly inFlight = new Map<string, number>();
  /**
   * What this process took for each call, until it released it: the index may lag the store (it
   * reads again with backoff after an outage), and a hang-up must free the port at once.
   */
  private readonly takenHere = new Map<string, { slots: HeldSlot[]; ports: Array<{ gatewayId: string; port: number }> }>();
  /**
   * The slot and port streams this process has given back for each ended call. The index shows them
   * held until it reads the release, so the call effects' pass (./effects.ts), which comes right
   * after the hang-up's own, would decide a repeat release on each of them: it skips these instead.
   * A stream given back after the call's end cannot be taken by that call again. The effects' pass
   * clears the call's entry; at most RELEASED_CALLS are kept (the oldest go).
   */
  private readonly releasedHere = new Map<string, Set<string>>();

  constructor(
    private readonly handler: CommandHandler,
    private readonly live: LiveState,
    private readonly clock: Clock,
    private readonly options: CapacityOptions,
  ) {}

  /**
   * Takes one of the owner's `limit` slots for the call, or returns null when all are held. Slots
   * this process believes free are tried first; the append with an expected version decides.
   */
  async takeSlot(scope: SlotScope, ownerId: string, limit: number, callId: string, now: Date, meta: CommandMetadata): Promise<number | null> {
    return (await this.claimSlot(scope, ownerId, limit, callId, now, meta))?.slot ?? null;
  }

  /**
   * takeSlot, telling whether this call stored the SlotTaken (`fresh`) or found the slot held by the
   * same call already (another process took it for that call: the queue's dispatchers racing for one
   * head). Only a fresh slot is this caller's to give back.
   */
  async claimSlot(scope: SlotScope, ownerId: string, limit: number, callId: string, now: Date, meta: CommandMetadata): Promise<{ slot: number; fresh: boolean } | null> {
    const held = this.live.heldSlots(scope, ownerId);
    const slots = (function* () {
      for (let k = 1; k <= limit; k++) yield k;
    })();
    for (const slot of this.candidates(slots, (k) => slotStreamId(scope, ownerId, k), (k) => held.has(k))) {
      const stream = slotStreamId(scope, ownerId, slot);
      try {
        const r = await this.reserved(stream, () => this.handler.handle(slotDecider, stream, { type: 'TakeSlot', data: { scope, ownerId, slot, callId, at: now.toISOString() } }, meta));
        this.taken(callId).slots.push({ scope, ownerId, slot });
        return { slot, fresh: r.events.length > 0 };
      } catch (e) {
        if (e instanceof DomainError && e.code === 'CONFLICT') continue;
        if ((e as { code?: string }).code === 'WRONG_EXPECTED_VERSION') continue;
        throw e;
      }
    }
    return null;
  }

  /**
   * Routes with `route` and takes the chosen center's slot (limit: its capacity). A center whose slots
   * all turn out held is full, whatever the live index's count said: it is routed again with that
   * center counted full, until a slot is taken or the route refuses. The slot taken, or null with the refusal.
   */
  async routeWithSlot<R extends { ok: true; callCenterId: string } | { ok: false }>(
    callCenters: Readonly<Record<string, { capacity: number }>>,
    merchantId: string,
    callId: string,
    now: Date,
    meta: CommandMetadata,
    route: (activeCalls: Record<string, number>) => R,
  ): Promise<{ route: R; slot: HeldSlot | null }> {
    const full = new Set<string>();
    for (;;) {
      const activeCalls = this.live.activeByCenter(merchantId);
      for (const id of full) activeCalls[id] = callCenters[id].capacity;
      const r = route(activeCalls);
      if (!r.ok) return { route: r, slot: null };
      const slot = await this.takeSlot('center', r.callCenterId, callCenters[r.callCenterId].capacity, callId, now, meta);
      if (slot !== null) return { route: r, slot: { scope: 'center', ownerId: r.callCenterId, slot } };
      full.add(r.callCenterId);
    }
  }

  /** Gives a slot back (idempotent: a slot the call does not hold stays as it is). */
  async freeSlot(held: HeldSlot, callId: string, meta: CommandMetadata): Promise<void> {
    await this.execute(releasesOf(callId, { slots: [{ ...held, callId }], ports: [] }, this.releaseContext()), meta);
  }

  /**
   * Seizes a free port on the gateway nearest the center. The port's own stream is the consistency
   * boundary: the seize appends with the version just read, so of two processes racing for one port
   * exactly one wins; the loser sees NO_PORT from the decider (or a version conflict) and tries the next.
   */
  async seizePort(callId: string, merchantId: string, region: string, now: Date, meta: CommandMetadata): Promise<Line | null> {
    const gateways = [...this.live.gateways.values()];
    for (const gatewayId of orderGateways(gateways.map((g) => ({ gatewayId: g.gatewayId, region: g.region })), region)) {
      const gateway = this.live.gateways.get(gatewayId)!;
      for (const port of this.candidates(gateway.ports, (p) => portStreamId(gatewayId, p.number), (p) => this.live.portBusy(gatewayId, p.number, now))) {
        const stream = portStreamId(gatewayId, port.number);
        try {
          const r = await this.reserved(stream, () =>
            this.handler.handle(
              portDecider,
              stream,
              { type: 'SeizePort', data: { gatewayId, port: port.number, ani: port.ani, callId, merchantId, at: now.toISOString() } },
              { ...meta, merchantId: null },
            ),
          );
          if (r.events.length > 0) {
            this.taken(callId).ports.push({ gatewayId, port: port.number });
            return { gatewayId, port: port.number, ani: port.ani };
          }
        } catch (e) {
          if (e instanceof DomainError && e.code === 'NO_PORT') continue;
          if ((e as { code?: string }).code === 'WRONG_EXPECTED_VERSION') continue;
          throw e;
        }
      }
    }
    return null;
  }

  /** Releases a port the call holds, with the ANI quarantine (idempotent: another call's port stays seized). */
  async releasePort(callId: string, gatewayId: string, port: number, meta: CommandMetadata): Promise<void> {
    await this.execute(releasesOf(callId, { slots: [], ports: [{ gatewayId, port, callId }] }, this.releaseContext()), meta);
  }

  /**
   * The call effects' step for an ended call: frees every slot and releases every port it holds
   * (src/domain/capacity/react.ts), as far as the index has seen up to `seen` (a position the caller
   * knows is stored: the index is exact up to it). Idempotent.
   */
  async releaseAll(ended: Pick<CallTerminated, 'type' | 'data'>, seen: string, meta: CommandMetadata): Promise<void> {
    await this.live.waitFor(seen);
    const { callId } = ended.data;
    await this.execute(this.notGivenBack(callId, react(ended, this.holdings(callId), this.releaseContext())), meta, true);
    this.takenHere.delete(callId);
    this.releasedHere.delete(callId);
  }

  /** The same, as far as the index has seen now, for a call known to have ended (see releasedHere). */
  async releaseHeld(callId: string, meta: CommandMetadata): Promise<void> {
    await this.execute(this.notGivenBack(callId, releasesOf(callId, this.holdings(callId), this.releaseContext())), meta, true);
    this.takenHere.delete(callId);
  }

  /** What the call holds: as the index knows it, and what this process took (the index may lag). */
  private holdings(callId: string): Holdings {
    const here = this.takenHere.get(callId);
    return {
      slots: [...this.live.slotsOf(callId), ...(here?.slots ?? []).map((h) => ({ ...h, callId }))],
      ports: [...this.live.portsOf(callId), ...(here?.ports ?? [])].map((p) => ({ gatewayId: p.gatewayId, port: p.port, callId })),
    };
  }

  private releaseContext(): ReleaseContext {
    return { at: this.clock.now().toISOString(), quarantineSeconds: this.options.aniQuarantineSeconds };
  }

  /** Drops the commands for streams this process gave back already for the call (see releasedHere). */
  private notGivenBack(callId: string, commands: ReleaseCommand[]): ReleaseCommand[] {
    const released = this.releasedHere.get(callId);
    return released ? commands.filter((c) => !released.has(c.streamId)) : commands;
  }

  /**
   * Runs release commands through the command handler, one after the other, and drops each stream
   * from its call's record here (takenHere); for an ended call (`ended`) it also remembers each
   * stream given back (releasedHere). An initiation that gives back what it took is no ended call:
   * a retried initiation of the same call may take the same stream again.
   */
  private async execute(commands: readonly ReleaseCommand[], meta: CommandMetadata, ended = false): Promise<void> {
    for (const { streamId, command } of commands) {
      if (command.type === 'FreeSlot') await this.handler.handle(slotDecider, streamId, command, meta);
      else await this.handler.handle(portDecider, streamId, command, { ...meta, merchantId: null });
      const { callId } = command.data;
      this.forget(callId, streamId);
      if (!ended) continue;
      const released = this.releasedHere.get(callId) ?? new Set<string>();
      released.add(streamId);
      this.releasedHere.delete(callId); // re-inserted: the newest entry
      this.releasedHere.set(callId, released);
      if (this.releasedHere.size > RELEASED_CALLS) this.releasedHere.delete(this.releasedHere.keys().next().value!);
    }
  }

  /** Drops a stream given back from this process's record of the call. */
  private forget(callId: string, streamId: string): void {
    const t = this.takenHere.get(callId);
    if (!t) return;
    t.slots = t.slots.filter((h) => slotStreamId(h.scope, h.ownerId, h.slot) !== streamId);
    t.ports = t.ports.filter((p) => portStreamId(p.gatewayId, p.port) !== streamId);
    if (t.slots.length === 0 && t.ports.length === 0) this.takenHere.delete(callId);
  }

  private taken(callId: string): { slots: HeldSlot[]; ports: Array<{ gatewayId: string; port: number }> } {
    let t = this.takenHere.get(callId);
    if (!t) this.takenHere.set(callId, (t = { slots: [], ports: [] }));
    return t;
  }

  /**
   * Candidates in the order worth trying: first those this process believes free and none of its
   * initiations has reserved, lowest first; then the rest (a hint can be stale: the append decides).
   * Lazy, so that a free candidate near the front costs nothing for the ones behind it.
   */
  private *candidates<T>(all: Iterable<T>, streamOf: (c: T) => string, believedBusy: (c: T) => boolean): Generator<T> {
    const later: T[] = [];
    for (const c of all) {
      if (believedBusy(c) || this.inFlight.has(streamOf(c))) later.push(c);
      else yield c;
    }
    yield* later;
  }

  /**
   * Appends through the handler with `streamId` reserved: while the append runs and, when it
   * stored events, until this process's index has seen them (its hint would say "free" until then).
   */
  private async reserved<S, E>(streamId: string, work: () => Promise<HandleResult<S, E>>): Promise<HandleResult<S, E>> {
    this.inFlight.set(streamId, (this.inFlight.get(streamId) ?? 0) + 1);
    const release = () => {
      const n = (this.inFlight.get(streamId) ?? 1) - 1;
      if (n > 0) this.inFlight.set(streamId, n);
      else this.inFlight.delete(streamId);
    };
    let r: HandleResult<S, E>;
    try {
      r = await work();
    } catch (e) {
      release();
      throw e;
    }
    const position = r.stored.at(-1)?.position;
    if (position === undefined) release();
    else void this.live.waitFor(position).then(release);
    return r;
  }
}
