import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { ALL_TOPICS } from '../../../ports/bus';
import { busContract } from '../contract';
import { createKafkaBus, DEAD_LETTER_TOPIC, type KafkaBus } from './kafka-bus';
import { useKafka, type TestBroker } from '../../../../test/support/kafka-broker';

// The Kafka adapter under the same contract as the in-process bus (../memory.spec.ts): a real
// broker, each test on topics of its own prefix, deleted afterwards.
let broker: TestBroker | null = null;
after(async () => broker?.release());
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

busContract('Kafka', async (t) => {
  broker ??= await useKafka(t);
  if (!broker) return null;
  const brokers = broker.brokers;
  const prefix = `c${randomUUID().slice(0, 8)}.`;
  let bus: KafkaBus | null = null;
  return {
    open: async () => (bus = await createKafkaBus({ brokers, clientId: 'webdial-contract', partitions: 3, topicPrefix: prefix, clientLogLevel: 'nothing', logger: quiet })),
    dispose: async () => {
      await bus?.close();
      const admin = new Kafka({ brokers, clientId: 'webdial-contract-cleanup', logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [...ALL_TOPICS, DEAD_LETTER_TOPIC].map((x) => prefix + x) }).catch(() => undefined);
      await admin.disconnect();
    },
  };
});
