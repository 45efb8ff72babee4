import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gqlRaw } from '../../src/cli/client';
import { eventually, startServer, type ServerProcess } from '../support/server';
import { startPair, withPostgresDatabase } from '../support/postgres-db';
import { setupMerchant, type TestMerchant } from '../support/merchant';
import { privateRedis, probeRedis, SHARED_REDIS_URL, type PrivateRedis } from '../support/redis';
import { serviceMissing } from '../support/services';

/**
 * Issue 13, limits shared by instances: two server processes on one store (a fresh PostgreSQL
 * database, each process with its own data directory) and one Redis hold the per-client download limit together; without Redis each process
 * counts alone (the control). Then Redis goes away (a private redis-server this test started): the
 * documented fallback applies, with a metric and a log line, and the limits are shared again once
 * it is back.
 */
const LIMIT = 5;
const ENV = { WEBDIAL_MEDIA: 'external', WEBDIAL_RATE_CLIENT_PER_MIN: String(LIMIT), WEBDIAL_TOKEN_SECRET: 'rate-limit-token-secret-0123456789ab' };

const download = (url: string, m: TestMerchant) =>
  gqlRaw(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId } }`, { i: { merchantId: m.merchantId, linkId: m.linkId, pageUrl: 'https://shop.example/' } });

/** `n` downloads from one client address, alternating between the servers: how many were let through, how many refused. */
const downloads = async (urls: string[], m: TestMerchant, n: number) => {
  let ok = 0;
  let limited = 0;
  for (let i = 0; i < n; i++) {
    const r = await download(urls[i % urls.length]!, m);
    if (r.data?.recordDownload) ok++;
    else if (r.errors?.[0]?.extensions?.code === 'RATE_LIMITED') limited++;
    else throw new Error(`unexpected answer: ${JSON.stringify(r)}`);
  }
  return { ok, limited };
};

const metric = async (url: string, name: string) => {
  const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
  return text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
};

/** Runs `fn` on two server processes on one fresh PostgreSQL database, and stops them afterwards. */
const twoServers = (t: TestContext, env: Record<string, string>, fn: (one: ServerProcess, two: ServerProcess) => Promise<void>) =>
  withPostgresDatabase(t, 'webdial_rate', async (db) => {
    const [one, two] = await startPair(db, env);
    try {
      await fn(one, two);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });

describe('rate limits across two server processes on one store', () => {
  let missing: string | null = null;
  before(async () => {
    missing = await probeRedis(SHARED_REDIS_URL);
  });

  test('with Redis: the limit holds across both processes', async (t: TestContext) => {
    if (missing) return serviceMissing(t, 'redis', missing);
    await twoServers(t, { ...ENV, REDIS_URL: SHARED_REDIS_URL, WEBDIAL_REDIS_PREFIX: `webdial-e2e-${randomBytes(4).toString('hex')}:` }, async (one, two) => {
      const m = await setupMerchant(one.url, 'Limited');
      assert.deepEqual(await downloads([one.url, two.url], m, 12), { ok: LIMIT, limited: 12 - LIMIT });
      assert.match((await metric(one.url, 'webdial_rate_limited_total')) ?? '', /rule="download-per-client"/);
      assert.equal(await metric(two.url, 'webdial_rate_limit_degraded'), 'webdial_rate_limit_degraded 0');
    });
  });

  test('control, without Redis: each process counts on its own (2× the limit)', async (t: TestContext) => {
    await twoServers(t, ENV, async (one, two) => {
      const m = await setupMerchant(one.url, 'Local');
      assert.deepEqual(await downloads([one.url, two.url], m, 12), { ok: 2 * LIMIT, limited: 12 - 2 * LIMIT });
    });
  });
});

describe('rate limits when Redis is unreachable', () => {
  let redis: PrivateRedis | null = null;
  let missing: string | null = null;
  let server: ServerProcess | null = null;
  before(async () => {
    try {
      redis = await privateRedis();
    } catch (e) {
      missing = (e as Error).message;
    }
  });
  after(async () => {
    await server?.stop();
    await redis?.stop();
  });

  test('the limit still holds per instance, with a metric and one warning; shared again once Redis is back', async (t: TestContext) => {
    if (!redis) return serviceMissing(t, 'redis-server', missing ?? 'not started');
    server = await startServer({ ...ENV, REDIS_URL: redis.url, LOG_LEVEL: 'info' });
    const m = await setupMerchant(server.url, 'Outage');
    assert.deepEqual(await downloads([server.url], m, 2), { ok: 2, limited: 0 });

    await redis.stop();
    // The fallback counts from zero in this process: up to the limit again, then refusals.
    assert.deepEqual(await downloads([server.url], m, LIMIT + 2), { ok: LIMIT, limited: 2 });
    assert.equal(await metric(server.url, 'webdial_rate_limit_degraded'), 'webdial_rate_limit_degraded 1');
    assert.match((await metric(server.url, 'webdial_rate_limit_fallback_total')) ?? '', /rule="download-per-client"\} [1-9]/);
    const warnings = server.output().split('\n').filter((l) => l.includes('Redis is unreachable'));
    assert.equal(warnings.length, 1, 'one log line for the outage');

    await redis.start();
    await eventually(async () => (await metric(server!.url, 'webdial_rate_limit_degraded')) === 'webdial_rate_limit_degraded 0', 15_000, 'Redis back');
    assert.ok(server.output().includes('Redis answers again'));
  });
});
