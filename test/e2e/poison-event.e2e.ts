import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { gql } from '../../src/cli/client';
import { SqliteEventStore } from '../../src/adapters/eventstore/sqlite';
import type { NewEvent } from '../../src/ports/event-store';
import { ADMIN_KEY, collect, eventually, startServer, wsClient, type ServerProcess } from '../support/server';
import { setUpShop, type Shop } from '../support/outage';

/**
 * Events no one can read, in the embedded mode (SQLite, in-process bus), as a buggy producer would
 * append them: every projection that cannot apply one sets it aside as a dead letter, alone, and
 * applies what follows; the live state, the call supervisor and the subscriptions skip it; the
 * server stays up. `webdial events dead-letters` lists them from the read database.
 */

let server: ServerProcess;
let shop: Shop;
before(async () => {
  server = await startServer({ WEBDIAL_MEDIA: 'external', WEBDIAL_ANI_QUARANTINE: '0' });
  shop = await setUpShop(server.url, 4);
});
after(async () => {
  await server?.stop();
});

const poison = (type: string, merchantId: string): NewEvent => ({ eventId: randomUUID(), type, data: null, occurredAt: new Date().toISOString(), merchantId, correlationId: 'poison', causationId: null });

test('poison events are dead-lettered alone; the call after them is applied everywhere; the server and its subscriptions go on', async () => {
  const crm = (await gql(server.url, `mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key } }`, { m: shop.merchant }, ADMIN_KEY)).createApiKey.key as string;
  const ws = wsClient(server.wsUrl, crm);
  const events = collect<{ type: string; callId: string }>(ws, `subscription($m: ID!) { callEvents(merchantId: $m) { type callId } }`, { m: shop.merchant }, (items) => items.some((i) => i.type === 'CallTerminated'), 30_000);
  await new Promise((r) => setTimeout(r, 300));

  // Written by "another process" on the server's own file, on streams no command reads.
  const store = new SqliteEventStore(join(server.dataDir, 'events.sqlite'));
  try {
    await store.append('call-c_poison1', [poison('CallDownloaded', shop.merchant), poison('CallRinging', shop.merchant)], 0);
  } finally {
    await store.close();
  }

  // A real call afterwards, through the API.
  const gw = (q: string, id: string) => gql(server.url, q, { id }, shop.gatewayKey);
  const d = (await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: shop.merchant, linkId: shop.link, pageUrl: 'https://shop.example/p', customerId: 'k' } }))
    .recordDownload as { callId: string; callToken: string };
  await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken });
  await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, d.callId);
  await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, d.callId);
  await gw(`mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, gatewayEventId: "t") { id } }`, d.callId);

  const got = await events.done;
  await ws.dispose();
  assert.deepEqual(got.filter((e) => e.callId === d.callId).map((e) => e.type), ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'CallTerminated'], 'the subscription went on past them');
  const call = await eventually(async () => {
    const c = (await gql(server.url, `query($id: ID!) { call(id: $id) { state } gateway(id: "${shop.gateway}") { ports { busy } } }`, { id: d.callId }, ADMIN_KEY)) as { call: { state: string } | null; gateway: { ports: Array<{ busy: boolean }> } };
    return c.call?.state === 'TERMINATED' && c.gateway.ports.every((p) => !p.busy) ? c : null;
  }, 15_000, 'the call after the poison events in call-history and gateway-ports');
  assert.equal(call.call!.state, 'TERMINATED');

  const letters = (await gql(server.url, `{ deadLetters(first: 50) { consumer type streamId streamVersion merchantId eventId } }`, {}, shop.merchantKey)).deadLetters as Array<{ consumer: string; type: string; streamId: string }>;
  assert.ok(letters.length >= 2, `dead letters: ${JSON.stringify(letters)}`);
  assert.ok(letters.every((l) => l.streamId === 'call-c_poison1'), 'only the poison events were set aside');
  assert.ok(letters.some((l) => l.consumer === 'call-history' && l.type === 'CallDownloaded'), JSON.stringify(letters));

  // The operator's command, on the same data directory.
  const cli = spawnSync(process.execPath, ['bin/webdial.js', 'events', 'dead-letters'], { env: { ...process.env, WEBDIAL_DATA_DIR: server.dataDir }, encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /^ID\s+AT\s+CONSUMER\s+EVENT\s+REPLAYED\s+ERROR/m);
  assert.match(cli.stdout, /call-history\s+CallDownloaded call-c_poison1@1\s+-\s+/);
  assert.equal(server.exitCode(), null, 'the server is up');
  assert.match(server.output(), /call supervisor cannot follow CallDownloaded@\S+ \(call-c_poison1\)[^"]*; skipped/, 'the supervisor said what it skipped');
  assert.match(server.output(), /a subscription cannot read CallRinging@\S+ \(call-c_poison1\)[^"]*; not delivered/, 'the subscription said what it did not deliver');
});
