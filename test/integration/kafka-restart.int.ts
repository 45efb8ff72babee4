import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gql } from '../../src/cli/client';
import { useKafka, type TestBroker } from '../support/kafka-broker';
import { ADMIN_KEY, eventually, startServer, tempDataDir, type ServerProcess } from '../support/server';
import { setupGateway, setupMerchant, placeCall } from '../support/merchant';

/**
 * Issue 21's slow restart, found: on Kafka, start-up waited until the projections' and the webhook
 * planner's consumer groups had joined and fetched. After a kill -9 the dead member stays in each
 * group until its session times out (kafkajs: 30 s), so the restarted process did not even listen
 * for 28-33 s. Those groups resume from committed offsets and need no wait: the server now listens
 * at once and the projections catch up as soon as the rebalance completes.
 */
describe('a webdial on Kafka killed with -9 comes back without waiting for its consumer groups', () => {
  let broker: TestBroker | null = null;
  const servers: ServerProcess[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await broker?.release();
  });

  test('restart after kill -9: listening well inside the 30 s group session, then the projections catch up', { timeout: 120_000 }, async (t) => {
    broker = await useKafka(t);
    if (!broker) return;
    const env = {
      WEBDIAL_BUS: 'kafka',
      KAFKA_BROKERS: broker.brokers.join(','),
      // Fresh topics and groups: no other run's members or offsets.
      KAFKA_TOPIC_PREFIX: `restart${randomBytes(4).toString('hex')}.`,
      KAFKA_PARTITIONS: '2',
      WEBDIAL_MEDIA: 'external',
      WEBDIAL_TOKEN_SECRET: 'restart-test-secret-0123456789abcdef',
    };
    const dir = tempDataDir('webdial-kafka-restart-');
    const first = await startServer(env, dir);
    servers.push(first);
    const shop = await setupMerchant(first.url, 'Restart shop');
    await setupGateway(first.url, 4);
    const before = await placeCall(first.url, shop, 'before');
    await eventually(async () => (await gql(first.url, `query($c: ID!) { call(id: $c) { id } }`, { c: before }, shop.merchantKey)).call, 30_000, 'the first call projected');

    await first.crash();
    const restarting = Date.now();
    const second = await startServer(env, dir);
    servers.push(second);
    const listeningAfter = Date.now() - restarting;
    console.log(`# restart after kill -9 on Kafka: listening after ${listeningAfter} ms`);
    // Waiting for the groups' rebalance took 28-33 s; without the wait the process starts as from cold.
    assert.ok(listeningAfter < 15_000, `listening only after ${listeningAfter} ms`);

    // It serves at once, and what it stores reaches the read models once the groups have rebalanced.
    const after = await placeCall(second.url, shop, 'after');
    const projected = await eventually(async () => (await gql(second.url, `query($c: ID!) { call(id: $c) { id state } }`, { c: after }, shop.merchantKey)).call, 60_000, 'the call after the restart projected');
    console.log(`# the call placed after the restart was projected ${Date.now() - restarting} ms after the restart began`);
    assert.equal((projected as { id: string }).id, after);
    const admin = await gql(second.url, `{ viewer { role } }`, {}, ADMIN_KEY);
    assert.equal((admin.viewer as { role: string }).role, 'ADMIN');
  });
});
