import type { StoredEvent } from '../ports/event-store';
import type { Topic } from '../ports/bus';
import type { Sql } from './db';
import type { TableDef, Tables } from './tables';

export type ProjectionName = 'call-history' | 'billing' | 'crm-context' | 'gateway-ports';
export const PROJECTION_NAMES: readonly ProjectionName[] = ['call-history', 'billing', 'crm-context', 'gateway-ports'];

/**
 * A projection as a View (STYLE §9): the event types it handles and a function that writes the
 * rows one event implies. `apply` runs inside the transaction that also records the checkpoint,
 * and is only called for an event not applied before, in stream order, so it may read-modify-write.
 * It must not throw for data it does not expect (an unknown call, say): it logs and returns.
 */
export interface View {
  readonly name: ProjectionName;
  /** Kafka topics (bus topics) whose events this view needs. */
  readonly topics: readonly Topic[];
  /** Every table the view owns; rebuild recreates and swaps exactly these. */
  readonly tables: readonly TableDef[];
  handles(type: string): boolean;
  apply(tx: Sql, t: Tables, event: StoredEvent): Promise<void>;
}

/** What the read side logs (pino-compatible subset). */
export interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const consoleLogger: Logger = {
  warn: (obj, msg) => console.warn(`[projections] WARN ${msg} ${JSON.stringify(obj)}`),
  error: (obj, msg) => console.error(`[projections] ERROR ${msg} ${JSON.stringify(obj)}`),
};

export const handlesFrom =
  (types: readonly string[]) =>
  (type: string): boolean =>
    types.includes(type);
