/**
 * Kafka producer and consumer rates of webdial's bus (KafkaBus on kafkajs), side by side in the same
 * run with @platformatic/kafka as a peer, on the same broker, the same messages and the same settings:
 * ~1 KB JSON envelopes encoded by the bus codec, key = stream id, idempotent producer with acks=-1,
 * sends of 500 messages awaited one after the other (the relay's batch), 3 partitions; consumers in a
 * fresh group from the earliest offset with autocommit, decoding every message back to an envelope.
 *
 *   node dist/bench/kafka.js            (KAFKA_BROKERS, default 127.0.0.1:9092; BENCH_QUICK=1 for a smoke run)
 *
 * Each client writes and reads its own fresh topic; the rounds alternate (kafkajs, platformatic,
 * kafkajs, platformatic) so that a slow moment of the machine hits both. Topics are deleted afterwards.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { StoredEvent } from '../src/ports/event-store';
import { ALL_TOPICS, type Topic } from '../src/ports/bus';
import { KafkaBus, PUBLISHERS_TOPIC } from '../src/adapters/bus/kafka/kafka-bus';
import { decodeEvent, encodeEvent } from '../src/adapters/bus/kafka/codec';
import { listening, runKafkaScript } from '../test/support/kafka-broker';
import { machine, percentile, round } from './stats';

const BATCH = 500;
const PARTITIONS = 3;
const STREAMS = 1000;

interface Rates {
  client: string;
  round: number;
  messages: number;
  produceSeconds: number;
  producePerSecond: number;
  /** From the consumer's start to its first message: join + first fetch. */
  consumeStartMs: number;
  /** First message to last: the steady consuming rate. */
  consumeSeconds: number;
  consumePerSecond: number;
}

/** ~1 KB envelopes: 1,000 call streams, each with consecutive versions, interleaved like a store's global order. */
const makeEvents = (n: number): StoredEvent[] => {
  const filler = 'x'.repeat(560);
  return Array.from({ length: n }, (_, i) => ({
    eventId: randomUUID(),
    type: 'CallAnswered',
    streamId: `call-bench${i % STREAMS}`,
    streamVersion: Math.floor(i / STREAMS) + 1,
    position: String(i + 1).padStart(20, '0'),
    occurredAt: new Date(1_700_000_000_000 + i).toISOString(),
    recordedAt: new Date(1_700_000_000_000 + i).toISOString(),
    merchantId: 'm_bench',
    correlationId: randomUUID(),
    causationId: randomUUID(),
    schemaVersion: 1,
    data: { callId: `bench${i % STREAMS}`, at: new Date(1_700_000_000_000 + i).toISOString(), gatewayEventId: `g${i}`, note: filler },
  }));
};

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

const waitFor = async (done: () => boolean, what: () => string, timeoutMs = 300_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`bench timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** kafkajs, exactly as the bus uses it: KafkaBus.publish and KafkaBus.subscribe (eachBatch, offsets committed after the handler). */
const runKafkajs = async (brokers: string[], events: StoredEvent[], roundNo: number): Promise<Rates> => {
  const prefix = `bench${randomUUID().slice(0, 8)}.`;
  const bus = new KafkaBus({ brokers, clientId: 'bench-kafkajs', partitions: PARTITIONS, topicPrefix: prefix, clientLogLevel: 'error' });
  try {
    await bus.start();
    const p0 = process.hrtime.bigint();
    for (let i = 0; i < events.length; i += BATCH) await bus.publish(events.slice(i, i + BATCH));
    const produceSeconds = seconds(p0);

    let count = 0;
    let first = 0n;
    const c0 = process.hrtime.bigint();
    // The bus hands a consumer batches (eachBatch): count their events.
    const sub = await bus.subscribe(`bench-${randomUUID()}`, ['webdial.calls'] as Topic[], async (batch) => {
      if (count === 0) first = process.hrtime.bigint();
      count += batch.events.length;
    }, { fromBeginning: true });
    await waitFor(() => count >= events.length, () => `kafkajs consumed ${count}/${events.length}`);
    const consumeSeconds = seconds(first);
    await sub.stop();
    return result('kafkajs 2.2.4 (KafkaBus)', roundNo, events.length, produceSeconds, Number(first - c0) / 1e6, consumeSeconds);
  } finally {
    await bus.close();
    await deleteTopics(brokers, [...ALL_TOPICS, 'webdial.deadletter', PUBLISHERS_TOPIC].map((t) => prefix + t));
  }
};

interface PublishCost {
  way: 'publish' | 'transactional publisher';
  batch: number;
  batches: number;
  perBatchMs: { p50: number; p99: number };
  eventsPerSecond: number;
}

/**
 * What exactly-once publication costs per batch: the same batches through KafkaBus.publish (the
 * idempotent producer, one produce request) and through a publisher (a Kafka transaction: add
 * partitions, produce, add the checkpoint's offsets, commit), one after the other, awaited one at a
 * time like the relay. Batches of 1, 10 and 100 events (~1 KB each), on 6 partitions.
 */
const runPublishCost = async (brokers: string[], events: StoredEvent[], quick: boolean): Promise<PublishCost[]> => {
  const prefix = `benchtx${randomUUID().slice(0, 8)}.`;
  const bus = new KafkaBus({ brokers, clientId: 'bench-publish-cost', partitions: 6, topicPrefix: prefix, clientLogLevel: 'error' });
  const rows: PublishCost[] = [];
  try {
    await bus.start();
    const publisher = bus.publisher('bench');
    await publisher.start();
    for (const size of [1, 10, 100]) {
      const batches = Math.min(quick ? 50 : 300, Math.floor(events.length / size));
      for (const [way, send] of [
        ['publish', (b: StoredEvent[]) => bus.publish(b)],
        ['transactional publisher', (b: StoredEvent[]) => publisher.publish(b)],
      ] as const) {
        const took: number[] = [];
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < batches; i++) {
          const b0 = process.hrtime.bigint();
          await send(events.slice(i * size, (i + 1) * size));
          took.push(Number(process.hrtime.bigint() - b0) / 1e6);
        }
        const row: PublishCost = { way, batch: size, batches, perBatchMs: { p50: round(percentile(took, 50), 2), p99: round(percentile(took, 99), 2) }, eventsPerSecond: Math.round((batches * size) / seconds(t0)) };
        console.log(`  ${way}, batches of ${size}: per batch p50 ${row.perBatchMs.p50} ms, p99 ${row.perBatchMs.p99} ms; ${row.eventsPerSecond} events/s`);
        rows.push(row);
      }
    }
    await publisher.close();
    return rows;
  } finally {
    await bus.close();
    await deleteTopics(brokers, [...ALL_TOPICS, 'webdial.deadletter', PUBLISHERS_TOPIC].map((t) => prefix + t));
  }
};

/** @platformatic/kafka with the same settings, messages and codec. It is ESM-only: loaded with import(). */
const runPlatformatic = async (brokers: string[], events: StoredEvent[], roundNo: number): Promise<Rates> => {
  const { Admin, Producer, Consumer, stringSerializers } = await import('@platformatic/kafka');
  const topic = `bench${randomUUID().slice(0, 8)}.webdial.calls`;
  const admin = new Admin({ clientId: 'bench-platformatic', bootstrapBrokers: brokers });
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  const producer = new Producer({ clientId: 'bench-platformatic', bootstrapBrokers: brokers, serializers: stringSerializers, idempotent: true, acks: -1 });
  const consumer = new Consumer({ clientId: 'bench-platformatic', groupId: `bench-${randomUUID()}`, bootstrapBrokers: brokers, maxWaitTime: 500 });
  try {
    const p0 = process.hrtime.bigint();
    for (let i = 0; i < events.length; i += BATCH) {
      const messages = events.slice(i, i + BATCH).map((e) => ({ topic, ...encodeEvent(e) }));
      await producer.send({ messages });
    }
    const produceSeconds = seconds(p0);

    let count = 0;
    let first = 0n;
    const c0 = process.hrtime.bigint();
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: true, maxWaitTime: 500 });
    stream.on('data', (m) => {
      // The same decoding work as the bus: headers come as a Map of Buffers.
      const headers: Record<string, Buffer> = {};
      for (const [k, v] of m.headers) headers[k.toString()] = v;
      decodeEvent({ key: m.key, value: m.value, headers });
      if (count++ === 0) first = process.hrtime.bigint();
    });
    await waitFor(() => count >= events.length, () => `platformatic consumed ${count}/${events.length}`);
    const consumeSeconds = seconds(first);
    await stream.close();
    return result('@platformatic/kafka 1.35.0', roundNo, events.length, produceSeconds, Number(first - c0) / 1e6, consumeSeconds);
  } finally {
    await Promise.resolve(consumer.close(true)).catch(() => undefined);
    await producer.close().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  }
};

const result = (client: string, roundNo: number, messages: number, produceSeconds: number, consumeStartMs: number, consumeSeconds: number): Rates => ({
  client,
  round: roundNo,
  messages,
  produceSeconds: round(produceSeconds, 2),
  producePerSecond: Math.round(messages / produceSeconds),
  consumeStartMs: Math.round(consumeStartMs),
  consumeSeconds: round(consumeSeconds, 2),
  consumePerSecond: Math.round(messages / consumeSeconds),
});

const deleteTopics = async (brokers: string[], topics: string[]) => {
  const admin = new Kafka({ brokers, clientId: 'bench-cleanup', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
};

const table = (rows: Rates[]): string => {
  const head = ['client', 'round', 'messages', 'produce msg/s', 'consume msg/s', 'consumer start ms'];
  const body = rows.map((r) => [r.client, String(r.round), String(r.messages), String(r.producePerSecond), String(r.consumePerSecond), String(r.consumeStartMs)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Runs the comparison, prints a table and writes bench/results/kafka-<date>.json.
 * quick: 5,000 messages and one round each instead of 50,000 and two.
 */
export async function benchKafka(opts: { brokers: string[]; quick?: boolean }): Promise<object> {
  const messages = opts.quick ? 5_000 : 50_000;
  const rounds = opts.quick ? 1 : 2;
  const events = makeEvents(messages);
  const avgBytes = Math.round(events.slice(0, 100).reduce((n, e) => n + Buffer.byteLength(encodeEvent(e).value), 0) / 100);
  console.log(`  ${messages} messages of ~${avgBytes} B, sends of ${BATCH}, ${PARTITIONS} partitions, acks=-1 idempotent, ${rounds} round(s) each, broker ${opts.brokers.join(',')}`);
  const rows: Rates[] = [];
  for (let r = 1; r <= rounds; r++) {
    rows.push(await runKafkajs(opts.brokers, events, r));
    rows.push(await runPlatformatic(opts.brokers, events, r));
  }
  console.log(table(rows));
  console.log('  the cost of exactly-once publication (a transaction per batch):');
  const publishCost = await runPublishCost(opts.brokers, events, opts.quick ?? false);
  const summary = (client: string) => {
    const mine = rows.filter((r) => r.client === client);
    return { producePerSecond: median(mine.map((r) => r.producePerSecond)), consumePerSecond: median(mine.map((r) => r.consumePerSecond)) };
  };
  const out = {
    at: new Date().toISOString(),
    machine: machine(),
    broker: 'Apache Kafka 4.1.2, single node KRaft (scripts/kafka/kafka.sh)',
    settings: { messages, avgValueBytes: avgBytes, batch: BATCH, partitions: PARTITIONS, acks: -1, idempotent: true, rounds },
    rows,
    median: { kafkajs: summary(rows[0]!.client), platformatic: summary(rows[1]!.client) },
    publishCost,
  };
  mkdirSync(join('bench', 'results'), { recursive: true });
  const file = join('bench', 'results', `kafka-${out.at.slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2));
  console.log(`  saved ${file}`);
  return out;
}

if (require.main === module) {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim());
  (async () => {
    let startedHere = false;
    if (!(await listening(brokers[0]!))) {
      if (process.env.KAFKA_BROKERS) throw new Error(`no Kafka broker listens on ${brokers[0]} (KAFKA_BROKERS)`);
      console.log('  no broker on 127.0.0.1:9092: starting one with scripts/kafka/kafka.sh');
      await runKafkaScript('start');
      startedHere = true;
    }
    try {
      await benchKafka({ brokers, quick: process.env.BENCH_QUICK === '1' });
    } finally {
      if (startedHere) await runKafkaScript('stop');
    }
  })().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
