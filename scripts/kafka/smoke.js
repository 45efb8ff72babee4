#!/usr/bin/env node
// Smoke test of kafkajs 2.2.4 against the broker of scripts/kafka/kafka.sh (Kafka 4.1.x dropped old
// protocol versions, KIP-896): admin (create/delete topic, offsets, group description), the
// idempotent producer with acks=-1, and two consumer groups that each get every message.
//   node scripts/kafka/smoke.js        (KAFKA_BROKERS, default 127.0.0.1:9092)
// Exit 0 and one "ok" line, or exit 1 with the error.
'use strict';
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',');
const N = 30;

const main = async () => {
  const t0 = Date.now();
  const kafka = new Kafka({ clientId: 'webdial-smoke', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `webdial-smoke-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: N }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}`, headers: { type: 'Smoke' } })) });
  const got = { a: new Set(), b: new Set() };
  const consumers = [];
  for (const group of ['a', 'b']) {
    const c = kafka.consumer({ groupId: `${topic}-${group}` });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void got[group].add(String(message.value)) });
    consumers.push(c);
  }
  while (got.a.size < N || got.b.size < N) {
    if (Date.now() - t0 > 60_000) throw new Error(`timed out: group a ${got.a.size}/${N}, group b ${got.b.size}/${N}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const c of consumers) await c.disconnect(); // commits
  const [offsets] = await admin.fetchOffsets({ groupId: `${topic}-a`, topics: [topic] });
  const committed = offsets.partitions.reduce((n, p) => n + Number(p.offset), 0);
  if (committed !== N) throw new Error(`group a committed ${committed} offsets, expected ${N}`);
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  console.log(`kafkajs smoke ok on ${brokers.join(',')}: ${N} messages produced (idempotent, acks=-1), consumed by 2 groups, ${committed} offsets committed, ${Date.now() - t0} ms`);
};

main().catch((e) => {
  console.error('kafkajs smoke FAILED:', e);
  process.exit(1);
});
