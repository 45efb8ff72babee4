import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/composition/config';
import { createLogger } from '../src/composition/logger';
import { startWebdial } from '../src/composition/app';
import { gql } from '../src/cli/client';
import { percentile, round } from './stats';
import type { LoadResult, LoadSpec } from './load';

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

const ADMIN = 'bench-admin-key-0123456789abcdef';

/**
 * Full calls per second through the embedded stack (SQLite store, in-process bus, SQLite read
 * models) over the real GraphQL HTTP API: download → initiate → ringing → answer → terminate, with
 * `concurrency` callers; and the latency from an event's append to its projection row being committed.
 */
export const benchEmbedded = async (opts: { calls?: number; concurrency?: number; env?: Record<string, string> } = {}) => {
  const calls = opts.calls ?? 2000;
  const concurrency = opts.concurrency ?? 32;
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-bench-'));
  const config = loadConfig({ PORT: '0', WEBDIAL_DATA_DIR: dataDir, WEBDIAL_ADMIN_KEY: ADMIN, WEBDIAL_DEMO: '0', WEBDIAL_MEDIA: 'external', WEBDIAL_RATE_CLIENT_PER_MIN: '1000000', WEBDIAL_RATE_MERCHANT_PER_MIN: '1000000', WEBDIAL_ANI_QUARANTINE: '0', ...opts.env });
  const app = await startWebdial(config, createLogger('warn'));
  const lags: number[] = [];
  app.onProjected.add((_p, _e, ms) => lags.push(ms));
  try {
    const url = app.url;
    const a = (q: string, v: Record<string, unknown> = {}) => gql(url, q, v, ADMIN);
    const m = (await a(`mutation { createMerchant(input: { name: "Bench" }) { id } }`)).createMerchant.id;
    const c = (await a(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+12125550100", timeZone: "UTC", capacity: 1000, region: "eu" }) { id } }`, { m })).addCallCenter.id;
    await a(`mutation { createGateway(input: { name: "G", region: "eu", ports: [${Array.from({ length: concurrency * 2 }, (_, i) => `{ number: ${i + 1}, ani: "+4420700000${String(i).padStart(2, '0')}" }`).join(', ')}] }) { id } }`);
    const l = (await a(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m, c })).createLink.id;
    await a(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 5, ratePerMinuteMinor: 3, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m });
    const gw = (await a(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key;
    await app.settle();
    lags.length = 0;
    const eventsBefore = (await app.store.stats()).events;

    // The shoppers and gateways run in a process of their own: the server's CPU is the server's.
    const cpu0 = process.cpuUsage();
    const load = await runLoad({ url, gatewayKey: gw, merchantId: m, linkId: l, calls, concurrency });
    const cpu = process.cpuUsage(cpu0);
    const seconds = load.seconds;
    await app.settle(60_000);
    const events = (await app.store.stats()).events - eventsBefore;
    return {
      calls,
      concurrency,
      seconds: round(seconds, 2),
      callsPerSecond: load.callsPerSecond,
      callMs: load.callMs,
      // The server's own CPU per call (user + system, this process only): what the machine's other
      // load cannot change much, unlike the rate. 1000 / this = calls per second one core could serve.
      serverCpuMsPerCall: round((cpu.user + cpu.system) / 1000 / calls, 2),
      quarterCallsPerSecond: load.quarterCallsPerSecond,
      errors: load.errors,
      eventsPerCall: round(events / calls, 2),
      eventsPerSecond: round(events / seconds, 0),
      appendToProjectionMs: { samples: lags.length, p50: round(percentile(lags, 50)), p99: round(percentile(lags, 99)), max: round(Math.max(...lags)) },
    };
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

if (require.main === module) {
  benchEmbedded().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
