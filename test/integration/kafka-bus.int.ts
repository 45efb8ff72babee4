/**
 * KafkaBus against a REAL broker (scripts/kafka/kafka.sh). Each test isolates itself on the shared
 * broker with a random topic prefix and its own group names, and deletes its topics afterwards; the
 * restart test runs a private broker on free ports so that stopping it disturbs nobody.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { ALL_TOPICS, type BusSubscription, type EventBatch, type Topic } from '../../src/ports/bus';
import type { StoredEvent } from '../../src/ports/event-store';
import { createKafkaBus, DEAD_LETTER_TOPIC, DLQ_HEADERS, PUBLISHERS_TOPIC, type BusLogger, type KafkaBus } from '../../src/adapters/bus/kafka/kafka-bus';
import { decodeEvent, WATERMARK_CONTENT_TYPE } from '../../src/adapters/bus/kafka/codec';
import { freePort, missingTools, privateBroker, useKafka, type TestBroker } from '../support/kafka-broker';
import { serviceMissing } from '../support/services';

let broker: TestBroker | null = null;
let skipReason: string | null = null;
const cleanups: (() => Promise<unknown>)[] = [];

before(async (t) => {
  broker = await useKafka(t as unknown as TestContext).catch((e) => {
    skipReason = String(e);
    throw e;
  });
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e) => console.error('cleanup failed:', e));
  await broker?.release();
});

/** Skips the test when the broker is absent (useKafka already printed why, or failed under CI). */
const needBroker = (t: TestContext): string[] | null => {
  if (broker) return broker.brokers;
  t.skip(skipReason ?? 'Kafka unavailable');
  return null;
};

const lines: string[] = [];
const recordingLogger: BusLogger = {
  info: () => undefined,
  warn: (_f, msg) => void lines.push(`WARN ${msg}`),
  error: (_f, msg) => void lines.push(`ERROR ${msg}`),
};

/** A bus on its own topics (random prefix), closed and its topics deleted after the file. */
const newBus = async (brokers: string[], over: { prefix?: string; onDeadLetter?: (d: { origin: string }) => void } = {}): Promise<KafkaBus> => {
  const prefix = over.prefix ?? `t${randomUUID().slice(0, 8)}.`;
  const bus = await createKafkaBus({
    brokers,
    clientId: 'webdial-int',
    partitions: 3,
    topicPrefix: prefix,
    clientLogLevel: 'nothing',
    logger: recordingLogger,
    onDeadLetter: over.onDeadLetter,
  });
  cleanups.push(async () => {
    await bus.close();
    await deleteTopics(brokers, prefix).catch(() => undefined);
  });
  return bus;
};

const deleteTopics = async (brokers: string[], prefix: string) => {
  const admin = new Kafka({ brokers, clientId: 'webdial-int-cleanup', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [...ALL_TOPICS, DEAD_LETTER_TOPIC, PUBLISHERS_TOPIC].map((t) => prefix + t) });
  } finally {
    await admin.disconnect();
  }
};

let positionCounter = 0;
/** `perStream` events for each stream id, interleaved across streams the way a real store orders them. */
const eventsFor = (streamIds: string[], perStream: number, data: (s: string, v: number) => unknown = () => ({})): StoredEvent[] => {
  const out: StoredEvent[] = [];
  for (let v = 1; v <= perStream; v++)
    for (const streamId of streamIds) {
      positionCounter++;
      out.push({
        eventId: randomUUID(),
        type: 'TestHappened',
        streamId,
        streamVersion: v,
        position: String(positionCounter).padStart(20, '0'),
        occurredAt: new Date(1_700_000_000_000 + positionCounter).toISOString(),
        recordedAt: new Date(1_700_000_000_000 + positionCounter).toISOString(),
        merchantId: streamId.startsWith('gateway-') ? null : 'm_1',
        correlationId: 'corr',
        causationId: null,
        schemaVersion: 1,
        data: data(streamId, v),
      });
    }
  return out;
};

const streams = (n: number, tag = randomUUID().slice(0, 6)): string[] =>
  Array.from({ length: n }, (_, i) => [`call-${tag}${i}`, `merchant-${tag}${i}`, `gateway-${tag}${i}`, `port-${tag}_${i}`][i % 4]!);

/** Resolves when `done()` holds, polling; rejects with `what()` after the timeout. */
const until = async (done: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/**
 * Where the events a consumer never got are: read every topic of `bus` from the beginning with a
 * fresh group, and say which of `missing` are in the log (partition and offset: the consumer skipped
 * them) and which are not (the broker or the producer lost them). For a failure message.
 */
const whereAre = async (brokers: string[], bus: KafkaBus, missing: Set<string>): Promise<string> => {
  const found = new Map<string, string>();
  let read = 0;
  const raw = new Kafka({ brokers, clientId: 'webdial-int-diagnosis', logLevel: logLevel.NOTHING }).consumer({ groupId: `diagnosis-${randomUUID()}` });
  await raw.connect();
  try {
    await raw.subscribe({ topics: ALL_TOPICS.map((t) => bus.topicName(t)), fromBeginning: true });
    await raw.run({
      eachMessage: async ({ topic, partition, message }) => {
        read++;
        if (String(message.headers?.['content-type']) === WATERMARK_CONTENT_TYPE) return;
        const id = decodeEvent(message).eventId;
        if (missing.has(id)) found.set(id, `${topic}/${partition}@${message.offset}`);
      },
    });
    await until(() => found.size >= missing.size, () => '', 15_000).catch(() => undefined);
  } finally {
    await raw.disconnect();
  }
  const absent = [...missing].filter((id) => !found.has(id));
  return `of ${missing.size} missing (${read} messages in the log): in the log, skipped by the consumer: ${[...found.values()].join(', ') || 'none'}; not in the log: ${absent.length}`;
};

/** A batch handler from a per-event one, atomic like a projection's transaction: all of the batch or none. */
const perEvent =
  (each: (e: StoredEvent) => void) =>
  async (batch: EventBatch): Promise<void> => {
    for (const e of batch.events) each(e);
  };

const collector = () => {
  const got: StoredEvent[] = [];
  return { got, handler: perEvent((e) => void got.push(e)) };
};

/** Asserts that, per stream, the versions arrive as 1, 2, 3 … (first deliveries, in arrival order). */
const assertPerStreamOrder = (got: StoredEvent[]) => {
  const seen = new Set<string>();
  const last = new Map<string, number>();
  for (const e of got) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const prev = last.get(e.streamId) ?? 0;
    assert.equal(e.streamVersion, prev + 1, `${e.streamId}: version ${e.streamVersion} arrived after ${prev}`);
    last.set(e.streamId, e.streamVersion);
  }
};

test('publish then consume: every event, in order per stream, with key and headers on the wire', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const bus = await newBus(brokers);
  const ids = streams(12);
  const events = eventsFor(ids, 20);
  const { got, handler } = collector();
  await bus.subscribe('g-order', ALL_TOPICS, handler, { fromBeginning: true });
  for (let i = 0; i < events.length; i += 37) await bus.publish(events.slice(i, i + 37));
  await until(() => got.length >= events.length, () => `${got.length}/${events.length} consumed`);
  assert.equal(got.length, events.length, 'no duplicates without failures');
  assert.deepEqual(new Set(got.map((e) => e.eventId)), new Set(events.map((e) => e.eventId)));
  assertPerStreamOrder(got);
  // The envelope survives the trip unchanged.
  const byId = new Map(got.map((e) => [e.eventId, e]));
  for (const e of events) assert.deepEqual(byId.get(e.eventId), e);

  // The raw message: topic per category, key = stream id, headers with type, merchant and position.
  const raw = new Kafka({ brokers, clientId: 'raw', logLevel: logLevel.NOTHING }).consumer({ groupId: `raw-${randomUUID()}` });
  const rawGot: { topic: string; key: string; headers: Record<string, string>; event: StoredEvent }[] = [];
  let markers = 0;
  await raw.connect();
  cleanups.push(() => raw.disconnect());
  await raw.subscribe({ topics: [bus.topicName('webdial.calls'), bus.topicName('webdial.gateways')], fromBeginning: true });
  await raw.run({
    eachMessage: async ({ topic, message }) => {
      // The relay's watermark markers ride on the same partitions: no key, no value, their own content type.
      if (String(message.headers?.['content-type']) === WATERMARK_CONTENT_TYPE) {
        assert.equal(message.key, null);
        assert.match(String(message.headers?.position), /^\d{20}$/);
        markers++;
        return;
      }
      rawGot.push({
        topic,
        key: message.key!.toString(),
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        event: decodeEvent(message),
      });
    },
  });
  const wanted = events.filter((e) => /^(call|gateway|port)-/.test(e.streamId)).length;
  await until(() => rawGot.length >= wanted && markers >= 6, () => `raw ${rawGot.length}/${wanted}, ${markers} markers`);
  for (const m of rawGot) {
    assert.equal(m.topic, bus.topicName(m.event.streamId.startsWith('call-') ? 'webdial.calls' : 'webdial.gateways'));
    assert.equal(m.key, m.event.streamId);
    assert.equal(m.headers.type, 'TestHappened');
    assert.equal(m.headers.position, m.event.position);
    assert.equal(m.headers.eventId, m.event.eventId);
    assert.equal(m.headers.streamVersion, String(m.event.streamVersion));
    assert.equal(m.headers.merchantId, m.event.merchantId ?? undefined);
  }
});

test('two groups each get every event of their topics', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const bus = await newBus(brokers);
  const events = eventsFor(streams(8), 10);
  const a = collector();
  const b = collector();
  const onlyCalls = collector();
  await bus.subscribe('g-a', ALL_TOPICS, a.handler, { fromBeginning: true });
  await bus.subscribe('g-b', ALL_TOPICS, b.handler, { fromBeginning: true });
  await bus.subscribe('g-calls', ['webdial.calls'] as Topic[], onlyCalls.handler, { fromBeginning: true });
  await bus.publish(events);
  const calls = events.filter((e) => e.streamId.startsWith('call-'));
  await until(() => a.got.length >= events.length && b.got.length >= events.length && onlyCalls.got.length >= calls.length, () => `a ${a.got.length}, b ${b.got.length}, calls ${onlyCalls.got.length}`);
  const ids = (l: StoredEvent[]) => new Set(l.map((e) => e.eventId));
  assert.deepEqual(ids(a.got), ids(events));
  assert.deepEqual(ids(b.got), ids(events));
  assert.deepEqual(ids(onlyCalls.got), ids(calls));
  // A moment later the call-only group still has nothing else.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(onlyCalls.got.length, calls.length);
});

test('a restarted consumer resumes from its committed offset: nothing old again, nothing new missed', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const bus = await newBus(brokers);
  const first = eventsFor(streams(6), 5);
  const second = eventsFor(streams(6), 4);
  const one = collector();
  let sub: BusSubscription = await bus.subscribe('g-resume', ALL_TOPICS, one.handler, { fromBeginning: true });
  await bus.publish(first);
  await until(() => one.got.length >= first.length, () => `${one.got.length}/${first.length}`);
  await sub.stop(); // commits what was handled
  await bus.publish(second); // published while the group has no member
  const two = collector();
  sub = await bus.subscribe('g-resume', ALL_TOPICS, two.handler, { fromBeginning: true });
  await until(() => two.got.length >= second.length, () => `${two.got.length}/${second.length}`);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(new Set(two.got.map((e) => e.eventId)), new Set(second.map((e) => e.eventId)), 'exactly the events published after the stop');
  assertPerStreamOrder(two.got);
  await sub.stop();

  // A new group that does not start from the beginning sees only what is published after it joined.
  const late = collector();
  await bus.subscribe('g-late', ALL_TOPICS, late.handler, { fromBeginning: false });
  const third = eventsFor(streams(3), 2);
  await bus.publish(third);
  await until(() => late.got.length >= third.length, () => `${late.got.length}/${third.length}`);
  assert.deepEqual(new Set(late.got.map((e) => e.eventId)), new Set(third.map((e) => e.eventId)));
});

test('a batch whose handler had not succeeded when the consumer stopped is delivered again: offsets follow effects', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const bus = await newBus(brokers);
  const events = eventsFor([`call-${randomUUID().slice(0, 6)}`], 10);
  const applied: number[] = [];
  let stuckAttempts = 0;
  let retriesSeen = 0;
  const sub = await bus.subscribe(
    'g-inflight',
    ['webdial.calls'],
    async (batch) => {
      // A batch holding version 6 cannot be applied yet (say, its database is down): the bus keeps
      // handing the same batch over, and never skips it.
      if (batch.events.some((e) => e.streamVersion === 6)) {
        stuckAttempts++;
        throw new Error('read model unavailable');
      }
      applied.push(...batch.events.map((e) => e.streamVersion));
    },
    { fromBeginning: true, onRetry: () => void retriesSeen++ },
  );
  await bus.publish(events.slice(0, 5));
  await until(() => applied.length === 5, () => `applied ${applied.join(',')}`);
  await bus.publish(events.slice(5));
  await until(() => stuckAttempts >= 3, () => `attempts on the batch with v6: ${stuckAttempts}`);
  assert.ok(retriesSeen >= 2, 'every failed attempt is reported for the log and the metric');
  await sub.stop(); // commits 1..5, not 6..10: their effect never happened
  assert.deepEqual(applied, [1, 2, 3, 4, 5]);

  const again: number[] = [];
  await bus.subscribe('g-inflight', ['webdial.calls'], perEvent((e) => void again.push(e.streamVersion)), { fromBeginning: true });
  await until(() => again.length >= 5, () => `redelivered ${again.join(',')}`);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(again, [6, 7, 8, 9, 10], 'resumes at the first event without effect, and only there');
  assert.ok(!lines.some((l) => /dead-lettered/.test(l)), 'a failing handler is never dead-lettered by the bus');
});

test('a consumer that crashes with an error kafkajs does not restart on is replaced: the group goes on, nothing lost', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const errors: string[] = [];
  const prefix = `t${randomUUID().slice(0, 8)}.`;
  const bus = await createKafkaBus({ brokers, clientId: 'webdial-int', partitions: 1, topicPrefix: prefix, clientLogLevel: 'nothing', logger: recordingLogger, onError: (e) => void errors.push(String(e)) });
  cleanups.push(async () => {
    await bus.close();
    await deleteTopics(brokers, prefix).catch(() => undefined);
  });
  const events = eventsFor([`call-${randomUUID().slice(0, 6)}`], 6);
  const applied: number[] = [];
  let failOnce = true;
  await bus.subscribe(
    'g-crash',
    ['webdial.calls'],
    async (batch) => {
      if (failOnce && batch.events.some((e) => e.streamVersion === 4)) throw new Error('database away');
      for (const e of batch.events) if (!applied.includes(e.streamVersion)) applied.push(e.streamVersion);
    },
    {
      fromBeginning: true,
      // An exception escaping the bus's own code (here: from the retry hook) is not one kafkajs knows
      // as retriable: its consumer crashes for good, with restart: false.
      onRetry: () => {
        failOnce = false;
        throw new TypeError('a bug in the retry hook');
      },
    },
  );
  await bus.publish(events.slice(0, 3));
  await until(() => applied.length === 3, () => `applied ${applied.join(',')}`);
  await bus.publish(events.slice(3));
  await until(() => applied.length === 6, () => `applied ${applied.join(',')} (errors: ${errors.join('; ')})`, 60_000);
  assert.deepEqual(applied, [1, 2, 3, 4, 5, 6], 'the replacement consumer resumed at the uncommitted batch');
  assert.ok(errors.some((e) => /a bug in the retry hook/.test(e)), `the crash was reported: ${errors.join('; ')}`);
  assert.ok(lines.some((l) => /^ERROR consumer of g-crash crashed/.test(l)) && lines.some((l) => /^WARN consumer of g-crash started again after a crash/.test(l)), lines.join('\n'));
});

test('an undecodable message is dead-lettered alone, with its offset, and the events after it are delivered', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const dead: Array<{ origin: string }> = [];
  const bus = await newBus(brokers, { onDeadLetter: (d) => void dead.push(d) });
  const id = randomUUID().slice(0, 6);
  const events = eventsFor([`call-${id}`], 6);
  const { got, handler } = collector();
  await bus.subscribe('g-poison', ['webdial.calls'], handler, { fromBeginning: true });
  await bus.publish(events.slice(0, 3));
  // A message no envelope can be read from, between the third and the fourth event.
  const producer = new Kafka({ brokers, clientId: 'raw', logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic: bus.topicName('webdial.calls'), messages: [{ key: `call-${id}`, value: 'not json', headers: { type: 'Garbage' } }] });
  await producer.disconnect();
  await bus.publish(events.slice(3));

  await until(() => got.length >= 6, () => `handled ${got.length}/6`);
  assert.deepEqual(got.map((e) => e.streamVersion), [1, 2, 3, 4, 5, 6], 'the group went on past the poison message');
  await until(() => dead.length >= 1, () => 'onDeadLetter not called');
  assert.equal(dead.length, 1, 'dead-lettered once');
  assert.match(dead[0]!.origin, new RegExp(`^${bus.topicName('webdial.calls').replace(/\./g, '\\.')}/\\d+@\\d+$`));

  const letters: { value: string; headers: Record<string, string> }[] = [];
  const dlq = new Kafka({ brokers, clientId: 'dlq', logLevel: logLevel.NOTHING }).consumer({ groupId: `dlq-${randomUUID()}` });
  await dlq.connect();
  cleanups.push(() => dlq.disconnect());
  await dlq.subscribe({ topic: bus.topicName(DEAD_LETTER_TOPIC), fromBeginning: true });
  await dlq.run({
    eachMessage: async ({ message }) =>
      void letters.push({ value: String(message.value), headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) }),
  });
  await until(() => letters.length >= 1, () => 'no dead letter on the topic');
  const [garbage] = letters;
  assert.equal(garbage!.value, 'not json', 'the original value is kept');
  assert.equal(garbage!.headers[DLQ_HEADERS.group], 'g-poison');
  assert.match(garbage!.headers[DLQ_HEADERS.error]!, /KafkaDecodeError: value is not JSON/);
  assert.equal(garbage!.headers[DLQ_HEADERS.topic], bus.topicName('webdial.calls'));
  assert.match(garbage!.headers[DLQ_HEADERS.offset]!, /^\d+$/);
  assert.equal(garbage!.headers.type, 'Garbage', 'original headers are kept');
  assert.ok(lines.some((l) => /^ERROR dead-lettered Garbage@\? .* for group g-poison: KafkaDecodeError: value is not JSON/.test(l)), lines.join('\n'));
});

test('watermarks: every source of a group reaches the last published position, idle partitions included', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const bus = await newBus(brokers);
  const sources = await bus.sources(ALL_TOPICS);
  assert.equal(sources.length, 9, '3 topics x 3 partitions');
  const marks = new Map<string, string>();
  await bus.subscribe(
    'g-marks',
    ALL_TOPICS,
    async (b) => {
      // A batch's own watermark, and those of the marker-only batches coalesced into it.
      for (const m of [{ source: b.source, watermark: b.watermark }, ...(b.marks ?? [])]) {
        assert.ok(sources.includes(m.source), `unknown source ${m.source}`);
        if (m.watermark && (marks.get(m.source) ?? '') < m.watermark) marks.set(m.source, m.watermark);
      }
    },
    { fromBeginning: true },
  );
  // One stream only: most partitions never carry an event, yet their watermark must move.
  const events = eventsFor([`call-${randomUUID().slice(0, 6)}`], 5);
  await bus.publish(events);
  const last = events.at(-1)!.position;
  await until(() => sources.every((s) => (marks.get(s) ?? '') >= last), () => `watermarks ${JSON.stringify(Object.fromEntries(marks))}`);
  bus.markWatermark('99999999999999999999');
  await until(() => sources.every((s) => marks.get(s) === '99999999999999999999'), () => 'markWatermark did not reach every partition');
});

test('the marker-only batches of a fetch reach the handler together, not in a delivery each', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const bus = await newBus(brokers);
  const sources = await bus.sources(ALL_TOPICS);
  const deliveries: string[][] = [];
  const position = '99999999999999999998';
  await bus.subscribe(
    'g-coalesce',
    ALL_TOPICS,
    async (b) => {
      const carried = [{ source: b.source, watermark: b.watermark }, ...(b.marks ?? [])].filter((m) => m.watermark === position).map((m) => m.source);
      if (carried.length > 0) deliveries.push(carried);
    },
    { fromBeginning: true, concurrency: 1 },
  );
  // One marker to each of the 9 partitions, in one produce request: one fetch (or two, when the
  // broker answers the long poll before every partition's append) brings them all.
  bus.markWatermark(position);
  await until(() => new Set(deliveries.flat()).size === sources.length, () => `marked ${JSON.stringify(deliveries)}`);
  assert.ok(deliveries.length <= 3, `${sources.length} marker-only batches took ${deliveries.length} deliveries: ${JSON.stringify(deliveries)}`);
});

test('a rebalance in the middle of a stream loses nothing and, with version dedupe, applies nothing twice', async (t) => {
  const brokers = needBroker(t);
  if (!brokers) return;
  const bus = await newBus(brokers);
  const ids = streams(12);
  const events = eventsFor(ids, 25); // 300 events
  // A consumer like a projection: per stream the last version applied, checked and written in one "transaction".
  const versions = new Map<string, number>();
  const applied: string[] = [];
  let deliveredTwice = 0;
  const projection = async (batch: EventBatch) => {
    await new Promise((r) => setTimeout(r, 30)); // slow enough for the rebalance to land mid-stream
    const next = new Map(versions);
    const effects: string[] = [];
    for (const e of batch.events) {
      const v = next.get(e.streamId) ?? 0;
      if (e.streamVersion <= v) {
        deliveredTwice++;
        continue;
      }
      assert.equal(e.streamVersion, v + 1, `gap in ${e.streamId}: v${e.streamVersion} after v${v}`);
      next.set(e.streamId, e.streamVersion);
      effects.push(e.eventId);
    }
    for (const [k, v] of next) versions.set(k, v);
    applied.push(...effects);
  };
  const small = await createKafkaBus({ brokers, clientId: 'webdial-int-b', partitions: 3, topicPrefix: bus.topicName('webdial.calls').replace('webdial.calls', ''), clientLogLevel: 'nothing', logger: recordingLogger, maxBatchEvents: 7 });
  cleanups.push(() => small.close());
  await bus.subscribe('g-rebalance', ALL_TOPICS, projection, { fromBeginning: true });
  for (let i = 0; i < 150; i += 10) await bus.publish(events.slice(i, i + 10));
  await until(() => applied.length >= 40, () => `applied ${applied.length} before the second member joined`);
  // A second member joins the group: partitions move while batches are in flight.
  await small.subscribe('g-rebalance', ALL_TOPICS, projection, { fromBeginning: true });
  for (let i = 150; i < events.length; i += 10) await bus.publish(events.slice(i, i + 10));
  await until(() => applied.length >= events.length, () => `applied ${applied.length}/${events.length}`, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(applied.length, events.length, 'each event applied exactly once');
  assert.deepEqual(new Set(applied), new Set(events.map((e) => e.eventId)));
  console.log(`# rebalance: ${deliveredTwice} redelivered events skipped by the version check`);
});

test('the broker is stopped and restarted mid-stream: the consumer ends with every event', async (t) => {
  if (!needBroker(t)) return;
  const missing = missingTools();
  if (missing) return serviceMissing(t, 'Kafka (private broker)', missing);
  const pb = await privateBroker();
  cleanups.push(() => pb.destroy());
  const bus = await newBus(pb.brokers);
  const ids = streams(10);
  const events = eventsFor(ids, 30); // 300 events
  const { got, handler } = collector();
  await bus.subscribe('g-restart', ALL_TOPICS, handler, { fromBeginning: true });

  // Publishes like the relay: a batch is retried until the bus accepts it (at least once).
  let failures = 0;
  let slowest = 0;
  const publish = async (batch: StoredEvent[]) => {
    const started = Date.now();
    for (;;) {
      try {
        await bus.publish(batch);
        break;
      } catch {
        failures++;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    slowest = Math.max(slowest, Date.now() - started);
  };
  const publishRange = async (from: number, to: number, pauseMs: number) => {
    for (let i = from; i < to; i += 5) {
      await publish(events.slice(i, Math.min(i + 5, to)));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  await publishRange(0, 100, 0);
  await until(() => got.length >= 50, () => `consumed ${got.length} before the restart`);
  // The second third is published while the broker shuts down, is down, and comes back.
  const t0 = Date.now();
  const restart = pb.stop().then(() => pb.start());
  await publishRange(100, 200, 100);
  await restart;
  const restartMs = Date.now() - t0;
  await publishRange(200, 300, 0);
  // The restart really hit the stream: some publish waited for the broker (or failed and was retried).
  assert.ok(failures > 0 || slowest > 2000, `no publish was affected by the restart (slowest ${slowest} ms)`);
  const want = new Set(events.map((e) => e.eventId));
  const have = () => new Set(got.map((e) => e.eventId));
  const complete = await until(() => have().size >= want.size, () => '', 90_000).then(
    () => true,
    () => false,
  );
  if (!complete) {
    const missing = new Set([...want].filter((id) => !have().has(id)));
    assert.fail(`consumed ${have().size}/${want.size} distinct after the restart; ${await whereAre(pb.brokers, bus, missing)}; the bus said: ${lines.slice(-20).join(' | ') || 'nothing'}`);
  }
  assert.deepEqual(have(), want, 'nothing missing after the restart');
  assertPerStreamOrder(got);
  console.log(`# broker restart: ${restartMs} ms, slowest publish ${slowest} ms, ${failures} publish retries, ${got.length - want.size} duplicates delivered`);
});

test('start-up without a broker fails within seconds with one clear error', async () => {
  const port = await freePort(); // nothing listens there
  const t0 = Date.now();
  await assert.rejects(
    createKafkaBus({ brokers: [`127.0.0.1:${port}`], clientId: 'webdial-int', partitions: 1, clientLogLevel: 'nothing' }),
    new RegExp(`^Error: Kafka bus could not start on 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
  );
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
});
