import { Kafka, logLevel as KafkaLogLevel, Partitioners, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type LogEntry, type Producer } from 'kafkajs';
import { ALL_TOPICS, PublisherFencedError, retryDelayMs, topicOf, type BusPublisher, type BusSubscription, type EventBatch, type EventBus, type SubscribeOptions, type Topic } from '../../../ports/bus';
import type { StoredEvent } from '../../../ports/event-store';
import { decodeMessage, encodeEvent, encodeWatermark, headerText, H, KafkaDecodeError } from './codec';
import { reconnectDelayMs } from '../../../ports/dependency';
import { SpanKind, tracedBatch } from '../../../observability/tracing';

/** How long a stopping group waits to leave before it goes on without a goodbye. */
const LEAVE_WAIT_MS = 3_000;

/** The logical dead-letter topic (physical name: topicPrefix + this). */
export const DEAD_LETTER_TOPIC = 'webdial.deadletter';

/**
 * The logical topic that anchors the publishers' checkpoints: nothing is written to it; each
 * publisher's transactions commit an offset on its partition 0 for the consumer group named like
 * the publisher's transactional id, with the position as the offset's metadata.
 */
export const PUBLISHERS_TOPIC = 'webdial.publishers';

/** Headers added to a dead-lettered message, next to the original ones. */
export const DLQ_HEADERS = {
  group: 'dlq.group',
  error: 'dlq.error',
  attempts: 'dlq.attempts',
  topic: 'dlq.topic',
  partition: 'dlq.partition',
  offset: 'dlq.offset',
} as const;

/** pino-compatible: `logger.warn({ ...fields }, 'message')`. A pino Logger fits as it is. */
export interface BusLogger {
  /** Optional: kafkajs' retried error responses go here (dropped when absent). */
  debug?(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export type ClientLogLevel = 'nothing' | 'error' | 'warn' | 'info';

export interface KafkaBusConfig {
  brokers: string[];
  clientId: string;
  /** Partitions of each category topic when the bus creates it (existing topics are left alone). */
  partitions: number;
  logger?: BusLogger;
  /** Prepended to every topic name (tests isolate themselves on a shared broker with a random one). Default ''. */
  topicPrefix?: string;
  /** Events handed to a handler at once, at most (a fetched batch is cut into these). Default 500. */
  maxBatchEvents?: number;
  /**
   * Watermark markers (see codec.ts) are sent to every partition after publishes, at most once per
   * this many milliseconds (the last one always follows). Default 20 ms.
   */
  watermarkIntervalMs?: number;
  /**
   * Told about each broker failure the bus survives (a consumer that crashed and is started again,
   * watermark markers not sent): for a metric. Failed publishes reject instead (the caller retries).
   */
  onError?: (error: unknown, where: string) => void;
  /** A message no one can decode was dead-lettered (for the dead-letter table and a metric). */
  onDeadLetter?: (d: { group: string; origin: string; error: string; payload: string | null }) => void;
  /** Replication factor of created topics. Default 1 (the single-node broker of scripts/kafka). */
  replicationFactor?: number;
  /** kafkajs' own log lines, routed to `logger`. Default 'warn'. */
  clientLogLevel?: ClientLogLevel;
  /** Longest a fetch waits for `minBytes` of new data. Default 100 ms. */
  maxWaitTimeMs?: number;
  /**
   * How long the group waits for a member that stopped talking (killed -9) before its partitions go
   * to the others, and how long a rebalance waits for members to rejoin. Default 10 s (kafkajs: 30 s
   * and 60 s, which left a dead instance's partitions unread for 30 s and held a stopping instance
   * in a rebalance). The broker's group.min.session.timeout.ms (6 s) is the floor.
   */
  sessionTimeoutMs?: number;
  /** Bytes a fetch waits for (at most maxWaitTimeMs) before it answers. Default 1: a long poll. */
  minBytes?: number;
  /**
   * Handler calls of one group at once when the subscriber does not say (SubscribeOptions.concurrency).
   * Order per stream holds for any value (a stream is one partition). Default 2. kafkajs itself
   * works on every partition of a fetch at once, so that the marker-only batches of a fetch are
   * coalesced into one delivery.
   */
  partitionsConsumedConcurrently?: number;
  /** How long subscribe() waits for the group to join and fetch before resolving anyway. Default 30 s. */
  joinTimeoutMs?: number;
  /**
   * A publisher's transaction left open (its process killed between send and commit) is aborted by
   * the broker after this long, unless a new publisher of the name starts first (it aborts it at
   * once). Until then consumers (read committed) wait on the partitions it wrote. Default 10 s.
   */
  transactionTimeoutMs?: number;
}

interface Group {
  name: string;
  /** The running consumer; replaced when one crashed for good. */
  consumer: Consumer;
  stopped: boolean;
  /** A replacement consumer is due (after a crash kafkajs does not recover from). */
  restart: NodeJS.Timeout | null;
  /** Handler calls at once, at most (the subscriber's concurrency), and those running. */
  slots: number;
  busy: number;
  /** Partition batches waiting for a free slot: the next delivery takes all of them at once. */
  pending: Part[];
  flush: NodeJS.Immediate | null;
  /** eachBatch calls in progress: a stop lets them finish before its last offset commit. */
  inflight: Set<Promise<void>>;
  /** Commits every resolved, uncommitted offset of the running consumer (set by its first batch). */
  commit: (() => Promise<void>) | null;
  committing: Promise<void> | null;
}

/** A batch of one partition (its events, its watermark), told whether a delivery handed it over. */
interface Part {
  source: string;
  events: StoredEvent[];
  watermark: string | null;
  payload: EachBatchPayload;
  /** Whether a delivery handed it over; rejected with what escaped the bus's own code (the consumer crashes). */
  done: (delivered: boolean) => void;
  fail: (error: unknown) => void;
}

const silentLogger: BusLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** One line on stderr per warning or error; info is dropped. Used when no logger is given. */
export const stderrLogger: BusLogger = {
  info: () => undefined,
  warn: (fields, msg) => process.stderr.write(`kafka-bus WARN ${msg} ${safeJson(fields)}\n`),
  error: (fields, msg) => process.stderr.write(`kafka-bus ERROR ${msg} ${safeJson(fields)}\n`),
};

const safeJson = (v: unknown): string => {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (x instanceof Error ? { name: x.name, message: x.message } : x));
  } catch {
    return String(v);
  }
};

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const KAFKAJS_LEVEL: Record<ClientLogLevel, KafkaLogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
};

/**
 * The Kafka adapter of the EventBus port, on kafkajs.
 *
 * Publishing: one topic per category (topicOf), key = stream id, the JSON envelope as value and the
 * routing facts as headers (codec.ts). publisher(name) publishes in Kafka transactions instead
 * (KafkaPublisher, below): exactly once across crashes, fenced by name. The producer is idempotent with acks=-1 and one request in
 * flight, so a retried send neither duplicates nor reorders a partition: per-stream order holds.
 *
 * Consuming: one kafkajs consumer (and consumer group) per subscribe call, `eachBatch`. Messages
 * are decoded, the partitions of a fetch handed over together (one delivery, see consume()), the
 * handler awaited, and only then are the offsets resolved, and committed when the next fetch
 * starts. So an offset is committed only after the handler's effect, never before: a crash
 * re-delivers at most the uncommitted last fetch (at least once), and consumers make their
 * effects idempotent (by stream version). A handler that throws gets the same batch again, with
 * backoff and heartbeats, for as long as it throws (its database is down): never skipped. Only a
 * message that cannot be decoded goes to `webdial.deadletter` (headers naming the group, the error
 * and its offset), one error line is logged, and the group goes on after it; if even the dead-letter
 * write fails (broker down), it is retried before the offset moves. A consumer that crashes is
 * restarted (by kafkajs, or here when kafkajs gives up on it).
 */
export class KafkaBus implements EventBus {
  readonly name = 'kafka';
  private readonly kafka: Kafka;
  private readonly adminKafka: Kafka;
  private readonly producer: Producer;
  private readonly groups = new Set<Group>();
  private readonly publishers = new Set<KafkaPublisher>();
  private readonly logger: BusLogger;
  private readonly prefix: string;
  private starting: Promise<void> | null = null;
  private closed = false;
  /** Partitions per physical topic, learnt when the topics are ensured. */
  private readonly partitionCount = new Map<string, number>();
  private watermark: { pending: string | null; sent: string | null; lastAt: number; timer: NodeJS.Timeout | null; sending: Promise<void> | null } = {
    pending: null,
    sent: null,
    lastAt: 0,
    timer: null,
    sending: null,
  };

  constructor(private readonly config: KafkaBusConfig) {
    if (config.brokers.length === 0) throw new Error('KafkaBus: at least one broker (host:port) is required');
    if (!Number.isInteger(config.partitions) || config.partitions < 1) throw new Error(`KafkaBus: partitions must be an integer >= 1, got ${config.partitions}`);
    this.logger = config.logger ?? stderrLogger;
    this.prefix = config.topicPrefix ?? '';
    const clientLevel = config.clientLogLevel ?? 'warn';
    const log = config.logger ?? (clientLevel === 'nothing' ? silentLogger : stderrLogger);
    const client = (retry: { initialRetryTime: number; maxRetryTime: number; retries: number }) =>
      new Kafka({
        clientId: config.clientId,
        brokers: config.brokers,
        logLevel: KAFKAJS_LEVEL[clientLevel],
        logCreator: () => (entry: LogEntry) => routeClientLog(log, entry),
        retry,
      });
    // A broker restart takes 10-20 s here: the data path retries for about a minute before failing.
    this.kafka = client({ initialRetryTime: 300, maxRetryTime: 5_000, retries: 15 });
    // Start-up retries less (kafkajs reconnects with the client's retry, whatever admin() is given):
    // a broker that is not there should stop the process within seconds with one clear line.
    this.adminKafka = client({ initialRetryTime: 300, maxRetryTime: 2_000, retries: 4 });
    this.producer = this.kafka.producer({
      idempotent: true,
      // Idempotence allows up to 5 in flight; kafkajs only guarantees ordering with 1.
      maxInFlightRequests: 1,
      // Java-compatible murmur2 partitioning: the same key lands where a Java or librdkafka client puts it.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
  }

  /** The physical topic name of a logical one. */
  topicName(topic: Topic | typeof DEAD_LETTER_TOPIC | typeof PUBLISHERS_TOPIC): string {
    return `${this.prefix}${topic}`;
  }

  /** The transactional id of a publisher's producer, which is also the group id holding its checkpoint. */
  transactionalIdOf(publisher: string): string {
    return `${this.prefix}webdial.publisher.${publisher}`;
  }

  /** Connects the producer and creates the category and dead-letter topics. Idempotent; concurrent calls share one start. */
  start(): Promise<void> {
    this.starting ??= this.connect().catch((e) => {
      this.starting = null; // a later call may try again
      throw e;
    });
    return this.starting;
  }

  private async connect(): Promise<void> {
    // The admin client is only needed here: it is disconnected again once the topics exist.
    const admin = this.adminKafka.admin();
    try {
      await admin.connect();
      // A topic just created may not be known to the broker that answers the next request yet
      // (KRaft propagates metadata from the controller): UNKNOWN_TOPIC_OR_PARTITION, retriable.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.ensureTopics(admin);
          break;
        } catch (e) {
          if (attempt >= 10 || (e as { retriable?: unknown }).retriable !== true) throw e;
          await sleep(Math.min(2_000, 100 * 2 ** attempt));
        }
      }
      await this.producer.connect();
    } catch (e) {
      throw new Error(`Kafka bus could not start on ${this.config.brokers.join(',')}: ${errorText(e)}`, { cause: e });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private async ensureTopics(admin: Admin): Promise<void> {
    const replicationFactor = this.config.replicationFactor ?? 1;
    const wanted = [
      ...ALL_TOPICS.map((t) => ({ topic: this.topicName(t), numPartitions: this.config.partitions, replicationFactor })),
      // One partition: dead letters are rare and easiest to read in the order they failed.
      { topic: this.topicName(DEAD_LETTER_TOPIC), numPartitions: 1, replicationFactor },
      // Never written to: its partition 0 carries the publishers' checkpoints as group offsets.
      { topic: this.topicName(PUBLISHERS_TOPIC), numPartitions: 1, replicationFactor },
    ];
    await admin.createTopics({ topics: wanted, waitForLeaders: true });
    // createTopics skips existing topics silently: say so when one has a different partition count.
    const meta = await admin.fetchTopicMetadata({ topics: wanted.map((w) => w.topic) });
    for (const t of meta.topics) {
      this.partitionCount.set(t.name, t.partitions.length);
      const want = wanted.find((w) => w.topic === t.name)!.numPartitions;
      if (t.partitions.length !== want)
        this.logger.warn({ topic: t.name, partitions: t.partitions.length, configured: want }, `topic ${t.name} exists with ${t.partitions.length} partitions, not ${want}: left as it is`);
    }
  }

  async publish(events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.assertOpen();
    await this.start();
    // Tracing on: a producer span per trace; each message's traceparent header names its span.
    await tracedBatch('kafka.produce', events, { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'send' } }, async (traced) => {
      await this.producer.sendBatch({ acks: -1, topicMessages: this.topicMessages(traced) });
    });
    this.markWatermark(events[events.length - 1].position);
  }

  /** The events as messages per category topic, in order. */
  topicMessages(events: readonly StoredEvent[]): Array<{ topic: string; messages: ReturnType<typeof encodeEvent>[] }> {
    const byTopic = new Map<string, ReturnType<typeof encodeEvent>[]>();
    for (const e of events) {
      const topic = this.topicName(topicOf(e.streamId));
      const list = byTopic.get(topic) ?? [];
      list.push(encodeEvent(e));
      byTopic.set(topic, list);
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  /**
   * A transactional publisher (kafkajs' transactional producer, transactionalId = transactionalIdOf(name)):
   * each publish sends the events and commits the checkpoint (a group offset on PUBLISHERS_TOPIC
   * whose metadata is the last position) in one Kafka transaction. Consumers read committed
   * messages only (kafkajs' default), so an aborted or abandoned publish is never delivered.
   */
  publisher(name: string): BusPublisher {
    this.assertOpen();
    const publisher = new KafkaPublisher(this, this.kafka, this.adminKafka, name, this.config.transactionTimeoutMs ?? 10_000);
    this.publishers.add(publisher);
    return publisher;
  }

  /**
   * Moves every partition's watermark to `position` (everything up to it is published): a marker
   * to each partition of each category topic, throttled to one round per watermarkIntervalMs with
   * the newest position always sent last. The relay calls it on start for its checkpoint too, so a
   * marker lost in a crash is sent again. Never fails: a failed round is retried.
   */
  markWatermark(position: string): void {
    const w = this.watermark;
    if (this.closed || (w.sent !== null && position <= w.sent) || (w.pending !== null && position <= w.pending)) return;
    w.pending = position;
    this.scheduleWatermark();
  }

  private scheduleWatermark(): void {
    const w = this.watermark;
    if (w.timer || w.sending || w.pending === null || this.closed) return;
    const wait = Math.max(0, w.lastAt + (this.config.watermarkIntervalMs ?? 20) - Date.now());
    w.timer = setTimeout(() => {
      w.timer = null;
      w.sending = this.sendWatermark().finally(() => {
        w.sending = null;
        this.scheduleWatermark(); // a newer position arrived meanwhile, or this round failed
      });
    }, wait);
    w.timer.unref();
  }

  private async sendWatermark(): Promise<void> {
    const w = this.watermark;
    const position = w.pending;
    if (position === null) return;
    w.pending = null;
    w.lastAt = Date.now();
    const marker = encodeWatermark(position);
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: ALL_TOPICS.map((t) => this.topicName(t)).map((topic) => ({
          topic,
          messages: Array.from({ length: this.partitionCount.get(topic) ?? this.config.partitions }, (_, partition) => ({ ...marker, partition })),
        })),
      });
      if (w.sent === null || position > w.sent) w.sent = position;
    } catch (e) {
      // The broker is away: keep the position and try again (after the interval, or the next publish).
      const newer = w.pending as string | null; // a publish may have set one meanwhile
      if (newer === null || newer < position) w.pending = position;
      this.logger.warn({ err: errorText(e), position }, 'watermark markers not sent; retrying');
      this.config.onError?.(e, 'watermark markers');
      await sleep(500);
    }
  }

  async sources(topics: readonly Topic[]): Promise<string[]> {
    await this.start();
    return topics.flatMap((t) => Array.from({ length: this.partitionCount.get(this.topicName(t)) ?? this.config.partitions }, (_, p) => `${t}/${p}`));
  }

  /** Asks the cluster for its brokers, with a short timeout: for /readyz. */
  async ping(): Promise<void> {
    this.assertOpen();
    const admin = this.adminKafka.admin();
    try {
      await Promise.race([
        (async () => {
          await admin.connect();
          await admin.describeCluster();
        })(),
        sleep(3_000).then(() => {
          throw new Error('Kafka did not answer within 3 s');
        }),
      ]);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async subscribe(group: string, topics: readonly Topic[], handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions = {}): Promise<BusSubscription> {
    // afterPosition is ignored: Kafka keeps the group's committed offsets (see the port's JSDoc).
    this.assertOpen();
    await this.start();
    const g: Group = {
      name: group,
      consumer: null as unknown as Consumer,
      stopped: false,
      restart: null,
      slots: Math.max(1, options.concurrency ?? this.config.partitionsConsumedConcurrently ?? 2),
      busy: 0,
      pending: [],
      flush: null,
      inflight: new Set(),
      commit: null,
      committing: null,
    };
    this.groups.add(g);
    try {
      await this.runConsumer(g, topics, handler, options, true);
    } catch (e) {
      this.groups.delete(g);
      throw e;
    }
    return { stop: () => this.stopGroup(g) };
  }

  /**
   * Starts a consumer of the group. kafkajs restarts a consumer itself after a retriable crash (a
   * broker away for longer than its retries); after any other crash (an error it does not know as
   * retriable) the consumer stays dead and the group would end: then a new consumer is started here,
   * with backoff, from the committed offsets, until one runs. A crash is never the group's end.
   */
  private async runConsumer(g: Group, topics: readonly Topic[], handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions, first: boolean): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: g.name,
      // A long poll: the broker answers a fetch as soon as there is a byte to give, or after
      // maxWaitTime with nothing. Under load the batches form by themselves (what arrives while a
      // batch is applied is the next fetch's). Waiting for 16 KiB with a 20 ms cap instead made no
      // measurable difference to the pipeline's rate or lag, and polled 50 times a second per
      // group while idle: an idle server used 145-187 ms of CPU a second, 83-95 with the long poll.
      maxWaitTimeInMs: this.config.maxWaitTimeMs ?? 100,
      minBytes: this.config.minBytes ?? 1,
      sessionTimeout: this.config.sessionTimeoutMs ?? 10_000,
      rebalanceTimeout: this.config.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: Math.max(500, Math.floor((this.config.sessionTimeoutMs ?? 10_000) / 10)),
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 15 },
    });
    g.consumer = consumer;
    g.commit = null;
    // Offsets are committed once per fetch, not once per partition batch (kafkajs' autoCommit):
    // a fetch starts once every batch of the previous one was handled, so its start commits them.
    consumer.on(consumer.events.FETCH_START, () => this.commitResolved(g, consumer));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (g.stopped || g.consumer !== consumer) return;
      this.config.onError?.(payload.error, `consumer ${g.name}`);
      if (payload.restart) return; // kafkajs starts it again itself
      this.logger.error({ group: g.name, err: errorText(payload.error) }, `consumer of ${g.name} crashed (${errorText(payload.error)}); starting a new one`);
      this.restartLater(g, topics, handler, options, 1);
    });
    // Only a group that starts at the newest offset must be placed before subscribe() resolves, or an
    // event published just after would be missed. A group that starts from its committed offsets or
    // the oldest event misses nothing however long its join takes, so start-up does not wait for it:
    // after a kill -9 the dead member stays in the group until its session times out (30 s), and
    // the join waits that long (a restarted instance did not listen for 28-33 s).
    const placeFirst = first && !options.fromBeginning;
    const joined = placeFirst ? this.waitUntilFetching(consumer) : Promise.resolve();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: topics.map((t) => this.topicName(t)), fromBeginning: options.fromBeginning ?? false });
    } catch (e) {
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    // kafkajs's run() resolves only once the member has joined and synced its group.
    const partitions = topics.reduce((n, t) => n + (this.partitionCount.get(this.topicName(t)) ?? this.config.partitions), 0);
    const running = consumer.run({
      // Committed here, per fetch (commitResolved), instead of after every partition batch.
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every partition of a fetch at once: the handler's own concurrency is g.slots, and the
      // marker-only batches of the fetch meet in one delivery instead of one transaction each.
      partitionsConsumedConcurrently: Math.max(partitions, g.slots),
      eachBatch: (payload) => this.consume(g, handler, options, payload),
    });
    if (first && !placeFirst) {
      // Joins in the background; a failure to start is a crash like any other: told, then started again.
      running.catch((e: unknown) => {
        if (g.stopped || this.closed || g.consumer !== consumer) return;
        this.config.onError?.(e, `consumer ${g.name}`);
        this.restartLater(g, topics, handler, options, 1);
      });
      return;
    }
    try {
      await running;
    } catch (e) {
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    await joined;
  }

  private restartLater(g: Group, topics: readonly Topic[], handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions, attempt: number): void {
    if (g.stopped || this.closed || g.restart) return;
    const restart = async () => {
      g.restart = null;
      if (g.stopped || this.closed) return;
      await g.consumer.disconnect().catch(() => undefined);
      try {
        await this.runConsumer(g, topics, handler, options, false);
        this.logger.warn({ group: g.name, attempt }, `consumer of ${g.name} started again after a crash`);
      } catch (e) {
        this.config.onError?.(e, `consumer ${g.name}`);
        this.restartLater(g, topics, handler, options, attempt + 1);
      }
    };
    g.restart = setTimeout(() => void restart(), reconnectDelayMs(attempt));
    g.restart.unref();
  }

  /**
   * Resolves once the consumer joined its group and completed a first fetch: from then on its
   * start offsets are fixed, so an event published after subscribe() resolved is not missed by a
   * new group that starts at the newest offset. Gives up quietly after joinTimeoutMs.
   */
  private waitUntilFetching(consumer: Consumer): Promise<void> {
    return new Promise<void>((resolve) => {
      let joined = false;
      const removers: (() => void)[] = [];
      const done = () => {
        clearTimeout(timer);
        for (const r of removers) r();
        resolve();
      };
      const timer = setTimeout(() => {
        this.logger.warn({}, `consumer did not join and fetch within ${this.config.joinTimeoutMs ?? 30_000} ms; going on`);
        done();
      }, this.config.joinTimeoutMs ?? 30_000);
      removers.push(consumer.on(consumer.events.GROUP_JOIN, () => void (joined = true)));
      removers.push(consumer.on(consumer.events.FETCH, () => joined && done()));
      removers.push(consumer.on(consumer.events.CRASH, () => done()));
    });
  }

  /**
   * One fetched batch of one partition: decoded, cut into parts of at most maxBatchEvents, each
   * handed over until the handler succeeds, and only then its last offset resolved (committed with
   * the whole fetch, by commitResolved). Parts are not handed over one by one: every part waiting
   * when a slot frees goes to the handler in one delivery (the events of all, each part's
   * watermark in `source`/`marks`), so that a fetch of many partitions costs one or a few handler
   * calls (one transaction each for the projections), and a partition that brought only
   * watermark markers none of its own. A rebalance that takes the partition away mid-batch
   * (isStale) stops here with the rest unresolved: the next owner gets it again, and consumers
   * dedupe by stream version, so nothing is lost and nothing applied twice. A message no one can
   * decode is dead-lettered alone, with its offset, and the batch goes on after it.
   */
  private async consume(g: Group, handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions, p: EachBatchPayload): Promise<void> {
    const work = this.consumeBatch(g, handler, options, p);
    g.inflight.add(work);
    try {
      await work;
    } finally {
      g.inflight.delete(work);
    }
  }

  private async consumeBatch(g: Group, handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions, p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    g.commit = () => p.commitOffsetsIfNecessary(p.uncommittedOffsets());
    const source = `${batch.topic.slice(this.prefix.length)}/${batch.partition}`;
    const max = this.config.maxBatchEvents ?? 500;
    let events: StoredEvent[] = [];
    let watermark: string | null = null;
    let lastOffset: string | null = null;
    const gone = () => g.stopped || !p.isRunning() || p.isStale();
    const hand = async (): Promise<boolean> => {
      if (lastOffset === null) return true;
      if (gone()) return false;
      const part = { source, events, watermark, payload: p };
      const delivered = await new Promise<boolean>((done, fail) => {
        g.pending.push({ ...part, done, fail });
        this.scheduleFlush(g, handler, options);
      });
      if (!delivered) return false; // left unresolved: redelivered to whoever owns the partition next
      p.resolveOffset(lastOffset);
      await p.heartbeat();
      events = [];
      lastOffset = null;
      return true;
    };
    for (const message of batch.messages) {
      if (gone()) return;
      let decoded: ReturnType<typeof decodeMessage>;
      try {
        decoded = decodeMessage(message);
      } catch (e) {
        if (!(e instanceof KafkaDecodeError)) throw e;
        // Retrying cannot fix a malformed message: what came before it first, then it alone.
        if (!(await hand())) return;
        await this.deadLetter(g, batch.topic, batch.partition, message, e);
        p.resolveOffset(message.offset);
        continue;
      }
      const position = decoded.kind === 'watermark' ? decoded.position : decoded.event.position;
      if (decoded.kind === 'event') events.push(decoded.event);
      if (watermark === null || position > watermark) watermark = position;
      lastOffset = message.offset;
      if (events.length >= max && !(await hand())) return;
    }
    await hand();
  }

  /**
   * Once the partitions of the fetch under way have queued their parts (setImmediate), and
   * whenever a slot frees: every waiting part goes to the handler in one delivery, while slots last.
   */
  private scheduleFlush(g: Group, handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions): void {
    if (g.flush) return;
    g.flush = setImmediate(() => {
      g.flush = null;
      while (g.busy < g.slots && g.pending.length > 0) void this.deliver(g, handler, options, this.takeParts(g));
    });
  }

  /** The waiting parts, oldest first, up to maxBatchEvents events (at least one part). */
  private takeParts(g: Group): Part[] {
    const max = this.config.maxBatchEvents ?? 500;
    let n = 0;
    let take = 0;
    while (take < g.pending.length && (take === 0 || n + g.pending[take].events.length <= max)) n += g.pending[take++].events.length;
    return g.pending.splice(0, take);
  }

  /**
   * Hands the parts to the handler in one delivery (in a slot of the group), again and again until
   * it succeeds; each part is told whether it was handed over (not when the group stopped first),
   * or fails with what escaped the bus's own code (its partition's eachBatch rethrows it: a crash).
   * Never rejects.
   */
  private async deliver(g: Group, handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions, parts: Part[]): Promise<void> {
    g.busy++;
    let delivered = false;
    let error: { cause: unknown } | null = null;
    try {
      const [first, ...rest] = parts;
      const p = first.payload;
      const delivery: EventBatch = {
        events: parts.length === 1 ? first.events : parts.flatMap((x) => x.events),
        source: first.source,
        watermark: first.watermark,
        ...(rest.length > 0 ? { marks: rest.flatMap(({ source, watermark }) => (watermark === null ? [] : [{ source, watermark }])) } : {}),
      };
      const topic = first.source.slice(0, first.source.lastIndexOf('/'));
      const traceAttributes = { 'messaging.system': 'kafka', 'messaging.consumer.group.name': g.name, 'messaging.destination.name': this.topicName(topic as Topic) };
      delivered = await this.untilHandled(g, handler, options, p, delivery, () => !g.stopped && !this.closed && p.isRunning(), traceAttributes);
    } catch (e) {
      error = { cause: e };
    } finally {
      g.busy--;
      for (const part of parts) if (error) part.fail(error.cause);
      else part.done(delivered);
      if (g.pending.length > 0) this.scheduleFlush(g, handler, options);
    }
  }

  /** The handler with the delivery, again with backoff for as long as it throws and `wanted()`; false if it stopped being wanted. */
  private async untilHandled(
    g: Group,
    handler: (batch: EventBatch) => Promise<void>,
    options: SubscribeOptions,
    p: EachBatchPayload,
    delivery: EventBatch,
    wanted: () => boolean,
    traceAttributes: Record<string, string>,
  ): Promise<boolean> {
    for (let attempt = 1; wanted(); attempt++) {
      try {
        // Tracing on: a consumer span per trace in the batch, children of the producers' spans.
        await tracedBatch(`kafka.consume ${g.name}`, delivery.events, { kind: SpanKind.CONSUMER, attributes: traceAttributes }, (traced) =>
          handler(traced === delivery.events ? delivery : { ...delivery, events: traced }),
        );
        return true;
      } catch (e) {
        options.onRetry?.(e, attempt, delivery);
        await sleep(retryDelayMs(attempt));
        await p.heartbeat().catch(() => undefined);
      }
    }
    return false;
  }

  /** Commits what the group's consumer has resolved, one commit at a time; a failure waits for the next fetch. */
  private commitResolved(g: Group, consumer: Consumer): void {
    if (g.committing || !g.commit || g.consumer !== consumer || g.stopped) return;
    const commit = g.commit;
    g.committing = commit()
      .catch((e: unknown) => this.logger.debug?.({ group: g.name, err: errorText(e) }, 'offset commit failed; the next fetch commits again'))
      .finally(() => {
        g.committing = null;
      });
  }

  private async deadLetter(g: Group, topic: string, partition: number, message: KafkaMessage, err: unknown): Promise<void> {
    const headers: Record<string, Buffer | string> = {};
    for (const [k, v] of Object.entries(message.headers ?? {})) {
      const first = Array.isArray(v) ? v[0] : v;
      if (first !== undefined) headers[k] = first;
    }
    Object.assign(headers, {
      [DLQ_HEADERS.group]: g.name,
      [DLQ_HEADERS.error]: errorText(err).slice(0, 1000),
      [DLQ_HEADERS.attempts]: '1',
      [DLQ_HEADERS.topic]: topic,
      [DLQ_HEADERS.partition]: String(partition),
      [DLQ_HEADERS.offset]: message.offset,
    });
    // Sent before the offset moves on: if the broker is down, this retries (never skips the message).
    for (let attempt = 1; ; attempt++) {
      try {
        await this.producer.send({ topic: this.topicName(DEAD_LETTER_TOPIC), acks: -1, messages: [{ key: message.key, value: message.value, headers }] });
        break;
      } catch (e) {
        if (g.stopped) throw e;
        await sleep(retryDelayMs(attempt));
      }
    }
    const type = headerText(message.headers, H.type) ?? '?';
    const position = headerText(message.headers, H.position) ?? '?';
    const origin = `${topic}/${partition}@${message.offset}`;
    this.config.onDeadLetter?.({ group: g.name, origin, error: errorText(err), payload: message.value ? message.value.toString('base64') : null });
    this.logger.error(
      { group: g.name, topic, partition, offset: message.offset, type, position, err: errorText(err) },
      `dead-lettered ${type}@${position} (${origin}) for group ${g.name}: ${errorText(err)}; the group goes on`,
    );
  }

  private async stopGroup(g: Group): Promise<void> {
    if (g.stopped) return;
    g.stopped = true;
    if (g.restart) clearTimeout(g.restart);
    this.groups.delete(g);
    // The batches in progress end (a stopped group hands nothing more over), then what they
    // resolved is committed (kafkajs does not, with autoCommit off), then the group is left.
    await Promise.allSettled([...g.inflight]);
    await g.committing;
    await g.commit?.().catch((e: unknown) => this.logger.warn({ group: g.name, err: errorText(e) }, 'last offset commit failed; the next owner repeats a few batches'));
    // Leaving waits for a rebalance under way (another instance joining). Bounded: what this member
    // handled is committed above, and a member that did not say goodbye is dropped by the group
    // after its session timeout (a rolling restart was held 17-20 s here).
    const left = g.consumer.disconnect();
    const bound = new Promise<'late'>((r) => setTimeout(() => r('late'), LEAVE_WAIT_MS).unref());
    if ((await Promise.race([left, bound])) === 'late') {
      this.logger.warn({ group: g.name, ms: LEAVE_WAIT_MS }, `consumer of ${g.name} did not leave its group within ${LEAVE_WAIT_MS} ms (a rebalance under way); going on, the group drops it after its session timeout`);
      left.catch(() => undefined);
    }
  }

  /** Graceful shutdown: consumers first (they commit what they finished), then the producer and admin. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watermark.timer) clearTimeout(this.watermark.timer);
    await this.watermark.sending;
    await Promise.all([...this.groups].map((g) => this.stopGroup(g).catch((e) => this.logger.warn({ group: g.name, err: errorText(e) }, 'consumer disconnect failed'))));
    await Promise.all([...this.publishers].map((p) => p.close()));
    await this.producer.disconnect().catch((e) => this.logger.warn({ err: errorText(e) }, 'producer disconnect failed'));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('KafkaBus is closed');
  }
}

/** True for the broker's answers that mean a newer producer of the same transactional id exists. */
const isFencing = (e: unknown): boolean => {
  for (let x: unknown = e, depth = 0; x && depth < 5; x = (x as { cause?: unknown; originalError?: unknown }).cause ?? (x as { originalError?: unknown }).originalError, depth++) {
    const type = (x as { type?: unknown }).type;
    // PRODUCER_FENCED (90) is newer than kafkajs 2.2.4, which reports it as an unknown error code.
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || (x as { code?: unknown }).code === 90) return true;
  }
  return false;
};

/**
 * The Kafka side of {@link BusPublisher}. start() connects a new transactional producer: its
 * InitProducerId bumps the id's epoch, which fences every older producer of the id (their next
 * request fails with INVALID_PRODUCER_EPOCH) and aborts a transaction one of them left open, before
 * it answers (kafkajs retries CONCURRENT_TRANSACTIONS meanwhile). Then the checkpoint is read: the
 * offset metadata of the group named like the id, which only committed transactions set.
 */
class KafkaPublisher implements BusPublisher {
  private producer: Producer | null = null;
  /** Set by a rejected publish: fenced for good, or unknown until start() again. */
  private state: 'new' | 'ready' | 'fenced' | 'unknown' | 'closed' = 'new';

  constructor(
    private readonly bus: KafkaBus,
    private readonly kafka: Kafka,
    private readonly adminKafka: Kafka,
    readonly name: string,
    private readonly transactionTimeoutMs: number,
  ) {}

  private get id(): string {
    return this.bus.transactionalIdOf(this.name);
  }

  async start(): Promise<string | null> {
    if (this.state === 'closed') throw new Error(`publisher ${this.name} is closed`);
    await this.bus.start();
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = null;
    const producer = this.kafka.producer({
      transactionalId: this.id,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.transactionTimeoutMs,
      // The next transaction's AddPartitionsToTxn meets CONCURRENT_TRANSACTIONS while the broker still
      // writes the previous one's commit markers (a few ms): retried after 10 ms, not kafkajs' 300
      // (which made a transaction of one event take 300 ms whenever publishes followed each other).
      // Doubling to 2 s, about 20 s in all, before the publish fails (then start() again).
      retry: { initialRetryTime: 10, maxRetryTime: 2_000, retries: 16 },
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    try {
      await producer.connect();
      // kafkajs sends InitProducerId with the first transaction: begun and ended empty (no request).
      const init = await producer.transaction();
      await init.abort();
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
    this.producer = producer;
    const position = await this.checkpoint();
    this.state = 'ready';
    return position;
  }

  /** The position the last committed transaction recorded, or null. */
  private async checkpoint(): Promise<string | null> {
    const admin = this.adminKafka.admin();
    try {
      await admin.connect();
      const [topic] = await admin.fetchOffsets({ groupId: this.id, topics: [this.bus.topicName(PUBLISHERS_TOPIC)] });
      const p = topic?.partitions.find((x) => x.partition === 0);
      return p && Number(p.offset) >= 0 && p.metadata ? p.metadata : null;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async publish(events: StoredEvent[]): Promise<void> {
    if (this.state === 'fenced') throw new PublisherFencedError(this.name);
    if (this.state !== 'ready' || !this.producer) throw new Error(`publisher ${this.name}: start() it ${this.state === 'unknown' ? 'again after a failed publish' : 'before publishing'}`);
    if (events.length === 0) return;
    const position = events[events.length - 1].position;
    const producer = this.producer;
    await tracedBatch('kafka.produce', events, { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'webdial.publisher': this.name } }, async (traced) => {
      const tx = await producer.transaction();
      try {
        await tx.sendBatch({ acks: -1, topicMessages: this.bus.topicMessages(traced) });
        await tx.sendOffsets({
          consumerGroupId: this.id,
          // kafkajs passes a partition's metadata through to TxnOffsetCommit; its types omit it.
          topics: [{ topic: this.bus.topicName(PUBLISHERS_TOPIC), partitions: [{ partition: 0, offset: '0', metadata: position } as { partition: number; offset: string }] }],
        });
        await tx.commit();
      } catch (e) {
        if (isFencing(e)) {
          this.state = 'fenced';
          throw new PublisherFencedError(this.name, { cause: e });
        }
        // Aborted when the broker can still be told; either way only start() knows what committed.
        this.state = 'unknown';
        if (tx.isActive()) await tx.abort().catch(() => undefined);
        throw e;
      }
    });
    this.bus.markWatermark(position);
  }

  async close(): Promise<void> {
    this.state = 'closed';
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = null;
  }
}

const routeClientLog = (log: BusLogger, { level, log: entry }: LogEntry): void => {
  const { message, ...fields } = entry;
  // kafkajs warns that finite retries void exactly-once semantics: we promise at least once (the
  // relay retries a failed publish and consumers dedupe), and a finite count lets publish() fail
  // during an outage instead of hanging. Not worth a warning on every start.
  if (message.startsWith('Limiting retries for the idempotent producer')) return;
  const text = `kafkajs: ${message}`;
  // kafkajs logs every error response at ERROR, retriable ones included ("not the leader" right after
  // a topic is created, "coordinator is loading" on a fresh broker). It retries them itself; a failure
  // that outlives the retries surfaces as a rejected publish or a consumer crash, logged on its own.
  if (level === KafkaLogLevel.ERROR && message.startsWith('Response ')) return log.debug?.(fields, text);
  // A publisher's next transaction begun while the broker completes the last one: retried at once.
  if (level === KafkaLogLevel.ERROR && message.includes('another concurrent operation on the same transaction')) return log.debug?.(fields, text);
  // Reconnect attempts are retried too: one warning each, the final failure is an error of its own.
  if (level === KafkaLogLevel.ERROR && /^(Connection error|Failed to connect to seed broker)/.test(message)) return log.warn(fields, text);
  if (level === KafkaLogLevel.ERROR) log.error(fields, text);
  else if (level === KafkaLogLevel.WARN) log.warn(fields, text);
  else log.info(fields, text);
};

/** Builds the bus, connects it and creates its topics. Rejects when the brokers cannot be reached. */
export const createKafkaBus = async (config: KafkaBusConfig): Promise<KafkaBus> => {
  const bus = new KafkaBus(config);
  try {
    await bus.start();
  } catch (e) {
    await bus.close();
    throw e;
  }
  return bus;
};
