import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres';
import { useKafka } from '../support/kafka-broker';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import { privatePostgres, privatePostgresMissing, type PrivatePostgres } from '../support/private-postgres';
import { privateRedis, privateRedisMissing } from '../support/private-redis';
import { ADMIN_KEY, startServer, type ServerProcess } from '../support/server';
import { gqlRaw } from '../../src/cli/client';
import { metric, setUpShop, startLoad, verifyAfterOutage, watchReadiness } from '../support/outage';

/**
 * Issue 14: a production server survives a database outage and never drops an event from a
 * projection. Each drill runs a real `webdial serve` on PostgreSQL clusters of its own (the shared
 * one on 5432 is never stopped), puts it under load — 8 shoppers and their gateways placing calls
 * through HTTP — stops a cluster for 5 s with `pg_ctl stop -m immediate` (connections drop as in a
 * crash) and starts it again. Then: the server is still up; /readyz went red and green again; every
 * acknowledged step reads back; billing equals a fold of the store; every projection equals a fresh
 * rebuild; 0 dead letters. Each drill prints how long readiness was red, how many batches the read
 * side retried and how many were dead-lettered.
 */

const OUTAGE_MS = 5_000;
const ENV = {
  WEBDIAL_MEDIA: 'external',
  WEBDIAL_ANI_QUARANTINE: '0',
  WEBDIAL_RATE_CLIENT_PER_MIN: '1000000',
  WEBDIAL_RATE_MERCHANT_PER_MIN: '10000000',
  LOG_LEVEL: 'warn',
};

const clusters: PrivatePostgres[] = [];
const servers: ServerProcess[] = [];
const databases: string[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  for (const c of clusters) await c.destroy();
  if (databases.length) {
    const c = new Client({ connectionString: POSTGRES_URL });
    await c.connect();
    for (const d of databases) await c.query(`drop database if exists ${d} with (force)`);
    await c.end();
  }
});

const cluster = async (t: TestContext): Promise<PrivatePostgres | null> => {
  const missing = privatePostgresMissing();
  if (missing) {
    serviceMissing(t, 'a private PostgreSQL cluster', missing);
    return null;
  }
  const pg = await privatePostgres();
  clusters.push(pg);
  return pg;
};

/** A database of its own on the shared server (never stopped), for the event store of the read-side drill. */
const sharedDatabase = async (t: TestContext): Promise<string | null> => {
  const down = await probePostgres();
  if (down) {
    serviceMissing(t, 'PostgreSQL', down);
    return null;
  }
  const name = `webdial_outage_${randomBytes(4).toString('hex')}`;
  const c = new Client({ connectionString: POSTGRES_URL });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  databases.push(name);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
};

/** What a drill stops: PostgreSQL holding the store (and the read models), the read database alone, or Redis. */
type Down = 'store' | 'read' | 'redis';

/**
 * The drill: load, stop `down` under it for 5 s, start it, let the load run 3 s more, stop the
 * load, verify. `outageOf` names what went down in the printed figures.
 */
const drill = async (outageOf: string, what: Down, down: { stop(): Promise<void>; start(): Promise<void>; destroy(): Promise<void> }, env: Record<string, string>, urls: { store: string; read: string }) => {
  const server = await startServer({ ...ENV, ...env });
  servers.push(server);
  try {
    await drillOn(server, outageOf, what, down, urls);
  } catch (e) {
    console.log(`# the server's last output:\n${server.output().slice(-6000)}`);
    if ('log' in down && typeof down.log === 'function') console.log(`# the stopped server's log:\n${String(down.log()).slice(-4000)}`);
    throw e;
  } finally {
    await server.stop();
    await down.destroy();
  }
};

const drillOn = async (server: ServerProcess, outageOf: string, what: Down, down: { stop(): Promise<void>; start(): Promise<void> }, urls: { store: string; read: string }) => {
  const shop = await setUpShop(server.url);
  const readiness = watchReadiness(server.url);
  const load = startLoad(server.url, shop);
  await new Promise((r) => setTimeout(r, 3_000));
  const before = load.result.completed;
  assert.ok(before > 0, 'calls complete before the outage');

  await down.stop();
  if (what === 'redis') await readiness.degraded();
  else {
    await readiness.red();
    // What a client is told meanwhile: 503, UNAVAILABLE, and which dependency.
    const refused =
      what === 'store'
        ? await gqlRaw(server.url, `mutation { createMerchant(input: { name: "During" }) { id } }`, {}, ADMIN_KEY)
        : await gqlRaw(server.url, `{ calls(first: 1) { edges { node { id } } } }`, {}, ADMIN_KEY);
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.errors?.[0]?.extensions, { code: 'UNAVAILABLE', dependency: what === 'store' ? 'eventStore' : 'readModels' });
    assert.match(refused.errors![0]!.message, /^the (event store|read database) is unavailable \(.+\); try again shortly$/);
  }
  const atStop = load.result.completed;
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  const duringOutage = load.result.completed - atStop;
  await down.start();
  if (what === 'redis') await readiness.notDegradedAfter(1);
  else await readiness.greenAfter(1);
  await new Promise((r) => setTimeout(r, 3_000));
  const result = await load.stop();
  const periods = await readiness.stop();

  assert.equal(server.exitCode(), null, `the server process is still up:\n${server.output().slice(-3000)}`);
  assert.equal((await fetch(server.url.replace(/\/graphql$/, '/healthz'))).status, 200);
  assert.deepEqual(result.unexpected, [], 'every refusal during the outage was UNAVAILABLE (or no answer)');
  if (what === 'store') assert.ok(result.unavailable > 0, 'requests were refused while the event store was down');
  // Without the read database, or Redis, the write side goes on: calls are placed and stored meanwhile.
  else assert.ok(duringOutage > 0, `calls completed while ${outageOf} was down (${duringOutage})`);
  assert.ok(result.slowestFailureMs < 15_000, `a refused request answered within 15 s (slowest ${result.slowestFailureMs} ms): none hangs`);
  assert.ok(result.completed > before, 'calls complete again after the outage');

  const store = new PostgresEventStore(urls.store);
  try {
    const verified = await verifyAfterOutage({ url: server.url, shop, store, readDatabaseUrl: urls.read, acked: result.acked });
    const retried = await metric(server.url, 'webdial_consumer_retries_total');
    const deadLettered = await metric(server.url, 'webdial_dead_letters_total');
    const dependencyErrors = await metric(server.url, 'webdial_dependency_errors_total');
    assert.equal(deadLettered, 0, 'no event was dead-lettered');
    const shown = what === 'redis' ? readiness.degradedPeriods : periods;
    const red = shown.map((p) => `${(p.ms / 1000).toFixed(1)} s`).join(', ');
    const reasons = Object.entries(shown[0]?.reasons ?? {}).map(([d, r]) => `${d}: ${r}`).join('; ');
    console.log(
      `# outage ${outageOf} (${OUTAGE_MS / 1000} s): readiness ${what === 'redis' ? `green throughout, degraded ${red}` : `red ${red}`} [${reasons}]; ${retried} projection batch(es) retried; ${deadLettered} dead-lettered; ` +
        `${dependencyErrors} dependency error(s) survived; ${result.unavailable} request(s) answered UNAVAILABLE (slowest ${result.slowestFailureMs} ms); ` +
        `${verified.calls} calls (${result.completed} completed, ${duringOutage} during the outage), ${verified.events} events, billed ${verified.billedMinor} minor units = the fold of the store`,
    );
    if (what === 'redis') {
      assert.deepEqual(periods, [], 'Redis down degrades the rate limits; the server stays ready');
      assert.ok(readiness.degradedPeriods.length >= 1, '/readyz said it was degraded');
      assert.ok((await metric(server.url, 'webdial_dependency_errors_total', { dependency: 'redis' })) > 0);
      assert.equal(await metric(server.url, 'webdial_rate_limit_degraded'), 0, 'shared limits again once Redis is back');
    } else assert.ok(periods.length >= 1 && periods.every((p) => p.ms < 60_000), `readiness went red and green again: ${red}`);
  } finally {
    await store.close();
  }
};

describe('outages under load: the server stays up and no event is lost or applied twice', () => {
  test('PostgreSQL (event store and read models) stopped for 5 s, in-process bus', async (t) => {
    const pg = await cluster(t);
    if (!pg) return;
    await drill('of PostgreSQL (store + read models), memory bus', 'store', pg, { WEBDIAL_EVENT_STORE: 'postgres', WEBDIAL_READ_DB: 'postgres', DATABASE_URL: pg.url }, { store: pg.url, read: pg.url });
  });

  test('PostgreSQL (event store and read models) stopped for 5 s, Kafka bus', async (t) => {
    const broker = await useKafka(t);
    if (!broker) return;
    const pg = await cluster(t);
    if (!pg) return;
    t.after(() => broker.release());
    await drill(
      'of PostgreSQL (store + read models), Kafka bus',
      'store',
      pg,
      {
        WEBDIAL_EVENT_STORE: 'postgres',
        WEBDIAL_READ_DB: 'postgres',
        DATABASE_URL: pg.url,
        WEBDIAL_BUS: 'kafka',
        KAFKA_BROKERS: broker.brokers.join(','),
        KAFKA_PARTITIONS: '3',
        KAFKA_TOPIC_PREFIX: `outage-${randomBytes(4).toString('hex')}.`,
      },
      { store: pg.url, read: pg.url },
    );
  });

  test('only the read database stopped for 5 s (read models on a cluster of their own), in-process bus', async (t) => {
    const storeUrl = await sharedDatabase(t);
    if (!storeUrl) return;
    const read = await cluster(t);
    if (!read) return;
    await drill(
      'of the read database only, memory bus',
      'read',
      read,
      { WEBDIAL_EVENT_STORE: 'postgres', WEBDIAL_READ_DB: 'postgres', DATABASE_URL: storeUrl, WEBDIAL_READ_DATABASE_URL: read.url },
      { store: storeUrl, read: read.url },
    );
  });

  test('Redis (shared rate limits) stopped for 5 s: the limits hold per instance, the server stays ready', async (t) => {
    const missing = privateRedisMissing();
    if (missing) return serviceMissing(t, 'a private Redis', missing);
    const dbUrl = await sharedDatabase(t);
    if (!dbUrl) return;
    const redis = await privateRedis();
    await drill(
      'of Redis, memory bus',
      'redis',
      redis,
      { WEBDIAL_EVENT_STORE: 'postgres', WEBDIAL_READ_DB: 'postgres', DATABASE_URL: dbUrl, REDIS_URL: redis.url, WEBDIAL_REDIS_PREFIX: `outage-${randomBytes(3).toString('hex')}:` },
      { store: dbUrl, read: dbUrl },
    );
  });
});
