import { Kafka, logLevel as KafkaLogLevel, Partitioners, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type LogEntry, type Producer } from 'kafkajs';
import { ALL_TOPICS, retryDelayMs, topicOf, type BusSubscription, type EventBatch, type EventBus, type SubscribeOptions, type Topic } from '../../../ports/bus';
import type { StoredEvent } from '../../../ports/event-store';
import { decodeMessage, encodeEvent, encodeWatermark, headerText, H, KafkaDecodeError } from './codec';
import { reconnectDelayMs } from '../../../ports/dependency';
import { SpanKind, tracedBatch } from '../../../observability/tracing';

/** The logical dead-letter topic (physical name: topicPrefix + this). */
export const DEAD_LETTER_TOPIC = 'webdial.deadletter';

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
  /** Bytes a fetch waits for (at most maxWaitTimeMs) before it answers. Default 1: a long poll. */
  minBytes?: number;
  /**
   * Partitions a consumer works on at once (kafkajs partitionsConsumedConcurrently). Order per
   * stream holds for any value (a stream is one partition); more overlaps slow handlers. Default 2.
   */
  partitionsConsumedConcurrently?: number;
  /** How long subscribe() waits for the group to join and fetch before resolving anyway. Default 30 s. */
  joinTimeoutMs?: number;
}

interface Group {
  name: string;
  /** The running consumer; replaced when one crashed for good. */
  consumer: Consumer;
  stopped: boolean;
  /** A replacement consumer is due (after a crash kafkajs does not recover from). */
  restart: NodeJS.Timeout | null;
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
 * routing facts as headers (codec.ts). The producer is idempotent with acks=-1 and one request in
 * flight, so a retried send neither duplicates nor reorders a partition: per-stream order holds.
 *
 * Consuming: one kafkajs consumer (and consumer group) per subscribe call, `eachBatch`. Messages
 * are decoded, handed over in batches, the handler awaited, and only then are the offsets resolved
 * and committed. So an offset is committed only after the handler's effect, never before: a crash
 * re-delivers at most the uncommitted tail of a batch (at least once), and consumers make their
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
  topicName(topic: Topic | typeof DEAD_LETTER_TOPIC): string {
    return `${this.prefix}${topic}`;
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
      await this.ensureTopics(admin);
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
      const byTopic = new Map<string, ReturnType<typeof encodeEvent>[]>();
      for (const e of traced) {
        const topic = this.topicName(topicOf(e.streamId));
        const list = byTopic.get(topic) ?? [];
        list.push(encodeEvent(e));
        byTopic.set(topic, list);
      }
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    });
    this.markWatermark(events[events.length - 1].position);
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
    const g: Group = { name: group, consumer: null as unknown as Consumer, stopped: false, restart: null };
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
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 15 },
    });
    g.consumer = consumer;
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
    const running = consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrency ?? this.config.partitionsConsumedConcurrently ?? 2,
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
   * One fetched batch of one partition: decoded, cut into handler batches of at most
   * maxBatchEvents, each handed over until the handler succeeds, and only then its last offset
   * resolved and committed. A rebalance that takes the partition away mid-batch (isStale) stops
   * here with the rest unresolved: the next owner gets it again, and consumers dedupe by stream
   * version, so nothing is lost and nothing applied twice. A message no one can decode is
   * dead-lettered alone, with its offset, and the batch goes on after it.
   */
  private async consume(g: Group, handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions, p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    const source = `${batch.topic.slice(this.prefix.length)}/${batch.partition}`;
    const max = this.config.maxBatchEvents ?? 500;
    let events: StoredEvent[] = [];
    let watermark: string | null = null;
    let lastOffset: string | null = null;
    const gone = () => g.stopped || !p.isRunning() || p.isStale();
    const hand = async (): Promise<boolean> => {
      if (lastOffset === null) return true;
      const delivery: EventBatch = { events, source, watermark };
      for (let attempt = 1; ; attempt++) {
        if (gone()) return false; // leave it uncommitted: redelivered to whoever owns the partition next
        try {
          // Tracing on: a consumer span per trace in the batch, children of the producers' spans.
          await tracedBatch(
            `kafka.consume ${g.name}`,
            delivery.events,
            { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'kafka', 'messaging.consumer.group.name': g.name, 'messaging.destination.name': batch.topic, 'messaging.destination.partition.id': String(batch.partition) } },
            (traced) => handler(traced === delivery.events ? delivery : { ...delivery, events: traced }),
          );
          break;
        } catch (e) {
          options.onRetry?.(e, attempt, delivery);
          await sleep(retryDelayMs(attempt));
          await p.heartbeat().catch(() => undefined);
        }
      }
      p.resolveOffset(lastOffset);
      await p.commitOffsetsIfNecessary();
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
    // disconnect() waits for the running eachMessage, commits resolved offsets and leaves the group.
    await g.consumer.disconnect();
  }

  /** Graceful shutdown: consumers first (they commit what they finished), then the producer and admin. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watermark.timer) clearTimeout(this.watermark.timer);
    await this.watermark.sending;
    await Promise.all([...this.groups].map((g) => this.stopGroup(g).catch((e) => this.logger.warn({ group: g.name, err: errorText(e) }, 'consumer disconnect failed'))));
    await this.producer.disconnect().catch((e) => this.logger.warn({ err: errorText(e) }, 'producer disconnect failed'));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('KafkaBus is closed');
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
