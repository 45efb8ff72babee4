import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/composition/config';
import { createEventStore } from '../src/adapters/eventstore';
import { progressBar } from '../src/projections';
import type { RatePlan } from '../src/domain/rating/rate-plan';
import { seedHistory } from './history';
import { createLogger } from '../src/composition/logger';
import { startWebdial, type Webdial } from '../src/composition/app';
import { gql } from '../src/cli/client';
import { percentile, round } from './stats';
import type { LoadResult, LoadSpec } from './load';
import { applyAllSamples, readSideApplySince } from './read-side-timing';

/** Runs bench/load.ts in a child process and returns its result. */
export const runLoad = (spec: LoadSpec): Promise<LoadResult> =>
  new Promise((resolve, reject) => {
    const { execFile } = require('node:child_process') as typeof import('node:child_process');
    execFile(process.execPath, [join(__dirname, 'load.js'), JSON.stringify(spec)], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`load generator failed: ${err.message}\n${stderr}`));
      if (stderr.trim()) process.stderr.write(stderr);
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult);
    });
  });

export const ADMIN = 'bench-admin-key-0123456789abcdef';

/** Environment of every benchmark server: embedded defaults, no demo, no limits in the way. */
export const benchConfig = (dataDir: string, env: Record<string, string> = {}) =>
  loadConfig({ PORT: '0', WEBDIAL_DATA_DIR: dataDir, WEBDIAL_ADMIN_KEY: ADMIN, WEBDIAL_DEMO: '0', WEBDIAL_MEDIA: 'external', WEBDIAL_RATE_CLIENT_PER_MIN: '1000000', WEBDIAL_RATE_MERCHANT_PER_MIN: '10000000', WEBDIAL_ANI_QUARANTINE: '0', ...env });

/** What a benchmark's calls go through: one merchant, center, link, gateway, and a GATEWAY key. */
export interface BenchSetup {
  merchantId: string;
  callCenterId: string;
  linkId: string;
  gatewayId: string;
  gatewayKey: string;
  destination: string;
  ports: Array<{ number: number; ani: string }>;
  ratePlan: RatePlan;
}

/** Configures the benchmark's merchant through the API, as an operator and the merchant would. */
export const setUpBench = async (app: Webdial, portCount: number, capacity = 1000): Promise<BenchSetup> => {
  const a = (q: string, v: Record<string, unknown> = {}) => gql(app.url, q, v, ADMIN);
  const destination = '+12125550100';
  const merchantId = (await a(`mutation { createMerchant(input: { name: "Bench" }) { id } }`)).createMerchant.id;
  const callCenterId = (await a(`mutation($m: ID!, $d: String!, $n: Int!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: $d, timeZone: "UTC", capacity: $n, region: "eu" }) { id } }`, { m: merchantId, d: destination, n: capacity })).addCallCenter.id;
  const ports = Array.from({ length: portCount }, (_, i) => ({ number: i + 1, ani: `+44207${String(i).padStart(6, '0')}` }));
  const gatewayId = (await a(`mutation($p: [PortInput!]!) { createGateway(input: { name: "G", region: "eu", ports: $p }) { id } }`, { p: ports })).createGateway.id;
  const linkId = (await a(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m: merchantId, c: callCenterId })).createLink.id;
  const plan = { currency: 'EUR', connectionFeeMinor: 5, ratePerMinuteMinor: 3, firstIncrementSeconds: 1, nextIncrementSeconds: 1 };
  await a(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 5, ratePerMinuteMinor: 3, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m: merchantId });
  const gatewayKey = (await a(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key;
  await app.settle(60_000);
  return { merchantId, callCenterId, linkId, gatewayId, gatewayKey, destination, ports, ratePlan: { version: 1, minimumChargeMinor: 0, prefixRates: [], ...plan } };
};

/**
 * Places `calls` full calls through the server's public API from a process of its own and measures
 * them: calls/s, per-call latency, the rate by quarter, the server's CPU per call, and the latency
 * from an event's append to its projection row being committed.
 */
export const measureCalls = async (app: Webdial, setup: BenchSetup, calls: number, concurrency: number, ratePerSecond?: number) => {
  const lags: number[] = [];
  const onLag = (_p: string, _e: unknown, ms: number) => void lags.push(ms);
  app.onProjected.add(onLag);
  try {
    const eventsBefore = (await app.store.stats()).events;
    const batchesBefore = await readSideBatches(app);
    const samplesBefore = applyAllSamples.length;
    // The shoppers and gateways run in a process of their own: the server's CPU is the server's.
    const cpu0 = process.cpuUsage();
    const load = await runLoad({ url: app.url, gatewayKey: setup.gatewayKey, merchantId: setup.merchantId, linkId: setup.linkId, calls, concurrency, ratePerSecond });
    const cpu = process.cpuUsage(cpu0);
    await app.settle(120_000);
    const events = (await app.store.stats()).events - eventsBefore;
    const batches = await readSideBatches(app);
    return {
      calls,
      concurrency,
      ...(ratePerSecond ? { pacedCallsPerSecond: ratePerSecond } : {}),
      seconds: load.seconds,
      callsPerSecond: load.callsPerSecond,
      callMs: load.callMs,
      // The server's own CPU per call (user + system, this process only): what the machine's other
      // load cannot change much, unlike the rate. 1000 / this = calls per second one core could serve.
      serverCpuMsPerCall: round((cpu.user + cpu.system) / 1000 / calls, 2),
      quarterCallsPerSecond: load.quarterCallsPerSecond,
      errors: load.errors,
      eventsPerCall: round(events / calls, 2),
      eventsPerSecond: round(events / load.seconds, 0),
      appendToProjectionMs: { samples: lags.length, p50: round(percentile(lags, 50)), p99: round(percentile(lags, 99)), max: round(Math.max(...lags)) },
      // Read-side transactions (one per batch handed to the projections) per call, and their mean size.
      readSideBatchesPerCall: round((batches.count - batchesBefore.count) / calls, 2),
      eventsPerReadSideBatch: round((batches.sum - batchesBefore.sum) / Math.max(1, batches.count - batchesBefore.count), 2),
      // Only where bench/read-side-timing.ts is installed (the pipeline): the read side's transactions with events.
      readSideApply: readSideApplySince(samplesBefore),
    };
  } finally {
    app.onProjected.delete(onLag);
  }
};

/** How many batches the read side has applied so far, and their events (webdial_projection_batch_events). */
const readSideBatches = async (app: Webdial): Promise<{ count: number; sum: number }> => {
  const { values } = await app.metrics.projectionBatch.get();
  const total = (suffix: string) => values.filter((v) => v.metricName?.endsWith(suffix)).reduce((n, v) => n + v.value, 0);
  return { count: total('_count'), sum: total('_sum') };
};

/**
 * Full calls per second through the embedded stack (SQLite store, in-process bus, SQLite read
 * models) over the real GraphQL HTTP API: download → initiate → ringing → answer → terminate, with
 * `concurrency` callers; and the latency from an event's append to its projection row being committed.
 */
export const benchEmbedded = async (opts: { calls?: number; concurrency?: number; env?: Record<string, string>; paced?: { calls: number; ratePerSecond: number } } = {}) => {
  const calls = opts.calls ?? 2000;
  const concurrency = opts.concurrency ?? 32;
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-bench-'));
  const app = await startWebdial(benchConfig(dataDir, opts.env), createLogger('warn'));
  try {
    const setup = await setUpBench(app, concurrency * 2);
    const blackBox = await measureCalls(app, setup, calls, concurrency);
    // Then, on the same server, calls arriving at a fixed rate below capacity: the latency figures.
    if (!opts.paced) return blackBox;
    return { ...blackBox, paced: await measureCalls(app, setup, opts.paced.calls, concurrency, opts.paced.ratePerSecond) };
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

/**
 * Cost per call as history grows: the same calls measured on an empty store, then again after
 * `historyCalls` completed calls were seeded onto the same merchant, center and port (seedHistory:
 * bulk appends) and the server restarted on that store. The ratio of the two rates is the figure.
 */
export const benchHistory = async (opts: { historyCalls?: number; calls?: number; concurrency?: number; env?: Record<string, string>; label?: string } = {}) => {
  const historyCalls = opts.historyCalls ?? 100_000;
  const calls = opts.calls ?? 1000;
  const concurrency = opts.concurrency ?? 32;
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-history-'));
  const config = benchConfig(dataDir, opts.env);
  const logger = createLogger('warn');
  let app = await startWebdial(config, logger);
  try {
    const setup = await setUpBench(app, concurrency * 2);
    const empty = await measureCalls(app, setup, calls, concurrency);
    await app.stop();
    // Seed the history straight into the store (the server is stopped), as bulk appends.
    const store = await createEventStore({ kind: config.eventStore, dataDir: config.dataDir, databaseUrl: config.databaseUrl ?? undefined });
    const seedStarted = Date.now();
    const bar = progressBar(`  seeding ${historyCalls} calls (${opts.label ?? config.eventStore})`, historyCalls);
    const seeded = await seedHistory(store, { ...setup, port: 1, ani: setup.ports[0]!.ani }, historyCalls, (done) => bar.set(done));
    bar.done();
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    await store.close();
    // Restart on the seeded store: the read side catches up with the history before the measurement.
    const restartStarted = Date.now();
    app = await startWebdial(config, logger);
    const startSeconds = (Date.now() - restartStarted) / 1000;
    await app.settle(30 * 60_000);
    const catchUpSeconds = (Date.now() - restartStarted) / 1000 - startSeconds;
    const afterHistory = await measureCalls(app, setup, calls, concurrency);
    return {
      historyCalls,
      historyEvents: seeded.events,
      longestStreams: { slot: seeded.slotStreamEvents, port: seeded.portStreamEvents },
      seedSeconds: round(seedSeconds, 1),
      restartSeconds: round(startSeconds, 1),
      readSideCatchUpSeconds: round(catchUpSeconds, 1),
      empty,
      afterHistory,
      rateRatio: round(afterHistory.callsPerSecond / empty.callsPerSecond, 2),
      cpuRatio: round(empty.serverCpuMsPerCall / afterHistory.serverCpuMsPerCall, 2),
    };
  } finally {
    await app.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
};

if (require.main === module) {
  benchEmbedded().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
