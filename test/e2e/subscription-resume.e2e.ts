import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, tempDataDir, type ServerProcess } from '../support/server';
import { startPair, withPostgresDatabase, type PostgresDatabase } from '../support/postgres-db';
import { createEventStore, type EventStoreConfig } from '../../src/adapters/eventstore';
import { CALL_EVENT_TYPES } from '../../src/domain/call/events';

/**
 * callEvents resumes `after` a position without a gap or a repeat, across forced disconnects in the
 * middle of a stream (the socket is terminated, no `complete` is sent), across catch-ups that race
 * live appends, and across server processes sharing one store (PostgreSQL, when reachable: with
 * SQLite a second process on a data directory refuses to start, which is tested here as well).
 * The truth is the event store itself, read directly (every call event of the merchant, in position
 * order); the read side's callTimeline of every call is checked against it as well.
 */

interface Evt {
  eventId: string;
  callId: string;
  merchantId: string;
  type: string;
  position: string;
}

const WANTED = ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'CallTerminated'];
const SUBSCRIPTION = `subscription($m: ID!, $after: String) { callEvents(merchantId: $m, after: $after) { eventId callId merchantId type position } }`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server environment every process of this file runs with: gateway-driven media, no limits in the way. */
const ENV = { WEBDIAL_MEDIA: 'external', WEBDIAL_RATE_CLIENT_PER_MIN: '1000000', WEBDIAL_RATE_MERCHANT_PER_MIN: '1000000', WEBDIAL_ANI_QUARANTINE: '0' };

// ---------------------------------------------------------------------------------------------
// A raw graphql-transport-ws subscriber, so that a test controls exactly how the socket dies.
// ---------------------------------------------------------------------------------------------

interface Session {
  /** Resolves once the server acknowledged the connection and the subscribe message was sent. */
  subscribed: Promise<void>;
  /** Abrupt: destroys the TCP socket, no close frame, no `complete`; messages in flight are lost. */
  terminate(): void;
  /** Clean: `complete`, then a normal close. */
  close(): Promise<void>;
  /** Protocol errors and GraphQL errors seen by this session. */
  errors: string[];
}

const openSession = (wsUrl: string, key: string, merchantId: string, afterPosition: string | null, onEvent: (e: Evt, s: Session) => void): Session => {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
  let dead = false;
  let ack: () => void = () => undefined;
  let nack: (e: Error) => void = () => undefined;
  const session: Session = {
    subscribed: new Promise<void>((resolve, reject) => {
      ack = resolve;
      nack = reject;
    }),
    errors: [],
    terminate: () => {
      dead = true;
      ws.terminate();
    },
    close: async () => {
      if (dead) return;
      dead = true;
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: '1', type: 'complete' }));
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000, 'done');
      });
    },
  };
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
  ws.on('message', (raw) => {
    if (dead) return; // what was in flight when the socket was killed is lost, as on a real network
    const msg = JSON.parse(String(raw)) as { type: string; payload?: any };
    if (msg.type === 'connection_ack') {
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { m: merchantId, after: afterPosition } } }));
      ack();
    } else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    else if (msg.type === 'next') {
      if (msg.payload.errors) session.errors.push(JSON.stringify(msg.payload.errors));
      else onEvent(msg.payload.data.callEvents as Evt, session);
    } else if (msg.type === 'error') session.errors.push(JSON.stringify(msg.payload));
  });
  ws.on('error', (e) => {
    if (!dead) session.errors.push(e.message);
    nack(e);
  });
  ws.on('close', (code, reason) => {
    if (!dead) session.errors.push(`closed by the server: ${code} ${String(reason)}`);
    nack(new Error(`closed ${code}`));
  });
  return session;
};

/** Open subscriptions as the server counts them (webdial_open_subscriptions on /metrics). */
const openSubscriptions = async (server: ServerProcess): Promise<number> => {
  const text = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
  const m = /^webdial_open_subscriptions(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
};

// ---------------------------------------------------------------------------------------------
// Configuration and calls through the public API
// ---------------------------------------------------------------------------------------------

interface Shop {
  merchantId: string;
  linkId: string;
  merchantKey: string;
}

interface World {
  shops: Shop[];
  gatewayId: string;
  gatewayKey: string;
}

/** `shops` merchants, each with one call center and a link; one gateway with plenty of ports; a GATEWAY key. */
const configure = async (url: string, shops: number, ports = 80): Promise<World> => {
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(url, q, v, ADMIN_KEY);
  const suffix = randomBytes(2).readUInt16BE(0) % 90 + 10;
  const gatewayId = (await admin(
    `mutation { createGateway(input: { name: "GW", region: "eu", ports: [${Array.from({ length: ports }, (_, i) => `{ number: ${i + 1}, ani: "+44207${suffix}${String(i).padStart(4, '0')}" }`).join(', ')}] }) { id } }`,
  )).createGateway.id as string;
  const out: Shop[] = [];
  for (let i = 0; i < shops; i++) {
    const merchantId = (await admin(`mutation($n: String!) { createMerchant(input: { name: $n, maxConcurrentCalls: 100, allowedOrigins: ["https://shop.example"] }) { id } }`, { n: `Shop ${i}` })).createMerchant.id;
    const center = (
      await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+4420795${String(i).padStart(5, '0')}", timeZone: "Europe/London", capacity: 100, region: "eu" }) { id } }`, { m: merchantId })
    ).addCallCenter.id;
    const linkId = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Buy", callCenterIds: [$c] }) { id } }`, { m: merchantId, c: center })).createLink.id;
    const merchantKey = (await admin(`mutation($m: ID!) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m: merchantId })).createApiKey.key;
    out.push({ merchantId, linkId, merchantKey });
  }
  const gatewayKey = (await admin(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key;
  return { shops: out, gatewayId, gatewayKey };
};

/**
 * One call through every stage: the widget's two mutations, then the gateway's four (ringing,
 * answered, a DTMF digit, terminated), `pause` ms between steps. Resolves to the call's id.
 */
const placeCall = async (url: string, shop: Shop, gatewayKey: string, n: number, pause = 0): Promise<string> => {
  const { recordDownload } = await gql(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
    i: { merchantId: shop.merchantId, linkId: shop.linkId, customerId: `cust-${n}`, pageUrl: `https://shop.example/p/${n}` },
  });
  const id = recordDownload.callId as string;
  const step = async (q: string, v: Record<string, unknown> = {}, key?: string) => {
    if (pause) await sleep(pause);
    await gql(url, q, { id, ...v }, key);
  };
  await step(`mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: recordDownload.callToken });
  await step(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, {}, gatewayKey);
  await step(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, {}, gatewayKey);
  await step(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "7", gatewayEventId: "d") { id } }`, {}, gatewayKey);
  await step(`mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, sipStatus: 200, gatewayEventId: "t") { id } }`, {}, gatewayKey);
  return id;
};

const CALL_TYPES = new Set<string>(CALL_EVENT_TYPES);
const byPosition = (a: Evt, b: Evt) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0);

/** Every call event of the merchant in the event store, in position order: what a gap-free subscriber must have seen. */
const storeTruth = async (config: EventStoreConfig, merchantId: string): Promise<Evt[]> => {
  const store = await createEventStore(config);
  try {
    const out: Evt[] = [];
    let cursor: string | null = null;
    for (;;) {
      const batch = await store.readAll({ after: cursor, limit: 1000 });
      for (const e of batch)
        if (CALL_TYPES.has(e.type) && e.merchantId === merchantId)
          out.push({ eventId: e.eventId, callId: (e.data as { callId: string }).callId, merchantId: e.merchantId, type: e.type, position: e.position });
      if (batch.length < 1000) return out;
      cursor = batch[batch.length - 1]!.position;
    }
  } finally {
    await store.close();
  }
};

/** The stages of each call in the truth. */
const assertStages = (truth: Evt[], calls: string[]) => {
  assert.deepEqual([...new Set(truth.map((e) => e.callId))].sort(), [...calls].sort(), 'the store holds call events of exactly the calls placed');
  for (const id of calls) assert.deepEqual(truth.filter((e) => e.callId === id).map((e) => e.type), WANTED, `the stages of ${id}`);
};

/** The read side: each call's callTimeline, through `url`, merged by position. */
const timelinesOf = async (url: string, key: string, callIds: string[]): Promise<Evt[]> => {
  const all: Evt[] = [];
  for (const id of callIds) {
    all.push(
      ...(await eventually(async () => {
        const r = (await gql(url, `query($id: ID!) { callTimeline(callId: $id) { eventId callId merchantId type position } }`, { id }, key)).callTimeline as Evt[];
        return r.length >= WANTED.length ? r : null;
      }, 10_000, `callTimeline(${id}) to hold ${WANTED.length} events`)),
    );
  }
  return all.sort(byPosition);
};

/** A subscriber's log across sessions: the union of everything received, with the violations spotted on the way. */
class Log {
  readonly events: Evt[] = [];
  readonly problems: string[] = [];
  constructor(private readonly merchantId: string) {}
  get last(): string | null {
    return this.events.at(-1)?.position ?? null;
  }
  add(e: Evt): void {
    const last = this.last;
    if (e.merchantId !== this.merchantId) this.problems.push(`event of another merchant: ${JSON.stringify(e)}`);
    if (last !== null && e.position <= last) this.problems.push(`${e.position} (${e.type} of ${e.callId}) arrived after ${last}: ${e.position === last ? 'a repeat' : 'out of order'}`);
    this.events.push(e);
  }
}

const ids = (events: Evt[]) => events.map((e) => `${e.position} ${e.type} ${e.callId}`);

// ---------------------------------------------------------------------------------------------

describe('callEvents resume across forced disconnects (one process, SQLite)', () => {
  let server: ServerProcess;
  let world: World;
  let truth: Evt[] = [];

  before(async () => {
    server = await startServer(ENV);
    world = await configure(server.url, 2);
  });
  after(async () => {
    await server?.stop();
  });

  test('a subscriber killed several times mid-stream, resuming after its last position, ends with exactly the store’s events', async () => {
    const [shop, noise] = world.shops as [Shop, Shop];
    const log = new Log(shop.merchantId);
    let session: Session | null = null;
    let killsDuringDrive = 0;
    let driving = true;

    // Where to kill: after the k-th event of a session (0: right after subscribing, before anything
    // arrives), and how long to stay away before resuming (0: at once, racing the live stream).
    const plan = [
      { k: 3, away: 0 },
      { k: 11, away: 250 },
      { k: 0, away: 0 },
      { k: 17, away: 0 },
      { k: 1, away: 400 },
      { k: 29, away: 0 },
      { k: 0, away: 150 },
      { k: 13, away: 0 },
    ];
    let round = 0;
    let kills = 0;

    const connect = async () => {
      const spec = plan[round];
      let seen = 0;
      const s = openSession(server.wsUrl, shop.merchantKey, shop.merchantId, log.last, (e, me) => {
        if (me !== session) return;
        log.add(e);
        seen++;
        if (spec && spec.k > 0 && seen === spec.k) kill(me, spec.away);
      });
      session = s;
      await s.subscribed;
      if (spec && spec.k === 0) kill(s, spec.away);
    };
    const kill = (s: Session, away: number) => {
      s.terminate();
      kills++;
      if (driving) killsDuringDrive++;
      round++;
      session = null;
      setTimeout(() => void connect().catch((e) => log.problems.push(`reconnect failed: ${(e as Error).message}`)), away);
    };

    await connect();
    await eventually(async () => (await openSubscriptions(server)) === 1, 5_000, 'the first subscription to be registered');

    // The background driver: 40 calls of 6 events for the subscriber's merchant, 2 at a time, a
    // little paced so that the kills land in the middle of the stream; plus calls of another
    // merchant interleaved, which the subscriber must never see.
    const calls: string[] = [];
    const noiseCalls: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 40) {
        const n = next++;
        calls.push(await placeCall(server.url, shop, world.gatewayKey, n, 8));
        if (n % 4 === 0) noiseCalls.push(await placeCall(server.url, noise, world.gatewayKey, 1000 + n));
      }
    };
    await Promise.all([worker(), worker()]);
    driving = false;

    truth = await storeTruth({ kind: 'sqlite', dataDir: server.dataDir }, shop.merchantId);
    assert.equal(truth.length, 40 * WANTED.length);
    assertStages(truth, calls);
    await eventually(async () => log.events.length >= truth.length && round >= plan.length, 20_000, `the subscriber to catch up (has ${log.events.length} of ${truth.length})`).catch((e) => {
      throw new Error(`${(e as Error).message}; problems: ${log.problems.join('; ')}`);
    });
    await sleep(300); // anything extra would arrive now
    await (session as Session | null)?.close();

    assert.deepEqual(log.problems, []);
    assert.deepEqual(ids(log.events), ids(truth), 'the union of all sessions is the store’s events of the merchant, in order, no gap, no repeat');
    assert.deepEqual(log.events.map((e) => e.eventId), truth.map((e) => e.eventId));
    assert.equal(kills, plan.length);
    assert.ok(killsDuringDrive >= 3, `at least 3 kills while calls were being placed (got ${killsDuringDrive} of ${kills})`);
    assert.equal(noiseCalls.length, 10);

    // Every killed socket was cleaned up on the server: no subscription is left open.
    await eventually(async () => (await openSubscriptions(server)) === 0, 5_000, 'the server to count 0 open subscriptions after the kills');
    // The read side agrees with the store.
    assert.deepEqual(ids(await timelinesOf(server.url, shop.merchantKey, calls)), ids(truth), 'callTimeline of every call = the store');
  });

  test('resuming after any position while calls are being placed yields exactly the rest, then live events, once each', async () => {
    const [shop] = world.shops as [Shop];
    // Resume points: after the merchant's first event, two in the middle, and after the very last.
    const points = [0, 57, 150, truth.length - 1];
    const logs = points.map(() => new Log(shop.merchantId));
    const sessions = points.map((i, j) => openSession(server.wsUrl, shop.merchantKey, shop.merchantId, truth[i]!.position, (e) => logs[j]!.add(e)));
    await Promise.all(sessions.map((s) => s.subscribed));
    // New calls while the catch-ups run: their events race the catch-up reads.
    await Promise.all([0, 1, 2].map((n) => placeCall(server.url, shop, world.gatewayKey, 500 + n)));
    const all = await storeTruth({ kind: 'sqlite', dataDir: server.dataDir }, shop.merchantId);
    assert.equal(all.length, truth.length + 3 * WANTED.length);
    assert.deepEqual(ids(all.slice(0, truth.length)), ids(truth));
    for (const [j, i] of points.entries()) {
      const expected = all.filter((e) => e.position > truth[i]!.position);
      await eventually(async () => logs[j]!.events.length >= expected.length, 15_000, `the subscriber resuming after #${i} to receive ${expected.length} events (has ${logs[j]!.events.length})`);
    }
    await sleep(300);
    for (const [j, i] of points.entries()) {
      const expected = all.filter((e) => e.position > truth[i]!.position);
      assert.deepEqual(logs[j]!.problems, [], `resuming after #${i}`);
      assert.deepEqual(ids(logs[j]!.events), ids(expected), `resuming after #${i}: exactly the events after it`);
      assert.deepEqual(sessions[j]!.errors, []);
    }
    await Promise.all(sessions.map((s) => s.close()));
    await eventually(async () => (await openSubscriptions(server)) === 0, 5_000, 'the server to count 0 open subscriptions');
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * Two server processes on one store (a fresh PostgreSQL database, each process with its own data
 * directory): a subscriber on process 1 sees a call placed through process 2, and a subscriber
 * killed on process 1 resumes on process 2 without a gap or a repeat.
 */
const twoProcesses = async (db: PostgresDatabase) => {
  const [p1, p2] = await startPair(db, ENV);
  try {
    const world = await configure(p1.url, 1);
    const [shop] = world.shops as [Shop];
    // Process 2 learns of the configuration made through process 1 from the store: its read models
    // show the gateway, and its command side's index (which follows the store by the same polling
    // subscription, 250 ms) has had two more poll intervals.
    await eventually(async () => (await gql(p2.url, `query($id: ID!) { gateway(id: $id) { id } }`, { id: world.gatewayId }, ADMIN_KEY)).gateway, 10_000, 'process 2 to see the gateway configured through process 1');
    await sleep(600);
    const log = new Log(shop.merchantId);
    const s1 = openSession(p1.wsUrl, shop.merchantKey, shop.merchantId, null, (e) => log.add(e));
    await s1.subscribed;
    await eventually(async () => (await openSubscriptions(p1)) === 1, 5_000, 'the subscription on process 1');

    const first = await placeCall(p2.url, shop, world.gatewayKey, 1);
    await eventually(async () => log.events.length >= WANTED.length, 15_000, `process 1's subscriber to see the call placed through process 2 (has ${log.events.length})`);
    assert.deepEqual(log.events.map((e) => e.type), WANTED);
    assert.ok(log.events.every((e) => e.callId === first));

    // Kill the subscriber on process 1 mid-stream; resume on process 2 after its last position.
    const calls = [first];
    // Both processes take calls at the same time, as two instances behind a load balancer do.
    const driver = Promise.all(
      [p1, p2].map(async (p, w) => {
        for (let n = 0; n < 4; n++) calls.push(await placeCall(p.url, shop, world.gatewayKey, 10 * (w + 1) + n, 10));
      }),
    );
    await eventually(async () => log.events.length >= WANTED.length + 8, 15_000, 'a few more events on process 1');
    s1.terminate();
    const s2 = openSession(p2.wsUrl, shop.merchantKey, shop.merchantId, log.last, (e) => log.add(e));
    await s2.subscribed;
    await driver;
    // The store shows an append once every transaction older than it has ended (the xmin rule), and
    // the cluster's own transactions (leases, checkpoints) may still be open: read until it shows all.
    const settled = Date.now();
    const truth = await eventually(async () => {
      const events = await storeTruth({ kind: 'postgres', dataDir: '', databaseUrl: db.url }, shop.merchantId);
      return events.length >= calls.length * WANTED.length ? events : null;
    }, 10_000, `the store to show the ${calls.length * WANTED.length} events of the ${calls.length} calls`);
    console.log(`# the store showed every event ${Date.now() - settled} ms after the last call`);
    assertStages(truth, calls);
    await eventually(async () => log.events.length >= truth.length, 15_000, `the resumed subscriber on process 2 to catch up (has ${log.events.length} of ${truth.length})`);
    await sleep(300);
    await s2.close();
    assert.deepEqual(log.problems, []);
    assert.deepEqual(ids(log.events), ids(truth), 'process 1 then process 2: the store’s events, in order, no gap, no repeat');
    assert.deepEqual([...s1.errors, ...s2.errors], []);
    // The read side, through either process, agrees with the store: the call placed through
    // process 2 is readable through process 1, and every timeline is complete.
    const read = await eventually(async () => (await gql(p1.url, `query($id: ID!) { call(id: $id) { state } }`, { id: first }, shop.merchantKey)).call, 10_000, 'the call placed through process 2, read through process 1');
    assert.equal(read.state, 'TERMINATED');
    for (const p of [p1, p2]) assert.deepEqual(ids(await timelinesOf(p.url, shop.merchantKey, calls)), ids(truth), `callTimeline through ${p.url} = the store`);
    // Sharing the store is normal operation: neither process logged an error (e.g. a projection
    // giving up on an event and dead-lettering it).
    for (const [name, p] of [['process 1', p1], ['process 2', p2]] as const) {
      const errors = p.output().split('\n').filter((l) => /"level":(50|60)/.test(l));
      assert.deepEqual(errors.map((l) => l.slice(0, 400)).slice(0, 3), [], `${name} logged ${errors.length} error(s)`);
    }
  } finally {
    await Promise.all([p1.stop(), p2.stop()]);
  }
};

describe('server processes on one store', () => {
  test('SQLite: a second process on the data directory exits at start-up (SINGLE_INSTANCE) and the first serves on; after a kill -9 of the first a new one starts', async () => {
    const dir = tempDataDir();
    const first = await startServer(ENV, dir);
    try {
      const { createMerchant } = await gql(first.url, `mutation { createMerchant(input: { name: "Only one" }) { id } }`, {}, ADMIN_KEY);
      const merchant = (p: ServerProcess) =>
        eventually(async () => (await gql(p.url, `query($id: ID!) { merchant(id: $id) { name } }`, { id: createMerchant.id }, ADMIN_KEY)).merchant as { name: string } | null, 10_000, 'the merchant to read');

      const refused = await startServer(ENV, dir).then(
        async (second) => {
          await second.stop();
          return null;
        },
        (e: Error) => e.message,
      );
      assert.ok(refused !== null, 'a second process started on the data directory');
      assert.match(refused, /^server exited with [1-9]\d*:/, 'it exits with a non-zero code');
      assert.match(refused, /SINGLE_INSTANCE: another webdial process .* already serves /);
      assert.ok(refused.includes(dir), `the message names the data directory: ${refused.slice(0, 600)}`);

      assert.equal(first.exitCode(), null, 'the first process is still running');
      assert.deepEqual(await merchant(first), { name: 'Only one' }, 'and answers');

      // kill -9: no shutdown, no release of its own; the operating system frees the lock.
      await first.crash();
      const next = await startServer(ENV, dir);
      try {
        assert.deepEqual(await merchant(next), { name: 'Only one' }, 'the new process serves the same store');
      } finally {
        await next.stop();
      }
    } finally {
      await first.stop();
    }
  });

  test('PostgreSQL: event store and read models in one fresh database, two processes', (t) => withPostgresDatabase(t, 'webdial_resume', twoProcesses));
});
