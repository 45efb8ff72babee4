import { CURRENT_SCHEMA_VERSION } from '../../domain/events';
import { UPCAST_STEPS } from '../../domain/upcasters';
import type { StoredEvent } from '../../ports/event-store';

/**
 * Schema evolution. Stored events keep the schema version they were written with; adapters run
 * them through an {@link UpcasterRegistry} on every read so callers only ever see current shapes.
 * Old rows are never rewritten: the history stays exactly as it was recorded.
 */

/** Turns the `data` of one event type from `fromVersion` into `fromVersion + 1`. Must be pure. */
export type Upcaster = (data: unknown, event: Readonly<StoredEvent>) => unknown;

export class UpcasterRegistry {
  private readonly upcasters = new Map<string, Upcaster>();

  /**
   * @param currentVersions current schema version per type; types absent here are at version 1
   *   (unknown types are passed through untouched).
   */
  constructor(private readonly currentVersions: Readonly<Record<string, number>>) {}

  /** Registers the step `fromVersion → fromVersion + 1` for `type`. Throws on a duplicate step. */
  register(type: string, fromVersion: number, upcaster: Upcaster): this {
    const key = `${type}@${fromVersion}`;
    if (this.upcasters.has(key)) throw new Error(`upcaster ${key} registered twice`);
    this.upcasters.set(key, upcaster);
    return this;
  }

  /** The schema version new events of `type` are written with. */
  currentVersion(type: string): number {
    return this.currentVersions[type] ?? 1;
  }

  /**
   * Applies every step from the event's stored version up to the current one. A missing step is a
   * programming error (a version bump without its upcaster) and throws rather than hand out data
   * of the wrong shape. Events newer than this code knows are returned unchanged.
   */
  upcast<E extends StoredEvent>(event: E): E {
    const target = this.currentVersion(event.type);
    if (event.schemaVersion >= target) return event;
    let data = event.data;
    for (let v = event.schemaVersion; v < target; v++) {
      const step = this.upcasters.get(`${event.type}@${v}`);
      if (!step) throw new Error(`no upcaster for ${event.type} from schema version ${v} to ${v + 1}`);
      data = step(data, event);
    }
    return { ...event, data, schemaVersion: target };
  }
}

/**
 * The production registry: the domain's schema steps (src/domain/upcasters.ts). When a type's
 * CURRENT_SCHEMA_VERSION is bumped, add its step there.
 */
export const productionUpcasters = UPCAST_STEPS.reduce(
  (r, step) => r.register(step.type, step.fromVersion, (data) => step.up(data as Record<string, unknown>)),
  new UpcasterRegistry(CURRENT_SCHEMA_VERSION),
);
