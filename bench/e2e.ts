import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/composition/config';
import { createLogger } from '../src/composition/logger';
import { startWebdial } from '../src/composition/app';
import { gql } from '../src/cli/client';
import { percentile, round } from './stats';

const ADMIN = 'bench-admin-key-0123456789abcdef';

/**
 * Full calls per second through the embedded stack (SQLite store, in-process bus, SQLite read
 * models) over the real GraphQL HTTP API: download → initiate → ringing → answer → terminate, with
 * `concurrency` callers; and the latency from an event's append to its projection row being committed.
 */
export const benchEmbedded = async (opts: { calls?: number; concurrency?: number; env?: Record<string, string> } = {}) => {
  const calls = opts.calls ?? 400;
  const concurrency = opts.concurrency ?? 8;
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

    let next = 0;
    const started = process.hrtime.bigint();
    const worker = async () => {
      while (next < calls) {
        next++;
        const d = (await gql(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: m, linkId: l, pageUrl: 'https://shop.example/p' } })).recordDownload;
        await gql(url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken });
        await gql(url, `mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, { id: d.callId }, gw);
        await gql(url, `mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: d.callId }, gw);
        await gql(url, `mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, gatewayEventId: "t") { id } }`, { id: d.callId }, gw);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await app.settle(60_000);
    const events = (await app.store.stats()).events - eventsBefore;
    return {
      calls,
      concurrency,
      seconds: round(seconds, 2),
      callsPerSecond: round(calls / seconds, 1),
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
