import { ALL_TOPICS, type EventBatch, type EventBus } from '../ports/bus';
import type { EventStore, StoredEvent } from '../ports/event-store';
import { reconnectDelayMs } from '../ports/dependency';
import type { BatchOutcome, ReadModels } from '../projections';
import { tracedBatch } from '../observability/tracing';
import { follow } from './follow';
import type { Process } from './processes';

/** What the read side's process tells the server about (metrics, logs, waiters): the composition root wires it. */
export interface ReadSideObserver {
  /** A batch was applied: each projection's outcome, at `now` (ms). */
  applied(outcomes: ReadonlyMap<string, BatchOutcome>, batch: EventBatch, now: number): void;
  /** A batch failed and will be handed over again (nothing is skipped). */
  retry(error: unknown, attempt: number, batch: EventBatch): void;
}

export interface ProjectionsDeps {
  bus: Pick<EventBus, 'subscribe' | 'sources'>;
  readModels: ReadModels;
  /** The consumer group's name (`<prefix>webdial.projections`). */
  group: string;
  /** Batches applied at once (PostgreSQL takes concurrent transactions; SQLite has one writer). */
  concurrency: number;
  observer: ReadSideObserver;
}

/**
 * The read side as a process: one consumer group of every topic (each event moves its stream's
 * version and its source's watermark), each batch applied to every projection in one transaction,
 * resuming from the lowest checkpoint among them (each projection skips what it has applied). A
 * `cluster` process of a shared group: the bus hands each partition to one instance.
 *
 * Call it once the read models are open: it tells them which sources to expect and reads where
 * they stand.
 */
export const projectionsProcess = async (deps: ProjectionsDeps): Promise<Process> => {
  const { bus, readModels, observer } = deps;
  const sources = await bus.sources(ALL_TOPICS);
  const checkpoints: Array<string | null> = [];
  for (const p of readModels.projections) {
    await readModels.expectSources(p.name, sources);
    checkpoints.push(await readModels.checkpoint(p.name));
  }
  const resumeAfter = checkpoints.some((c) => c === null) ? null : [...(checkpoints as string[])].sort()[0];
  return {
    name: 'projections',
    scope: 'cluster',
    sharedGroup: true,
    start: () =>
      follow(
        { bus, topics: ALL_TOPICS, group: deps.group },
        {
          name: 'projections',
          scope: 'cluster',
          checkpoint: { from: 'group', fromBeginning: true, after: resumeAfter },
          handleBatch: async (batch) => {
            const outcomes = await tracedBatch('projection.batch', batch.events, { attributes: { 'webdial.projections': readModels.projections.length } }, () => readModels.applyAll(batch));
            observer.applied(outcomes, batch, Date.now());
          },
          concurrency: deps.concurrency,
          onRetry: (err, attempt, batch) => observer.retry(err, attempt, batch),
        },
      ),
  };
};

/**
 * Resolves once every projection has applied everything stored when it was called (tests, the
 * demo, the bench); rejects after `timeoutMs`.
 */
export const settled = async (store: Pick<EventStore, 'headPosition'>, readModels: Pick<ReadModels, 'projections' | 'checkpoint'>, timeoutMs = 10_000): Promise<void> => {
  const target = await store.headPosition();
  if (target === null) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cps = await Promise.all(readModels.projections.map((p) => readModels.checkpoint(p.name)));
    if (cps.every((c) => c !== null && c >= target)) return;
    if (Date.now() > deadline) throw new Error(`projections did not reach ${target} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A message no consumer can decode, as the bus dead-lettered it. */
export interface Undecodable {
  group: string;
  origin: string;
  error: string;
  payload: string | null;
}

/**
 * Records an undecodable message in the read database's dead letters, where it is listed with the
 * others. The database may be away at that moment: the record is tried again with backoff until it
 * is written or the server stops (the message itself is safe in the dead-letter topic).
 */
export const recordUndecodable = async (
  readModels: Pick<ReadModels, 'recordUndecodable'>,
  d: Undecodable,
  options: { stopping: () => boolean; onError: (e: unknown, attempt: number) => void },
): Promise<void> => {
  for (let attempt = 1; !options.stopping(); attempt++) {
    try {
      return await readModels.recordUndecodable(d.group, d.origin, d.error, d.payload);
    } catch (err) {
      options.onError(err, attempt);
      await new Promise((r) => setTimeout(r, reconnectDelayMs(attempt)));
    }
  }
};

/** The lag of each applied event, from its append to now (ms), for `onProjected` listeners. */
export const lagsOf = (outcome: BatchOutcome, now: number): Array<{ event: StoredEvent; lagMs: number }> =>
  outcome.applied.map((event) => ({ event, lagMs: Math.max(0, now - Date.parse(event.recordedAt)) }));
