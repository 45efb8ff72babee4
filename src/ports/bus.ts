import type { StoredEvent } from './event-store';
import { callStreamId, categoryOf, transferStreamId } from '../domain/shared/streams';

export type Topic = 'webdial.calls' | 'webdial.merchants' | 'webdial.gateways';
export const ALL_TOPICS: readonly Topic[] = ['webdial.calls', 'webdial.merchants', 'webdial.gateways'];

/**
 * The bus's topic of a stream, per category (ARCHITECTURE §4): ports, slots and gateways share
 * webdial.gateways; keys and webhook endpoints ride with merchants. A property of the bus, not of
 * the domain: one topic keeps the order of every stream that shares it.
 */
export const topicOf = (streamId: string): Topic => {
  switch (categoryOf(streamId)) {
    case 'call':
    // A center's queue travels with the calls (keyed by its stream id: one partition keeps its order).
    case 'queue':
    // A call's callbacks and transfers too: the call's consumers (timeline, billing, webhooks) read them.
    case 'callback':
    case 'transfer':
      return 'webdial.calls';
    case 'gateway':
    case 'port':
    case 'slot':
      return 'webdial.gateways';
    case 'merchant':
    case 'apikey':
    case 'webhook':
    case 'did':
      return 'webdial.merchants';
  }
};

/**
 * The key of a stream's messages on the bus (Kafka's partition key): the stream id, so that a stream
 * stays on one partition, in order. Except a call's transfers (`transfer-<callId>`, issue 25), keyed
 * by the call's own stream: billing splits a call into legs at its hand-overs, so a TransferCompleted
 * stored before its call's CallTerminated must reach the read side before it, and only one partition
 * keeps that order. (Every event of the transfer stream still lands on one partition, in order.)
 */
export const busKeyOf = (streamId: string): string => {
  if (categoryOf(streamId) !== 'transfer') return streamId;
  const callId = streamId.slice(transferStreamId('').length);
  return callStreamId(callId);
};

export interface BusSubscription {
  stop(): Promise<void>;
}

/**
 * What a consumer receives: consecutive events of one source, in order, and how far that source
 * has been delivered; on Kafka, with what other sources brought at the same time (`marks`).
 */
export interface EventBatch {
  /**
   * In delivery order: per stream in version order (a stream belongs to one source). Events of
   * `source` and of the sources in `marks`. Empty when only watermarks moved.
   */
  readonly events: readonly StoredEvent[];
  /** Where the batch comes from: `memory`, or `<topic>/<partition>` on Kafka. Watermarks are per source. */
  readonly source: string;
  /**
   * Every event at or before this position that this source carries has now been delivered (in
   * this batch or an earlier one); null when the source cannot tell yet. The lowest watermark over
   * all of a group's sources is how far the group has consumed the store's global order.
   */
  readonly watermark: string | null;
  /**
   * Further sources handed over in this batch instead of in batches of their own (Kafka: the
   * partitions of one fetch, coalesced into one delivery; most of them often hold only watermark
   * markers): their events are in `events`, and each one's watermark is here, with the meaning of
   * `watermark`. A consumer that keeps watermarks advances each of them with this batch; one that
   * does not may ignore them. Absent on the in-process bus.
   */
  readonly marks?: readonly SourceMark[];
}

/** One source's watermark (see {@link EventBatch.marks}). */
export interface SourceMark {
  readonly source: string;
  readonly watermark: string;
}

export interface SubscribeOptions {
  /** A new group starts at the oldest retained event (otherwise at the newest). */
  fromBeginning?: boolean;
  /**
   * The consumer's own checkpoint. A bus without retention (in-process) catches the group up from
   * the event store after it; a bus with committed offsets (Kafka) ignores it.
   */
  afterPosition?: string | null;
  /** Told each time a batch failed and will be retried (for a log line and a metric). */
  onRetry?: (error: unknown, attempt: number, batch: EventBatch) => void;
  /**
   * Handler calls at once, at most (Kafka: deliveries of different partitions, each possibly
   * holding several; order per source always holds). For a handler whose batches are round trips
   * to a database that takes concurrent transactions. Default: the bus's own (in-process: 1).
   */
  concurrency?: number;
}

/**
 * Publication that happens once (the relay's): each publish carries the publisher's checkpoint with
 * its events, atomically, and a publisher fences every older publisher of its name. One name per
 * cluster job (`relay`); whoever holds the job's lease calls start() and publishes.
 */
export interface BusPublisher {
  readonly name: string;
  /**
   * Takes the name over: from now on every older publisher of this name (another process, or a
   * zombie leader that was paused past its lease) fails its publish with {@link PublisherFencedError},
   * and a publish one of them left half done (killed between its send and its commit) is undone.
   * Resolves to the last position a publish of this name committed (null before the first): the
   * caller publishes what follows it. Call it again after any publish rejection other than fencing.
   */
  start(): Promise<string | null>;
  /**
   * Publishes the events (the store's global order, consecutive after the last committed
   * position) and records the last one's position as the checkpoint, in one step: consumers see
   * all of them or none, and the checkpoint moves exactly when they do. Rejects with
   * {@link PublisherFencedError} once a newer publisher of the name started (stop: the job is
   * someone else's); with anything else the outcome is unknown until start() is called again,
   * whose position says whether these events were committed.
   */
  publish(events: StoredEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** A newer publisher of the same name started: this one can publish nothing more. */
export class PublisherFencedError extends Error {
  readonly code = 'PUBLISHER_FENCED';
  constructor(
    readonly publisher: string,
    options?: { cause?: unknown },
  ) {
    super(`publisher ${publisher} was fenced: a newer publisher of the same name started`, options);
    this.name = 'PublisherFencedError';
  }
}

/**
 * The event bus port (in-process and Kafka adapters). The relay is its only publisher; projections,
 * GraphQL subscriptions and the webhook worker consume.
 *
 * Delivery is at least once, in order per stream (the key), in batches. The handler is awaited
 * before a batch counts as consumed, and a handler that throws gets the same batch again, with
 * backoff, for as long as it throws: a bus never skips an event because a consumer's database is
 * down. A consumer that finds an event it can never apply deals with it itself (dead-letters it and
 * returns). Only a message the bus cannot decode is dead-lettered by the bus, alone, with its offset.
 */
export interface EventBus {
  readonly name: string;
  /**
   * Resolves once every event is durably accepted (Kafka: acks=-1, idempotent producer). Events are
   * published in the store's global order, so each call also moves every source's watermark to
   * its last event's position.
   */
  publish(events: StoredEvent[]): Promise<void>;
  /**
   * A publisher that publishes once across crashes and fences older publishers of `name` (see
   * {@link BusPublisher}): what the relay of a cluster publishes through, instead of publish() and
   * a checkpoint of its own. Its publishes move the watermarks like publish().
   */
  publisher(name: string): BusPublisher;
  /**
   * Tells every source that everything up to `position` has been published, without an event (the
   * relay on start, for its checkpoint: a watermark lost in a crash is sent again). Never fails.
   */
  markWatermark(position: string): void;
  /**
   * Starts a consumer group: each group gets every event of its topics. Without `fromBeginning`, it
   * resolves once the group is placed (nothing published afterwards is missed); with it, as soon as
   * the consumer runs: the group resumes from its committed offsets (or the oldest event) whenever
   * its join completes, so a caller never waits on a rebalance.
   */
  subscribe(group: string, topics: readonly Topic[], handler: (batch: EventBatch) => Promise<void>, options?: SubscribeOptions): Promise<BusSubscription>;
  /** Every source a group of these topics receives batches from (Kafka: each partition). */
  sources(topics: readonly Topic[]): Promise<string[]>;
  /** Resolves when the bus can publish and consume now; rejects with why not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Backoff of retried batches: 100 ms doubling to 5 s, with jitter. */
export const retryDelayMs = (attempt: number): number => Math.min(5_000, 100 * 2 ** Math.min(attempt - 1, 6)) * (0.75 + Math.random() * 0.5);
