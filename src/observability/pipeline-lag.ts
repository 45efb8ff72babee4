import { Gauge, type Registry } from 'prom-client';
import type { EventStore } from '../ports/event-store';
import type { Clock } from '../ports/clock';

/** Age in seconds of the oldest stored event after `position` (0 when there is none): one indexed read of one event. */
const ageAfter = async (store: EventStore, position: string | null, clock: Clock): Promise<number> => {
  const [next] = await store.readAll({ after: position, limit: 1 });
  return next ? Math.max(0, (clock.now().getTime() - Date.parse(next.recordedAt)) / 1000) : 0;
};

/**
 * Lags read at scrape time from the store, rather than set by the component as it works: a relay or
 * a projection that is stuck (broker down, a failing write) shows a lag that grows, not its last
 * good value.
 * - `webdial_relay_lag_seconds`: the oldest stored event the relay has not published to the bus yet.
 * - `webdial_projection_pending_seconds{projection}`: the oldest stored event after the projection's
 *   checkpoint (its highest applied position: with Kafka, other partitions may still hold older
 *   events, so this is a lower bound).
 */
export const registerPipelineLag = (
  registry: Registry,
  store: EventStore,
  clock: Clock,
  sources: { relay: () => string | null; projections: () => Promise<Array<{ name: string; position: string | null }>> },
): void => {
  new Gauge({
    name: 'webdial_relay_lag_seconds',
    help: 'Age of the oldest stored event not yet published to the bus by the relay (0 when caught up)',
    registers: [registry],
    async collect() {
      const age = await ageAfter(store, sources.relay(), clock).catch(() => null);
      if (age !== null) this.set(age);
    },
  });
  new Gauge({
    name: 'webdial_projection_pending_seconds',
    help: "Age of the oldest stored event after a projection's checkpoint (0 when caught up)",
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      const checkpoints = await sources.projections().catch(() => []);
      for (const { name, position } of checkpoints) {
        const age = await ageAfter(store, position, clock).catch(() => null);
        if (age !== null) this.set({ projection: name }, age);
      }
    },
  });
};
