import { Kafka, logLevel as KafkaLogLevel, Partitioners, type Admin, type Consumer, type EachMessagePayload, type LogEntry, type Producer } from 'kafkajs';
import { ALL_TOPICS, type BusSubscription, type EventBus, type Topic } from '../../../ports/bus';
import type { StoredEvent } from '../../../ports/event-store';
import { topicOf } from '../../../domain/shared/streams';
import { decodeEvent, encodeEvent, headerText, H, KafkaDecodeError } from './codec';

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
  /** Handler attempts for one message before it is dead-lettered. Default 3. */
  maxAttempts?: number;
  /** Pause before attempt n+1 is n × this. Default 100 ms. */
  retryDelayMs?: number;
  /** Replication factor of created topics. Default 1 (the single-node broker of scripts/kafka). */
  replicationFactor?: number;
  /** kafkajs' own log lines, routed to `logger`. Default 'warn'. */
  clientLogLevel?: ClientLogLevel;
  /** Longest a fetch waits for new data when a partition is idle. Default 500 ms. */
  maxWaitTimeMs?: number;
  /**
   * Partitions a consumer works on at once (kafkajs partitionsConsumedConcurrently). Order per
   * stream holds for any value (a stream is one partition); more overlaps slow handlers. Default 1.
   */
  partitionsConsumedConcurrently?: number;
  /** How long subscribe() waits for the group to join and fetch before resolving anyway. Default 30 s. */
  joinTimeoutMs?: number;
}

interface Group {
  name: string;
  consumer: Consumer;
  stopped: boolean;
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
    return JSON.stringify(v, (_k, x) => (x instanceof Error ? { name: x.name, message: x.message } : x));
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
 * Consuming: one kafkajs consumer (and consumer group) per subscribe call. Each message is decoded,
 * the handler awaited, and only then is the offset resolved; kafkajs' autoCommit commits resolved
 * offsets at the end of each fetched batch, on rebalance and on disconnect. So an offset is committed
 * only after the handler's effect, never before: a crash re-delivers at most the uncommitted tail
 * of a batch (at least once), and consumers make their effects idempotent (by position/eventId).
 * A handler that throws maxAttempts times for the same message, or a message that cannot be
 * decoded, goes to `webdial.deadletter` with headers naming the group and the error, one error line
 * is logged, and the group goes on with the next message. If even the dead-letter write fails
 * (broker down), eachMessage throws and kafkajs re-delivers the message later: nothing is skipped silently.
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
      const want = wanted.find((w) => w.topic === t.name)!.numPartitions;
      if (t.partitions.length !== want)
        this.logger.warn({ topic: t.name, partitions: t.partitions.length, configured: want }, `topic ${t.name} exists with ${t.partitions.length} partitions, not ${want}: left as it is`);
    }
  }

  async publish(events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.assertOpen();
    await this.start();
    const byTopic = new Map<string, ReturnType<typeof encodeEvent>[]>();
    for (const e of events) {
      const topic = this.topicName(topicOf(e.streamId));
      const list = byTopic.get(topic) ?? [];
      list.push(encodeEvent(e));
      byTopic.set(topic, list);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  async subscribe(
    group: string,
    topics: readonly Topic[],
    handler: (event: StoredEvent) => Promise<void>,
    // afterPosition is ignored: Kafka keeps the group's committed offsets (see the port's JSDoc).
    options: { fromBeginning?: boolean; afterPosition?: string | null } = {},
  ): Promise<BusSubscription> {
    this.assertOpen();
    await this.start();
    const consumer = this.kafka.consumer({
      groupId: group,
      maxWaitTimeInMs: this.config.maxWaitTimeMs ?? 500,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 15 },
    });
    const g: Group = { name: group, consumer, stopped: false };
    this.groups.add(g);
    const joined = this.waitUntilFetching(consumer);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: topics.map((t) => this.topicName(t)), fromBeginning: options.fromBeginning ?? false });
      await consumer.run({
        autoCommit: true,
        partitionsConsumedConcurrently: this.config.partitionsConsumedConcurrently ?? 1,
        eachMessage: (payload) => this.consume(g, handler, payload),
      });
    } catch (e) {
      this.groups.delete(g);
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    await joined;
    return { stop: () => this.stopGroup(g) };
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

  private async consume(g: Group, handler: (event: StoredEvent) => Promise<void>, p: EachMessagePayload): Promise<void> {
    let event: StoredEvent;
    try {
      event = decodeEvent(p.message);
    } catch (e) {
      // Retrying cannot fix a malformed message: dead-letter it at once.
      if (e instanceof KafkaDecodeError) return this.deadLetter(g, p, e, 0);
      throw e;
    }
    const max = this.config.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      if (g.stopped) throw new Error('consumer stopping: leave the message uncommitted'); // redelivered to the next member
      try {
        await handler(event);
        return;
      } catch (e) {
        if (attempt >= max) return this.deadLetter(g, p, e, attempt);
        await sleep((this.config.retryDelayMs ?? 100) * attempt);
        await p.heartbeat();
      }
    }
  }

  private async deadLetter(g: Group, p: EachMessagePayload, err: unknown, attempts: number): Promise<void> {
    const { message, topic, partition } = p;
    const headers: Record<string, Buffer | string> = {};
    for (const [k, v] of Object.entries(message.headers ?? {})) {
      const first = Array.isArray(v) ? v[0] : v;
      if (first !== undefined) headers[k] = first;
    }
    Object.assign(headers, {
      [DLQ_HEADERS.group]: g.name,
      [DLQ_HEADERS.error]: errorText(err).slice(0, 1000),
      [DLQ_HEADERS.attempts]: String(attempts),
      [DLQ_HEADERS.topic]: topic,
      [DLQ_HEADERS.partition]: String(partition),
      [DLQ_HEADERS.offset]: message.offset,
    });
    // Awaited before eachMessage returns: the offset moves on only once the dead letter is stored.
    await this.producer.send({
      topic: this.topicName(DEAD_LETTER_TOPIC),
      acks: -1,
      messages: [{ key: message.key, value: message.value, headers }],
    });
    const type = headerText(message.headers, H.type) ?? '?';
    const position = headerText(message.headers, H.position) ?? '?';
    this.logger.error(
      { group: g.name, topic, partition, offset: message.offset, type, position, attempts, err: errorText(err) },
      `dead-lettered ${type}@${position} (${topic}[${partition}]@${message.offset}) for group ${g.name} after ${attempts} attempt(s): ${errorText(err)}; the group goes on`,
    );
  }

  private async stopGroup(g: Group): Promise<void> {
    if (g.stopped) return;
    g.stopped = true;
    this.groups.delete(g);
    // disconnect() waits for the running eachMessage, commits resolved offsets and leaves the group.
    await g.consumer.disconnect();
  }

  /** Graceful shutdown: consumers first (they commit what they finished), then the producer and admin. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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
