import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/composition/config';
import { createLogger } from '../src/composition/logger';
import { startWebdial } from '../src/composition/app';
import { gql } from '../src/cli/client';
import { percentile, round } from './stats';

const ADMIN = 'bench-admin-key-0123456789abcdef';

/**
 * Webhook delivery latency through the embedded stack: `calls` full calls (download → initiate →
 * ringing → answer → terminate over GraphQL, `concurrency` callers), an endpoint subscribed to every
 * call event and the screen pop, a receiver answering 204 at once over real HTTP on 127.0.0.1 (in
 * this process). Latency per delivery: from the event's occurredAt (stamped just before its append)
 * to the receiver reading the request.
 */
export const benchWebhooks = async (opts: { calls?: number; concurrency?: number } = {}) => {
  const calls = opts.calls ?? 200;
  const concurrency = opts.concurrency ?? 8;
  const latencies: number[] = [];
  const byType = new Map<string, number[]>();
  const ids = new Set<string>();
  const receiver = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; timestamp: string };
      ids.add(String(req.headers['webhook-id']));
      const ms = at - Date.parse(body.timestamp);
      latencies.push(ms);
      byType.set(body.type, [...(byType.get(body.type) ?? []), ms]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-bench-webhooks-'));
  const config = loadConfig({ PORT: '0', WEBDIAL_DATA_DIR: dataDir, WEBDIAL_ADMIN_KEY: ADMIN, WEBDIAL_DEMO: '0', WEBDIAL_MEDIA: 'external', WEBDIAL_RATE_CLIENT_PER_MIN: '1000000', WEBDIAL_RATE_MERCHANT_PER_MIN: '1000000', WEBDIAL_ANI_QUARANTINE: '0' });
  const app = await startWebdial(config, createLogger('warn'));
  try {
    const url = app.url;
    const a = (q: string, v: Record<string, unknown> = {}) => gql(url, q, v, ADMIN);
    const m = (await a(`mutation { createMerchant(input: { name: "Bench" }) { id } }`)).createMerchant.id;
    const c = (await a(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+12125550100", timeZone: "UTC", capacity: 1000, region: "eu" }) { id } }`, { m })).addCallCenter.id;
    await a(`mutation { createGateway(input: { name: "G", region: "eu", ports: [${Array.from({ length: concurrency * 2 }, (_, i) => `{ number: ${i + 1}, ani: "+4420700000${String(i).padStart(2, '0')}" }`).join(', ')}] }) { id } }`);
    const l = (await a(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m, c })).createLink.id;
    await a(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 5, ratePerMinuteMinor: 3, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m });
    const gw = (await a(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key;
    const types = ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'CallTerminated', 'ScreenPop'];
    await a(`mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }`, { i: { merchantId: m, url: receiverUrl, eventTypes: types } });
    const expected = calls * types.length;

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
    const deadline = Date.now() + 120_000;
    while (ids.size < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const stats = (xs: number[]) => ({ samples: xs.length, p50: round(percentile(xs, 50)), p99: round(percentile(xs, 99)), max: round(Math.max(...xs)) });
    return {
      calls,
      concurrency,
      deliveries: ids.size,
      expected,
      repeats: latencies.length - ids.size,
      seconds: round(seconds, 2),
      deliveriesPerSecond: round(ids.size / seconds, 1),
      latencyMs: stats(latencies),
      latencyMsByType: Object.fromEntries([...byType].map(([t, xs]) => [t, stats(xs)])),
    };
  } finally {
    await app.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
    rmSync(dataDir, { recursive: true, force: true });
  }
};
