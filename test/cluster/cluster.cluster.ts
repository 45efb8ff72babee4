import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { gql, GqlRequestError } from '../../src/cli/client';
import { createEventStore } from '../../src/adapters/eventstore';
import type { EventStore, StoredEvent } from '../../src/ports/event-store';
import { ALL_TOPICS } from '../../src/ports/bus';
import { encodeWatermark, headerText, H, WATERMARK_CONTENT_TYPE } from '../../src/adapters/bus/kafka/codec';
import { rateCall } from '../../src/domain/rating/rating';
import type { RatePlan } from '../../src/domain/rating/rate-plan';
import { talkMsBetween } from '../../src/domain/call/call';
import { defaultStackOptions, ensureHaproxy, startStack, tcpOpen, type Stack, type StackInstance } from '../../src/stack/stack';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import { useKafka, type TestBroker } from '../support/kafka-broker';
import { ADMIN_KEY, collect, eventually, wsClient } from '../support/server';
import { setupGateway, setupMerchant, type TestMerchant } from '../support/merchant';

/**
 * Issue 21, must-have 7: the production topology (`webdial stack`: 2 instances on one PostgreSQL,
 * Kafka and Redis behind HAProxy) under a steady load of full simulated calls placed through the
 * proxy, while instances are killed with -9 (one, then the leader: the instance whose /readyz
 * `roles` lists the cluster jobs, or instance 0 while /readyz has no roles) and restarted, then
 * restarted one after the other (a rolling deploy). Afterwards:
 *   1. every acknowledged step (a download or an initiation that answered) is readable from every
 *      instance, asked directly, and every call ended in the same state everywhere;
 *   2. no stage is stored twice: at most one CallDownloaded / CallInitiated / CallAnswered /
 *      CallTerminated per call, read from the store;
 *   3. billing, as every instance answers it, equals a fold of the store with the rating function;
 *   4. every gateway port is free (and every TCP port of the stack once it stopped);
 *   5. each event was published to Kafka exactly once (watermark markers aside);
 *   6. the rolling restart failed no request (each instance drained in HAProxy before its SIGTERM).
 * Sized for 2 shared cores: ~12 calls/s for about 45 s.
 */
const RATE = Number(process.env.CLUSTER_CALLS_PER_SECOND ?? 10);
const BASE_PORT = Number(process.env.CLUSTER_PORT ?? 4740);
const PORTS = 120;
const PLAN = { currency: 'USD', ratePerMinuteMinor: 12, connectionFeeMinor: 5, firstIncrementSeconds: 1, nextIncrementSeconds: 1 };

const DOWNLOAD = `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`;
const INITIATE = `mutation($t: String!) { initiateCall(callToken: $t) { id } }`;

interface Placed {
  callId: string;
  initiated: boolean;
}

/** Open-loop load: a call started every 1000/RATE ms (at most `maxInFlight` at once), through the proxy. */
const loadDriver = (url: string, shop: TestMerchant) => {
  const placed = new Map<string, Placed>();
  const refused = new Map<string, number>();
  const samples = new Map<string, string>();
  const refusedAt: number[] = [];
  const note = (what: string, sample?: string): void => {
    refused.set(what, (refused.get(what) ?? 0) + 1);
    if (what !== 'stopped' && !what.startsWith('skipped')) refusedAt.push(Date.now());
    if (sample && !samples.has(what)) samples.set(what, sample.slice(0, 200));
  };
  const why = (e: unknown): [string, string] =>
    e instanceof GqlRequestError ? [e.code ?? 'ERROR', e.message] : [(e as Error).message.slice(0, 40), String((e as { cause?: { code?: string; message?: string } }).cause?.code ?? (e as { cause?: Error }).cause?.message ?? '')];
  const inFlight = new Set<Promise<void>>();
  let n = 0;
  let stopped = false;
  const one = async (i: number) => {
    let callId: string;
    let token: string;
    try {
      const { recordDownload } = await gql<{ recordDownload: { callId: string; callToken: string } }>(url, DOWNLOAD, {
        i: { merchantId: shop.merchantId, linkId: shop.linkId, customerId: `cluster-${i}`, pageUrl: `https://shop.example/p/${i % 5}` },
      });
      callId = recordDownload.callId;
      token = recordDownload.callToken;
    } catch (e) {
      const [code, sample] = why(e);
      return note(`download ${code}`, sample);
    }
    const p: Placed = { callId, initiated: false };
    placed.set(callId, p);
    try {
      await gql(url, INITIATE, { t: token });
      p.initiated = true;
    } catch (e) {
      const [code, sample] = why(e);
      note(`initiate ${code}`, sample);
    }
  };
  const started = Date.now();
  const timer = setInterval(() => {
    if (stopped || inFlight.size >= 80) return note(stopped ? 'stopped' : 'skipped (80 in flight)');
    const p = one(n++).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 1000 / RATE);
  return {
    placed,
    refused,
    samples,
    /** Requests refused (or failed) between two instants. */
    refusedBetween: (from: number, to: number) => refusedAt.filter((t) => t >= from && t <= to).length,
    get attempts() {
      return n;
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return (Date.now() - started) / 1000;
    },
  };
};

/** Every event of the store, in order. */
const readEverything = async (store: EventStore): Promise<StoredEvent[]> => {
  const all: StoredEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000 });
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.position;
  }
};

interface Folded {
  stages: Map<string, Map<string, number>>;
  final: Map<string, string>;
  billing: { amountMinor: number; calls: number };
}

/** The calls as the store tells them: how often each stage was stored, the last state, and what billing must be. */
const fold = (events: StoredEvent[], merchantId: string): Folded => {
  const stages = new Map<string, Map<string, number>>();
  const final = new Map<string, string>();
  const calls = new Map<string, { plan?: RatePlan; destination?: string; answeredAt?: string; terminatedAt?: string }>();
  const state: Record<string, string> = { CallDownloaded: 'DOWNLOADED', CallInitiated: 'INITIATED', CallRinging: 'RINGING', CallAnswered: 'ANSWERED', CallTerminated: 'TERMINATED' };
  for (const e of events) {
    if (e.merchantId !== merchantId || !(e.type in state)) continue;
    const d = e.data as { callId: string; at: string; ratePlan?: RatePlan | null; destination?: string };
    const perCall = stages.get(d.callId) ?? new Map<string, number>();
    stages.set(d.callId, perCall);
    perCall.set(e.type, (perCall.get(e.type) ?? 0) + 1);
    if (final.get(d.callId) !== 'TERMINATED') final.set(d.callId, state[e.type]!);
    const c = calls.get(d.callId) ?? {};
    calls.set(d.callId, c);
    if (e.type === 'CallInitiated') Object.assign(c, { plan: d.ratePlan ?? undefined, destination: d.destination });
    if (e.type === 'CallAnswered') c.answeredAt ??= d.at;
    if (e.type === 'CallTerminated') c.terminatedAt ??= d.at;
  }
  let amountMinor = 0;
  let billed = 0;
  for (const c of calls.values()) {
    if (!c.answeredAt || !c.terminatedAt || !c.plan || !c.destination) continue;
    amountMinor += rateCall(c.plan, c.destination, talkMsBetween(c.answeredAt, c.terminatedAt)).amountMinor;
    billed++;
  }
  return { stages, final, billing: { amountMinor, calls: billed } };
};

/** The cluster jobs an instance leads, from /readyz `roles` (null: this build reports none). */
const rolesOf = async (x: StackInstance): Promise<string[] | null> => {
  try {
    const r = await fetch(`${x.base}/readyz`, { signal: AbortSignal.timeout(2000) });
    const body = (await r.json()) as { roles?: unknown };
    return Array.isArray(body.roles) ? (body.roles as string[]) : null;
  } catch {
    return null;
  }
};

/** Every call of the merchant as one instance's read side answers it. */
const callsOn = async (x: StackInstance, key: string): Promise<Map<string, string>> => {
  const out = new Map<string, string>();
  let after: string | null = null;
  for (;;) {
    const page: { calls: { edges: Array<{ node: { id: string; state: string } }>; pageInfo: { endCursor: string | null; hasNextPage: boolean } } } = await gql(
      x.url,
      `query($a: String) { calls(first: 100, after: $a) { edges { node { id state } } pageInfo { endCursor hasNextPage } } }`,
      { a: after },
      key,
    );
    for (const e of page.calls.edges) out.set(e.node.id, e.node.state);
    if (!page.calls.pageInfo.hasNextPage) return out;
    after = page.calls.pageInfo.endCursor;
  }
};

/** The header that marks this check's own end-of-topic sentinels (a watermark marker at the store's head otherwise). */
const SENTINEL = 'x-cluster-check';

/**
 * Consumes every category topic from the beginning (a throwaway group) and counts the messages per eventId.
 *
 * "Read to the end" is proven with a sentinel, not with the topics' end offsets: the relay publishes in
 * Kafka transactions, so a partition's end offset can lie behind a commit or abort marker that no
 * consumer is ever handed. The sentinel is a true watermark marker (every stored event, up to `head`,
 * is on Kafka by then), sent to each partition after everything else, with a header of this check:
 * once the consumer has seen it on every partition, it has read everything before it.
 */
const countPublished = async (brokers: string[], prefix: string, expected: Set<string>, head: string): Promise<{ counts: Map<string, number>; markers: number }> => {
  const kafka = new Kafka({ brokers, clientId: `cluster-check-${randomBytes(3).toString('hex')}`, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  const topics = ALL_TOPICS.map((t) => `${prefix}${t}`);
  const consumer = kafka.consumer({ groupId: `${prefix}cluster-check.${randomBytes(4).toString('hex')}` });
  const nonce = randomBytes(6).toString('hex');
  const counts = new Map<string, number>();
  const sentinels = new Set<string>(); // topic:partition where this check's sentinel was read
  let markers = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        if (headerText(message.headers, SENTINEL) === nonce) return void sentinels.add(`${topic}:${partition}`);
        if (headerText(message.headers, H.contentType) === WATERMARK_CONTENT_TYPE) return void markers++;
        const id = headerText(message.headers, H.eventId) ?? 'no eventId header';
        counts.set(id, (counts.get(id) ?? 0) + 1);
      },
    });
    // Every stored event published at least once, then everything up to a sentinel on each partition read.
    await eventually(async () => [...expected].every((id) => counts.has(id)), 60_000, `every stored event on Kafka (${counts.size}/${expected.size} so far)`);
    const partitions = (await Promise.all(topics.map(async (t) => (await admin.fetchTopicOffsets(t)).map((p) => ({ topic: t, partition: p.partition }))))).flat();
    await producer.connect();
    const marker = encodeWatermark(head);
    await producer.sendBatch({
      acks: -1,
      topicMessages: topics.map((topic) => ({
        topic,
        messages: partitions.filter((p) => p.topic === topic).map(({ partition }) => ({ ...marker, headers: { ...marker.headers, [SENTINEL]: nonce }, partition })),
      })),
    });
    const behind = () => partitions.filter((p) => !sentinels.has(`${p.topic}:${p.partition}`)).map((p) => `${p.topic}/${p.partition}`);
    await eventually(async () => behind().length === 0, 60_000, "every partition read to this check's sentinel").catch((e: Error) => {
      throw new Error(`${e.message}; not read on ${behind().join(', ')}`);
    });
  } finally {
    await producer.disconnect().catch(() => undefined);
    await consumer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return { counts, markers };
};

const ms = (from: number) => Date.now() - from;

describe('a cluster of 2 behind HAProxy: full calls under load through kill -9, leader failover and a rolling restart', () => {
  let stack: Stack | null = null;
  let broker: TestBroker | null = null;
  let store: EventStore | null = null;
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    await stack?.stop();
    await store?.close();
    for (const c of cleanup.reverse()) await c().catch((e: unknown) => console.log(`# cleanup: ${(e as Error).message}`));
    await broker?.release();
  });

  test('nothing acknowledged lost or doubled, billing is the fold of the store, every port free, each event published once', { timeout: 300_000 }, async (t: TestContext) => {
    // The services: skip with the reason where one is missing (a failure under CI=true).
    const pgDown = await probePostgres();
    if (pgDown) return serviceMissing(t, 'PostgreSQL', `${POSTGRES_URL}: ${pgDown}`);
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = new URL(redisUrl);
    if (!(await tcpOpen(redis.hostname, Number(redis.port || 6379)))) return serviceMissing(t, 'Redis', `nothing answers at ${redisUrl}`);
    const noHaproxy = ensureHaproxy((l) => console.log(`# ${l}`), process.env.CI === 'true');
    if (noHaproxy) return serviceMissing(t, 'HAProxy', noHaproxy);
    broker = await useKafka(t);
    if (!broker) return;
    for (const p of [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2, BASE_PORT + 20])
      if (await tcpOpen('127.0.0.1', p)) return serviceMissing(t, 'free ports', `127.0.0.1:${p} is taken (set CLUSTER_PORT)`);

    const name = `cluster_${randomBytes(4).toString('hex')}`;
    const prefix = `${name}.`;
    const dir = mkdtempSync(join(tmpdir(), 'webdial-cluster-'));
    let passed = false;
    cleanup.push(async () => (passed ? rmSync(dir, { recursive: true, force: true }) : console.log(`# the stack's logs are kept in ${dir}`)));
    const adminUrl = new URL(POSTGRES_URL);
    adminUrl.pathname = '/postgres';
    cleanup.push(async () => {
      const { Client } = await import('pg');
      const c = new Client({ connectionString: adminUrl.toString() });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`).finally(() => c.end());
    });
    cleanup.push(async () => {
      const admin = new Kafka({ brokers: broker!.brokers, clientId: 'cluster-cleanup', logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
        if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
        const topics = (await admin.listTopics()).filter((x) => x.startsWith(prefix));
        if (topics.length) await admin.deleteTopics({ topics });
      } finally {
        await admin.disconnect();
      }
    });

    const t0 = Date.now();
    stack = await startStack(
      defaultStackOptions({
        instances: 2,
        port: BASE_PORT,
        statsPort: BASE_PORT + 20,
        name,
        dir,
        databaseUrl: adminUrl.toString(),
        redisUrl,
        kafkaBrokers: broker.brokers.join(','),
        startServices: false,
        installHaproxy: process.env.CI === 'true',
        log: (l) => console.log(`# ${l}`),
        env: {
          WEBDIAL_ADMIN_KEY: ADMIN_KEY,
          WEBDIAL_MEDIA: 'simulator',
          LOG_LEVEL: 'warn',
          KAFKA_PARTITIONS: '3',
          // A call: ringing after 0.3 s, answered 0.5 s later, 1.5 s of talk.
          WEBDIAL_SIM_RING_MS: '300',
          WEBDIAL_SIM_ANSWER_MS: '500',
          WEBDIAL_SIM_TALK_MS: '1500',
          // The simulator of a killed instance dies with it: its calls are ended by the timers
          // (a cluster job) within these bounds instead of an hour.
          WEBDIAL_RINGING_TIMEOUT: '8',
          WEBDIAL_MAX_CALL_DURATION: '15',
          WEBDIAL_ANI_QUARANTINE: '1',
          // A kill -9 in the middle of an initiation can leave a port seized by a call that never got
          // its CallInitiated; the abandon timer ends such a call (and its end releases the port).
          WEBDIAL_ABANDON_AFTER: '20',
          // Every caller of this test comes from 127.0.0.1.
          WEBDIAL_RATE_CLIENT_PER_MIN: '1000000',
          WEBDIAL_RATE_MERCHANT_PER_MIN: '10000000',
        },
      }),
    );
    const [a, b] = stack.instances as [StackInstance, StackInstance];
    console.log(`# stack up in ${ms(t0)} ms: ${stack.url} → ${a.base}, ${b.base}`);
    store = await createEventStore({ kind: 'postgres', databaseUrl: stack.env.DATABASE_URL, dataDir: dir });

    // Set-up through the proxy; one call with its events over a WebSocket through the proxy too.
    const shop = await setupMerchant(stack.url, 'Cluster shop', PORTS);
    const gatewayId = await setupGateway(stack.url, PORTS, 7);
    await gql(stack.url, `mutation($i: RatePlanInput!) { setRatePlan(input: $i) }`, { i: { merchantId: shop.merchantId, ...PLAN } }, ADMIN_KEY);
    const ws = wsClient(stack.url.replace(/^http/, 'ws'), shop.merchantKey);
    cleanup.push(async () => void (await ws.dispose()));
    const first = await eventually(
      async () =>
        (await gql(stack!.url, DOWNLOAD, { i: { merchantId: shop.merchantId, linkId: shop.linkId, customerId: 'ws', pageUrl: 'https://shop.example/ws' } })).recordDownload as {
          callId: string;
          callToken: string;
        },
      20_000,
      'the merchant known to the instance that answers',
    );
    // Resumes after the head as it is now: nothing of the call is missed while the subscription starts.
    const events = collect<{ type: string }>(
      ws,
      `subscription($m: ID!, $c: ID, $a: String) { callEvents(merchantId: $m, callId: $c, after: $a) { type } }`,
      { m: shop.merchantId, c: first.callId, a: await store.headPosition() },
      (xs) => xs.some((x) => x.type === 'CallTerminated'),
      30_000,
    );
    await gql(stack.url, INITIATE, { t: first.callToken });
    assert.deepEqual(
      (await events.done).map((x) => x.type).filter((x) => x !== 'CallDownloaded'),
      ['CallInitiated', 'CallRinging', 'CallAnswered', 'CallTerminated'],
      'a call followed over graphql-ws through HAProxy',
    );

    // The load, and the faults during it.
    const load = loadDriver(stack.url, shop);
    const timeline: string[] = [];
    const mark = (s: string) => {
      const line = `t+${(ms(t0) / 1000).toFixed(1)} s (${load.attempts} calls started): ${s}`;
      timeline.push(line);
      console.log(`# ${line}`);
    };
    const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
    const failovers: Array<{ to: string; roles: string[]; ms: number }> = [];
    const kills: number[] = [];
    const stops: number[] = [];
    const killAndRestart = async (x: StackInstance, why: string) => {
      const roles = await rolesOf(x);
      await x.kill();
      const killed = Date.now();
      kills.push(killed);
      mark(`kill -9 ${x.name} (${why}${roles ? `; it led ${JSON.stringify(roles)}` : ''})`);
      if (roles?.length) {
        // Failover: the survivor takes every role the dead one held (issue 21: within 5 s).
        const other = stack!.instances.find((y) => y !== x)!;
        await eventually(async () => {
          const r = await rolesOf(other);
          return r !== null && roles.every((role) => r.includes(role));
        }, 30_000, `${other.name} takes over ${roles.join(', ')}`);
        const failoverMs = ms(killed);
        failovers.push({ to: other.name, roles, ms: failoverMs });
        mark(`${other.name} leads ${roles.join(', ')} ${failoverMs} ms after the kill (seen through its /readyz)`);
      }
      await sleep(2);
      const restarting = Date.now();
      await x.start();
      mark(`${x.name} restarted: ready ${ms(restarting)} ms after its start (${ms(killed)} ms after the kill)`);
    };
    // What HAProxy sees: each instance's /readyz every 500 ms, its changes on the timeline.
    const readiness = new Map<string, string>();
    const watch = setInterval(() => {
      for (const x of stack!.instances)
        void fetch(`${x.base}/readyz`, { signal: AbortSignal.timeout(2000) })
          .then(async (r) => `${r.status}${r.status === 200 ? '' : ` ${(await r.text()).slice(0, 160)}`}`)
          .catch((e: unknown) => `no answer (${String((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message).slice(0, 60)})`)
          .then((now) => {
            if (readiness.get(x.name) !== now) mark(`${x.name} /readyz: ${now}`);
            readiness.set(x.name, now);
          });
    }, 500);
    cleanup.push(async () => clearInterval(watch));
    mark(`load: ${RATE} calls/s through ${stack.url}`);
    await sleep(4);
    // Kill a follower first, then the leader (with /readyz roles), or instance 1 then instance 0 (without).
    const leaderNow = async (): Promise<StackInstance | null> => {
      for (const x of stack!.instances) if ((await rolesOf(x))?.length) return x;
      return null;
    };
    const leader1 = await leaderNow();
    const rolesReported = leader1 !== null;
    await killAndRestart(leader1 ? stack.instances.find((x) => x !== leader1)! : b, rolesReported ? 'a follower' : 'instance 1; /readyz reports no roles yet');
    await sleep(2);
    const leader2 = (await leaderNow()) ?? a;
    await killAndRestart(leader2, rolesReported ? 'the leader' : 'instance 0, the leader when /readyz reports no roles');
    await sleep(2);
    // The rolling restart as `webdial stack restart` does it: drained in HAProxy, SIGTERM, started, back.
    const rollingFrom = Date.now();
    for (const x of stack.instances) {
      const restarting = Date.now();
      stops.push(restarting);
      await stack.restartInstance(x);
      mark(`rolling restart: ${x.name} drained, stopped, started and back in the rotation in ${ms(restarting)} ms`);
      await sleep(1);
    }
    const rollingTo = Date.now();
    await sleep(2);
    const seconds = await load.stop();
    clearInterval(watch);
    mark(`load stopped after ${seconds.toFixed(1)} s`);
    const acknowledged = [...load.placed.values()];
    const initiated = acknowledged.filter((p) => p.initiated);
    console.log(
      `# ${load.attempts} calls attempted in ${seconds.toFixed(1)} s (${(load.attempts / seconds).toFixed(1)}/s): ${acknowledged.length} downloads and ${initiated.length} initiations acknowledged; refused: ${JSON.stringify(Object.fromEntries(load.refused))}; e.g. ${JSON.stringify(Object.fromEntries(load.samples))}`,
    );
    assert.ok(initiated.length >= load.attempts * 0.8, `most calls went through (${initiated.length} of ${load.attempts})`);
    const failedWhileRolling = load.refusedBetween(rollingFrom, rollingTo);
    console.log(`# rolling restart (${((rollingTo - rollingFrom) / 1000).toFixed(1)} s): ${failedWhileRolling} requests failed`);
    assert.equal(failedWhileRolling, 0, 'a rolling restart (drain, SIGTERM, start, ready) fails no request');
    // A SIGTERM ends the process: none was held until the stack's 20 s SIGKILL (a handle left open once held each for 20 s).
    assert.deepEqual(stack.instances.map((x) => x.forcedKills), stack.instances.map(() => 0), 'every instance exits on SIGTERM, without a SIGKILL');

    // The store: every call that was initiated ends (the timers end those whose simulator was killed).
    const drained = Date.now();
    let stored: StoredEvent[] = [];
    let folded: Folded = fold([], shop.merchantId);
    await eventually(
      async () => {
        stored = await readEverything(store!);
        folded = fold(stored, shop.merchantId);
        return [...folded.stages].every(([, s]) => s.has('CallTerminated'));
      },
      90_000,
      'every call terminated in the store (the simulator, the timers or the abandon timer)',
    );
    const seizedOnly = [...new Set(stored.filter((e) => e.type === 'PortSeized').map((e) => (e.data as { callId: string }).callId))].filter((c) => !folded.stages.get(c)?.has('CallInitiated'));
    console.log(`# every call ended ${ms(drained)} ms after the load; ${stored.length} events stored; ${seizedOnly.length} call(s) seized a port but were never initiated (killed mid-initiation; ended by the abandon timer)`);

    // 2. No stage stored twice.
    const doubled = [...folded.stages].flatMap(([callId, s]) => [...s].filter(([, n]) => n > 1).map(([type, n]) => `${callId} ${type} ×${n}`));
    assert.deepEqual(doubled, [], 'a stage stored more than once');
    for (const p of acknowledged) {
      const s = folded.stages.get(p.callId);
      assert.ok(s?.get('CallDownloaded') === 1, `acknowledged download ${p.callId} stored`);
      if (p.initiated) assert.ok(s?.get('CallInitiated') === 1, `acknowledged initiation ${p.callId} stored`);
    }

    // 1. Every acknowledged step readable from every instance, in the state the store says.
    for (const x of stack.instances) {
      const startedRead = Date.now();
      const missing = await eventually(
        async () => {
          const seen = await callsOn(x, shop.merchantKey);
          const wrong = acknowledged.filter((p) => seen.get(p.callId) !== folded.final.get(p.callId));
          return wrong.length === 0 ? ('none' as const) : null;
        },
        60_000,
        `${x.name}: every acknowledged call readable in its final state`,
      );
      assert.equal(missing, 'none');
      console.log(`# ${x.name}: all ${acknowledged.length} acknowledged calls readable in their final state (${ms(startedRead)} ms)`);
    }

    // 3. Billing: the fold of the store, as each instance answers it.
    const from = new Date(t0 - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    for (const x of stack.instances) {
      const { billingSummary } = await gql<{ billingSummary: { amountMinor: number; calls: number } }>(
        x.url,
        `query($m: ID!, $f: DateTime!, $t: DateTime!) { billingSummary(merchantId: $m, from: $f, to: $t) { amountMinor calls } }`,
        { m: shop.merchantId, f: from, t: to },
        shop.merchantKey,
      );
      assert.deepEqual({ amountMinor: Number(billingSummary.amountMinor), calls: billingSummary.calls }, folded.billing, `${x.name}: billing equals the fold of the store`);
    }
    console.log(`# billing on both instances = fold of the store: ${folded.billing.calls} calls, ${folded.billing.amountMinor} minor units`);

    // 4. Every gateway port free, as every instance reads it.
    for (const x of stack.instances) {
      const busy = await eventually(
        async () => {
          const { gateway } = await gql<{ gateway: { ports: Array<{ number: number; busy: boolean; callId: string | null }> } }>(
            x.url,
            `query($g: ID!) { gateway(id: $g) { ports { number busy callId } } }`,
            { g: gatewayId },
            ADMIN_KEY,
          );
          const held = gateway.ports.filter((p) => p.busy);
          if (held.length) throw new Error(`busy: ${held.map((p) => `port ${p.number} by ${p.callId} (${[...(folded.stages.get(p.callId ?? '')?.keys() ?? [])].join(',') || 'no call events'})`).join('; ')}`);
          return gateway.ports;
        },
        30_000,
        `${x.name}: every port free`,
      );
      assert.equal(busy.length, PORTS);
    }

    // The roles, where /readyz reports them: each cluster job led by exactly one instance, and
    // webdial_cluster_role{role} says the same as /readyz.
    if (rolesReported) {
      const held = new Map<string, string[]>();
      for (const x of stack.instances) {
        const roles = (await rolesOf(x)) ?? [];
        for (const r of roles) held.set(r, [...(held.get(r) ?? []), x.name]);
        const metrics = await (await fetch(`${x.base}/metrics`)).text();
        const gauge = new Set([...metrics.matchAll(/^webdial_cluster_role\{role="([^"]+)"\} 1$/gm)].map((m) => m[1]!));
        assert.deepEqual([...gauge].sort(), [...roles].sort(), `${x.name}: webdial_cluster_role{role} = 1 for exactly the roles /readyz lists`);
      }
      const twice = [...held].filter(([, xs]) => xs.length !== 1);
      assert.deepEqual(twice, [], 'a cluster job led by more than one instance');
      console.log(`# roles: ${JSON.stringify(Object.fromEntries(held))}`);
    } else console.log('# roles: /readyz reports none yet (no leases): the leader was taken to be instance 0');

    // 5. Each event published to Kafka once.
    const ids = new Set(stored.map((e) => e.eventId));
    const { counts, markers } = await countPublished(broker.brokers, prefix, ids, stored.reduce((head, e) => (e.position > head ? e.position : head), ''));
    const repeated = [...counts].filter(([, n]) => n > 1);
    // An event stored since `stored` was read (a late timer) is on the topics too: strangers are checked against the store as it is now.
    const now = await readEverything(store!);
    const storedNow = new Set(now.map((e) => e.eventId));
    const late = now.filter((e) => !ids.has(e.eventId)).map((e) => e.type);
    if (late.length) console.log(`# stored after the store was read: ${late.join(', ')}`);
    const strangers = [...counts.keys()].filter((id) => !storedNow.has(id));
    console.log(
      `# Kafka: ${ids.size} stored events, ${counts.size} distinct on the topics, ${[...counts.values()].reduce((s, n) => s + n, 0)} event messages (${markers} watermark markers aside); ${repeated.length} published more than once (up to ×${Math.max(1, ...repeated.map(([, n]) => n))})`,
    );
    // When were the repeated ones stored? (A relay killed between its publish and its checkpoint
    // write leaves its last batch to its successor, which publishes it again.)
    const recordedAt = new Map(stored.map((e) => [e.eventId, Date.parse(e.recordedAt)]));
    const repeatedAt = repeated.map(([id]) => recordedAt.get(id) ?? 0).sort((x, y) => x - y);
    const bySecond = new Map<string, number>();
    for (const at of repeatedAt) bySecond.set(`t+${Math.floor((at - t0) / 1000)} s`, (bySecond.get(`t+${Math.floor((at - t0) / 1000)} s`) ?? 0) + 1);
    const repeatedWhen = repeatedAt.length ? `stored at ${[...bySecond].map(([k, n]) => `${k} ×${n}`).join(', ')}` : 'none';
    console.log(
      `# published more than once: ${repeated.length} (${repeatedWhen}); kills at ${kills.map((k) => `t+${((k - t0) / 1000).toFixed(1)} s`).join(', ')}; SIGTERMs (rolling) at ${stops.map((k) => `t+${((k - t0) / 1000).toFixed(1)} s`).join(', ')}`,
    );
    console.log(`# timeline:\n#   ${timeline.join('\n#   ')}`);
    assert.deepEqual(strangers, [], 'a message on the topics that is not a stored event');

    // The stack stops cleanly and leaves every TCP port free.
    await stack.stop();
    for (const p of [BASE_PORT, a.port, b.port, BASE_PORT + 20]) assert.equal(await tcpOpen('127.0.0.1', p), false, `127.0.0.1:${p} free after the stack stopped`);

    // Issue 21: "when the leader is killed -9, another instance takes over within 5 s" (measured as
    // the survivor's /readyz shows it: an upper bound). Checked last but one, so a slow takeover
    // does not hide what the other checks find.
    const limit = Number(process.env.CLUSTER_FAILOVER_MS ?? 5000);
    passed = repeated.length === 0 && failovers.every((f) => f.ms <= limit);
    for (const f of failovers) assert.ok(f.ms <= limit, `${f.to} took over ${f.roles.join(', ')} ${f.ms} ms after the kill (limit ${limit} ms)`);

    // ISSUE 21 MUST-HAVE 2 ("each event is published to Kafka once"). Before the leases every instance
    // ran a relay (every event ×2–3). With the relay leased, what remains is the batch a killed leader
    // had published but not checkpointed: its successor publishes it again (at-least-once).
    assert.equal(repeated.length, 0, `${repeated.length} of ${counts.size} events were published more than once (${repeatedWhen}), e.g. ${JSON.stringify(repeated.slice(0, 3))} (issue 21, must-have 2)`);
  });
});
