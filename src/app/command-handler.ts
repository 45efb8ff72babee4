import type { Decider } from '../domain/shared/decider';
import { fold } from '../domain/shared/decider';
import type { EventStore, NewEvent, StoredEvent } from '../ports/event-store';
import { WrongExpectedVersionError } from '../ports/event-store';
import { CURRENT_SCHEMA_VERSION, type WebdialEventType } from '../domain/events';
import type { IdGenerator } from './ids';

/** Who caused a command: carried into every event's envelope. */
export interface CommandMetadata {
  correlationId: string;
  causationId: string | null;
  /** The merchant the stream belongs to (null for admin-level streams such as gateways). */
  merchantId: string | null;
}

export interface HandleResult<S, E> {
  /** State after the new events. */
  state: S;
  /** The domain events decided (may be empty: an idempotent repeat). */
  events: E[];
  stored: StoredEvent[];
}

/**
 * The one generic command handler (STYLE §7): read the stream, fold with evolve, decide, append with
 * the expected version; on a version conflict re-read and decide again (another writer got there
 * first), up to `maxRetries`. Domain errors propagate unchanged; resolvers hold no business rules.
 */
export class CommandHandler {
  constructor(
    private readonly store: EventStore,
    private readonly ids: IdGenerator,
    private readonly maxRetries = 5,
  ) {}

  async load<S, C, E extends { type: string; data: unknown }>(
    decider: Decider<S, C, E>,
    streamId: string,
  ): Promise<{ state: S; version: number }> {
    const events = await this.store.readStream(streamId);
    const state = fold(decider.evolve, decider.initialState, events.map((e) => ({ type: e.type, data: e.data }) as E));
    return { state, version: events.length === 0 ? 0 : events[events.length - 1]!.streamVersion };
  }

  async handle<S, C, E extends { type: string; data: unknown }>(
    decider: Decider<S, C, E>,
    streamId: string,
    command: C | ((state: S) => C),
    meta: CommandMetadata,
  ): Promise<HandleResult<S, E>> {
    for (let attempt = 0; ; attempt++) {
      const { state, version } = await this.load(decider, streamId);
      const cmd = typeof command === 'function' ? (command as (s: S) => C)(state) : command;
      const events = decider.decide(cmd, state);
      if (events.length === 0) return { state, events, stored: [] };
      try {
        const result = await this.store.append(streamId, events.map((e) => this.toNew(e, meta)), version);
        return { state: fold(decider.evolve, state, events), events, stored: result.events };
      } catch (e) {
        if (e instanceof WrongExpectedVersionError && attempt < this.maxRetries) continue;
        throw e;
      }
    }
  }

  private toNew(e: { type: string; data: unknown }, meta: CommandMetadata): NewEvent {
    const at = (e.data as { at?: string }).at;
    return {
      eventId: this.ids.eventId(),
      type: e.type,
      data: e.data,
      occurredAt: at ?? new Date().toISOString(),
      merchantId: meta.merchantId,
      correlationId: meta.correlationId,
      causationId: meta.causationId,
      schemaVersion: CURRENT_SCHEMA_VERSION[e.type as WebdialEventType] ?? 1,
    };
  }
}
