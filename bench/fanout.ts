import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { gql } from '../src/cli/client';
import { ADMIN_KEY, startServer, type ServerProcess } from '../test/support/server';
import { machine, percentile, round } from './stats';

/**
 * Subscription fan-out: N concurrent graphql-ws subscribers of `callEvents` for one merchant on ONE
 * server process (a child process, `webdial serve`, embedded mode, external media), at several N.
 *
 * Per N, on a fresh server:
 *  - resident memory per subscriber: (RSS with N subscribers − RSS with 0) / N, both read from the
 *    server's own /metrics (`process_resident_memory_bytes`), each after a short settle;
 *  - a driver places calls through the public API (6 mutations, 6 call events per call), one
 *    mutation at a time, keeping at most WINDOW events not yet delivered to every subscriber (closed
 *    loop: the server is kept busy, but the latency is not inflated by an unbounded queue);
 *  - deliveries per second: total (event, subscriber) deliveries / wall time from the first
 *    mutation to the last delivery;
 *  - latency of each delivery, from the event's append to its receipt by the subscriber.
 *
 * Latency, honestly: the GraphQL CallEvent carries `occurredAt`, stamped by the server's clock when
 * the command is decided, immediately before the append (the store's own `recordedAt` is not part of
 * the API). Server and subscribers run on one machine and read the same clock, so
 * receipt − occurredAt is the time from the append (plus the append itself, ~1 ms on SQLite) through
 * the hub, the per-subscriber GraphQL execution, the WebSocket and the subscriber's JSON parse.
 * The time the driver's mutation returned would be wrong both ways: the HTTP response races the
 * deliveries (negative latencies) and carries the driver's own round trip. Resolution: 1 ms.
 * The subscribers share one process (and the machine's cores) with the driver; when that process is
 * saturated, its queueing is part of the latency — the CPU seconds of both sides are reported so a
 * reader can tell which side was the bottleneck.
 *
 * The subscribers speak the graphql-transport-ws protocol (the server's graphql-ws) directly over
 * `ws`, one WebSocket each, without the graphql-ws client library: identical wire traffic, less
 * client-side overhead per socket, exact receipt timestamps.
 */

const WINDOW = 2;
const CONNECT_BATCH = 250;
const SUBSCRIPTION = `subscription($m: ID!) { callEvents(merchantId: $m) { eventId callId type position occurredAt data } }`;
const ENV = {
  WEBDIAL_MEDIA: 'external',
  WEBDIAL_RATE_CLIENT_PER_MIN: '1000000',
  WEBDIAL_RATE_MERCHANT_PER_MIN: '10000000',
  WEBDIAL_ANI_QUARANTINE: '0',
  LOG_LEVEL: 'warn',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;

interface LevelResult {
  subscribers: number;
  connectSeconds: number;
  calls: number;
  events: number;
  deliveries: number;
  missingDeliveries: number;
  connectFailures: number;
  subscriberErrors: number;
  seconds: number;
  deliveriesPerSecond: number;
  eventsPerSecond: number;
  /** append → receipt of every (event, subscriber) delivery */
  latencyMs: { p50: number; p99: number; max: number };
  /** append → receipt by the LAST of the N subscribers, per event */
  allReachedMs: { p50: number; p99: number; max: number };
  rss: { withoutSubscribersMiB: number; withSubscribersMiB: number; perSubscriberKiB: number };
  cpuSecondsPerSecond: { server: number; subscribersAndDriver: number };
  /** deliveries / CPU seconds the server used: its cost per delivery, less sensitive to other load on the machine than deliveries/s */
  deliveriesPerServerCpuSecond: number;
  /** 1-minute load average of the machine before and after the delivery phase (other work on the machine skews every figure) */
  loadAverage: { before: number; after: number };
}

const metric = async (server: ServerProcess, name: string): Promise<number> => {
  const text = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} not found on /metrics`);
  return Number(m[1]);
};

const waitFor = async (what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs / 1000} s`);
    await sleep(20);
  }
};

/** A merchant with a call center and a link, a gateway with ports, and the keys the bench needs. */
const configure = async (url: string) => {
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(url, q, v, ADMIN_KEY);
  await admin(`mutation { createGateway(input: { name: "G", region: "eu", ports: [${Array.from({ length: 8 }, (_, i) => `{ number: ${i + 1}, ani: "+4420700000${i}" }`).join(', ')}] }) { id } }`);
  const m = (await admin(`mutation { createMerchant(input: { name: "Fan-out" }) { id } }`)).createMerchant.id as string;
  const c = (await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+442079500000", timeZone: "UTC", capacity: 100, region: "eu" }) { id } }`, { m })).addCallCenter.id;
  const l = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m, c })).createLink.id as string;
  const merchantKey = (await admin(`mutation($m: ID!) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m })).createApiKey.key as string;
  const gatewayKey = (await admin(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key as string;
  return { merchantId: m, linkId: l, merchantKey, gatewayKey };
};

/** The six mutations of one call, each producing exactly one call event; `before` runs ahead of each. */
const placeCall = async (url: string, cfg: Awaited<ReturnType<typeof configure>>, n: number, before: () => Promise<void>, after: () => void) => {
  await before();
  const d = (await gql(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: cfg.merchantId, linkId: cfg.linkId, pageUrl: `https://shop.example/p/${n}` } })).recordDownload;
  after();
  const steps: Array<[string, Record<string, unknown>, string | undefined]> = [
    [`mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken }, undefined],
    [`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, { id: d.callId }, cfg.gatewayKey],
    [`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: d.callId }, cfg.gatewayKey],
    [`mutation($id: ID!) { reportDtmf(callId: $id, digits: "1", gatewayEventId: "d") { id } }`, { id: d.callId }, cfg.gatewayKey],
    [`mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, sipStatus: 200, gatewayEventId: "t") { id } }`, { id: d.callId }, cfg.gatewayKey],
  ];
  for (const [q, v, key] of steps) {
    await before();
    await gql(url, q, v, key);
    after();
  }
};

const benchLevel = async (n: number, totalDeliveries: number, log: (s: string) => void): Promise<LevelResult> => {
  const server = await startServer(ENV);
  const sockets: WebSocket[] = [];
  try {
    const cfg = await configure(server.url);
    // Warm-up with nobody listening (JIT, statement caches), then the baseline RSS.
    for (let i = 0; i < 2; i++) await placeCall(server.url, cfg, -1 - i, async () => undefined, () => undefined);
    await sleep(1500);
    const rss0 = await metric(server, 'process_resident_memory_bytes');

    // --- N subscribers -------------------------------------------------------------------------
    const received = new Map<string, number>(); // position → subscribers that received it
    const lastAt = new Map<string, number>(); // position → receipt time by the last subscriber so far
    const appendedAt = new Map<string, number>();
    const latencies: number[] = [];
    const perSubscriber = new Int32Array(n);
    let errors = 0;
    let connectFailures = 0;
    let firstError = '';
    let measuring = false;
    let completed = 0;

    const connectOne = (i: number) =>
      new Promise<void>((resolve) => {
        let acked = false;
        const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
        sockets.push(ws);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${cfg.merchantKey}` } })));
        ws.on('message', (raw) => {
          const at = Date.now();
          const msg = JSON.parse(String(raw)) as { type: string; payload?: any };
          if (msg.type === 'next' && !msg.payload.errors) {
            if (!measuring) return;
            const e = msg.payload.data.callEvents as { position: string; occurredAt: string };
            let t0 = appendedAt.get(e.position);
            if (t0 === undefined) appendedAt.set(e.position, (t0 = Date.parse(e.occurredAt)));
            latencies.push(at - t0);
            perSubscriber[i]!++;
            const count = (received.get(e.position) ?? 0) + 1;
            received.set(e.position, count);
            lastAt.set(e.position, at);
            if (count === n - connectFailures) completed++;
          } else if (msg.type === 'connection_ack') {
            ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { m: cfg.merchantId } } }));
            acked = true;
            resolve();
          } else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
          else if (msg.type === 'error' || msg.type === 'next' || msg.type === 'complete') {
            errors++;
            firstError ||= String(raw).slice(0, 300);
          }
        });
        ws.on('error', (e) => {
          errors++;
          firstError ||= e.message;
          if (!acked) connectFailures++;
          resolve(); // counted, not fatal: the level goes on with the subscribers that connected
        });
        ws.on('close', () => {
          if (measuring) {
            errors++;
            firstError ||= `subscriber ${i} closed by the server`;
          }
        });
      });

    const connectStarted = Date.now();
    for (let i = 0; i < n; i += CONNECT_BATCH) await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, n - i) }, (_, j) => connectOne(i + j)));
    await waitFor(`${n} subscriptions open on the server`, async () => (await metric(server, 'webdial_open_subscriptions')) >= n - connectFailures, 120_000);
    const connectSeconds = (Date.now() - connectStarted) / 1000;
    await sleep(1500);
    const rssN = await metric(server, 'process_resident_memory_bytes');
    log(`    ${n} subscribers connected in ${round(connectSeconds, 1)} s; server RSS ${round(rss0 / MiB)} → ${round(rssN / MiB)} MiB`);

    // --- deliveries ----------------------------------------------------------------------------
    const calls = Math.max(2, Math.ceil(totalDeliveries / n / 6));
    const events = calls * 6;
    let produced = 0;
    measuring = true;
    const load0 = loadavg()[0]!;
    const cpu0 = process.cpuUsage();
    const serverCpu0 = await metric(server, 'process_cpu_seconds_total');
    const started = Date.now();
    const gate = () => waitFor('the delivery window to open', () => produced - completed < WINDOW, 120_000);
    for (let c = 0; c < calls; c++) await placeCall(server.url, cfg, c, gate, () => produced++);
    await waitFor(`every subscriber to receive ${events} events`, () => completed >= events, 120_000).catch((e) => log(`    ${(e as Error).message} (completed ${completed})`));
    const lastReceipt = Math.max(...lastAt.values());
    const seconds = (lastReceipt - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverCpu = (await metric(server, 'process_cpu_seconds_total')) - serverCpu0;
    const wall = (Date.now() - started) / 1000;
    measuring = false;

    const deliveries = latencies.length;
    const allReached = [...lastAt.entries()].map(([p, t]) => t - appendedAt.get(p)!);
    let missing = 0;
    for (let i = 0; i < n; i++) missing += Math.max(0, events - perSubscriber[i]!); // a subscriber that never connected misses them all
    if (firstError) log(`    subscriber errors: ${errors} (first: ${firstError})`);
    return {
      subscribers: n,
      connectSeconds: round(connectSeconds, 1),
      calls,
      events,
      deliveries,
      missingDeliveries: missing,
      connectFailures,
      subscriberErrors: errors,
      seconds: round(seconds, 2),
      deliveriesPerSecond: Math.round(deliveries / seconds),
      eventsPerSecond: round(received.size / seconds, 1),
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.reduce((a, b) => Math.max(a, b), 0) },
      allReachedMs: { p50: percentile(allReached, 50), p99: percentile(allReached, 99), max: Math.max(...allReached) },
      rss: { withoutSubscribersMiB: round(rss0 / MiB), withSubscribersMiB: round(rssN / MiB), perSubscriberKiB: round((rssN - rss0) / n / 1024, 1) },
      cpuSecondsPerSecond: { server: round(serverCpu / wall, 2), subscribersAndDriver: round((cpu.user + cpu.system) / 1e6 / wall, 2) },
      deliveriesPerServerCpuSecond: Math.round(deliveries / serverCpu),
      loadAverage: { before: round(load0, 2), after: round(loadavg()[0]!, 2) },
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
};

/**
 * Runs the fan-out levels (1,000, 5,000 and 10,000 subscribers; quick: 200 and 1,000), prints a
 * table and writes bench/results/fanout-<date>.json.
 */
export async function benchFanout(opts: { quick?: boolean } = {}): Promise<object> {
  // BENCH_FANOUT_LEVELS=500,2000 and BENCH_FANOUT_DELIVERIES=100000 override the defaults.
  const levels = process.env.BENCH_FANOUT_LEVELS ? process.env.BENCH_FANOUT_LEVELS.split(',').map(Number) : opts.quick ? [200, 1_000] : [1_000, 5_000, 10_000];
  // Deliveries per level: enough events that the figures are not dominated by one event's spread.
  const totalDeliveries = Number(process.env.BENCH_FANOUT_DELIVERIES) || (opts.quick ? 40_000 : 300_000);
  const log = (s: string) => console.log(s);
  log(`  callEvents fan-out on one server process: ${levels.join(', ')} subscribers; window ${WINDOW} events; ~${totalDeliveries} deliveries per level`);
  const results: LevelResult[] = [];
  for (const n of levels) {
    log(`  N = ${n} …`);
    results.push(await benchLevel(n, totalDeliveries, log));
  }
  const head = ['subscribers', 'events', 'deliveries/s', 'per server CPU-s', 'p50 ms', 'p99 ms', 'all-reached p50/p99 ms', 'RSS/subscriber', 'CPU server/bench', 'load', 'missing'];
  const rows = results.map((r) => [
    String(r.subscribers),
    String(r.events),
    String(r.deliveriesPerSecond),
    String(r.deliveriesPerServerCpuSecond),
    String(r.latencyMs.p50),
    String(r.latencyMs.p99),
    `${r.allReachedMs.p50} / ${r.allReachedMs.p99}`,
    `${r.rss.perSubscriberKiB} KiB`,
    `${r.cpuSecondsPerSecond.server} / ${r.cpuSecondsPerSecond.subscribersAndDriver}`,
    `${r.loadAverage.before}→${r.loadAverage.after}`,
    String(r.missingDeliveries),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padStart(widths[i]!)).join('  ')}`;
  log(line(head));
  for (const r of rows) log(line(r));

  const out = {
    at: new Date().toISOString(),
    machine: machine(),
    quick: !!opts.quick,
    method: {
      server: 'webdial serve as a child process: SQLite event store, in-process bus, SQLite read models, external media',
      subscription: SUBSCRIPTION,
      subscribers: 'one WebSocket each (graphql-transport-ws over ws), all in the bench process',
      driver: `one call at a time through the HTTP API (6 mutations, 6 call events per call), at most ${WINDOW} events not yet delivered to every subscriber`,
      latency: 'subscriber receipt (Date.now) − the event’s occurredAt (server clock, stamped just before the append; same machine, same clock); 1 ms resolution',
      deliveriesPerSecond: 'deliveries / (last receipt − first mutation sent)',
      deliveriesPerServerCpuSecond: 'deliveries / server CPU seconds in the delivery phase (process_cpu_seconds_total on /metrics)',
      rssPerSubscriber: '(server RSS with N idle subscribers − server RSS with 0) / N, from process_resident_memory_bytes on /metrics',
    },
    ulimitNoFile: 'the bench holds N client sockets and the server N more: `ulimit -n` must exceed N + a few hundred for each',
    levels: results,
  };
  mkdirSync(join('bench', 'results'), { recursive: true });
  const file = join('bench', 'results', `fanout-${out.at.slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2));
  log(`  saved ${file}`);
  return out;
}

if (require.main === module) {
  benchFanout({ quick: process.env.BENCH_QUICK === '1' || process.argv.includes('--quick') }).then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
