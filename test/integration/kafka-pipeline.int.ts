import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../../src/composition/config';
import { createLogger } from '../../src/composition/logger';
import { startWebdial, type Webdial } from '../../src/composition/app';
import { gql, gqlRaw } from '../../src/cli/client';
import { execFile } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { metric, watchReadiness } from '../support/outage';
import { missingTools, privateBroker, type PrivateBroker } from '../support/kafka-broker';
import { callView, toCall } from '../../src/projections/call-history/view';
import { rowOf } from '../../src/projections/engine/projection-of';
import { rateCall } from '../../src/domain/rating/rating';
import { talkMsBetween } from '../../src/domain/call/call';
import type { CallEvent, CallInitiated } from '../../src/domain/call/events';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import { collect, eventually, wsClient } from '../support/server';

const ADMIN = 'pipeline-admin-key-0123456789abcdef';

/**
 * The integration mode of ARCHITECTURE §7 end to end: PostgreSQL event store, a real Kafka broker,
 * PostgreSQL read models. A full call reaches all four projections; then the broker is stopped and
 * restarted in the middle of a stream of calls, and afterwards every projection equals a fold of the
 * event store: nothing lost, nothing charged twice.
 */
describe('Kafka + PostgreSQL pipeline', () => {
  let broker: PrivateBroker | null = null;
  let app: Webdial | null = null;
  let dbName = '';
  let dataDir = '';
  let skipped = '';
  let env: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const admin = (q: string, v: Record<string, unknown> = {}) => gql(app!.url, q, v, ADMIN);
  const gw = (q: string, v: Record<string, unknown>) => gql(app!.url, q, v, ids.gw);

  before(async () => {
    const pg = await probePostgres();
    const tools = missingTools();
    if (pg) skipped = `PostgreSQL: ${pg}`;
    else if (tools) skipped = `Kafka: ${tools}`;
    if (skipped) return;
    dbName = `webdial_pipe_${randomBytes(4).toString('hex')}`;
    const c = new Client({ connectionString: POSTGRES_URL });
    await c.connect();
    await c.query(`create database ${dbName}`);
    await c.end();
    broker = await privateBroker();
    dataDir = mkdtempSync(join(tmpdir(), 'webdial-pipe-'));
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${dbName}`;
    env = {
      PORT: '0',
      WEBDIAL_DATA_DIR: dataDir,
      WEBDIAL_ADMIN_KEY: ADMIN,
      WEBDIAL_DEMO: '0',
      WEBDIAL_MEDIA: 'external',
      WEBDIAL_EVENT_STORE: 'postgres',
      WEBDIAL_READ_DB: 'postgres',
      DATABASE_URL: url.toString(),
      WEBDIAL_BUS: 'kafka',
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_PARTITIONS: '3',
      WEBDIAL_ANI_QUARANTINE: '0',
      LOG_LEVEL: process.env.PIPE_LOG ?? 'error',
    };
    app = await startWebdial(loadConfig(env), createLogger(process.env.PIPE_LOG ?? 'error'));
    ids.m = (await admin(`mutation { createMerchant(input: { name: "Pipe" }) { id } }`)).createMerchant.id;
    ids.c = (await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+442070000000", timeZone: "Europe/London", capacity: 100, region: "eu" }) { id } }`, { m: ids.m })).addCallCenter.id;
    ids.g = (await admin(`mutation { createGateway(input: { name: "G", region: "eu", ports: [${Array.from({ length: 8 }, (_, i) => `{ number: ${i + 1}, ani: "+4420700001${i}" }`).join(', ')}] }) { id } }`)).createGateway.id;
    ids.l = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m: ids.m, c: ids.c })).createLink.id;
    await admin(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "GBP", connectionFeeMinor: 7, ratePerMinuteMinor: 12, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m: ids.m });
    ids.gw = (await admin(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key;
    ids.crm = (await admin(`mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key } }`, { m: ids.m })).createApiKey.key;
  });

  after(async () => {
    await app?.stop().catch((e) => console.log(`# app.stop failed: ${(e as Error).stack}`));
    await broker?.destroy();
    if (dbName) {
      const c = new Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.end();
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const placeCall = async (answer: boolean) => {
    const d = (await gql(app!.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: ids.m, linkId: ids.l, pageUrl: 'https://shop.example/p/9', customerId: 'k-1' } })).recordDownload;
    await gql(app!.url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken });
    await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, { id: d.callId });
    if (answer) await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: d.callId });
    await gw(`mutation($id: ID!) { reportTerminated(callId: $id, cause: ${answer ? 'HANGUP' : 'NO_ANSWER'}, gatewayEventId: "t") { id } }`, { id: d.callId });
    return d.callId as string;
  };

  test('a full call reaches all four projections, and callEvents subscribers fed from Kafka', async (t) => {
    if (skipped) return serviceMissing(t, 'pipeline', skipped);
    const ws = wsClient(app!.url.replace(/^http/, 'ws'), ids.crm);
    const sub = collect<{ type: string; callId: string }>(ws, `subscription($m: ID!) { callEvents(merchantId: $m) { type callId position } }`, { m: ids.m }, (items) => items.some((i) => i.type === 'CallTerminated'), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const d = (await gql(app!.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: ids.m, linkId: ids.l, pageUrl: 'https://shop.example/p/1', customerId: 'k-1' } })).recordDownload;
    const init = (await gql(app!.url, `mutation($t: String!) { initiateCall(callToken: $t) { ani } }`, { t: d.callToken })).initiateCall;
    await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, { id: d.callId });
    await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: d.callId });
    // While the call is up: the CRM finds it by ANI and the port shows busy.
    const ctx = await eventually(async () => (await gql(app!.url, `query($a: String!) { callContextByAni(ani: $a) { callId state customerId } }`, { a: init.ani }, ids.crm)).callContextByAni, 20_000, 'crm-context by ANI');
    assert.equal(ctx.callId, d.callId);
    await eventually(async () => (await admin(`query($g: ID!) { gateway(id: $g) { ports { busy callId } } }`, { g: ids.g })).gateway.ports.some((p: { callId: string }) => p.callId === d.callId), 20_000, 'gateway-ports busy');
    await gw(`mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, gatewayEventId: "t") { id } }`, { id: d.callId });
    const call = await eventually(async () => {
      const c = (await gql(app!.url, `query($id: ID!) { call(id: $id) { state charge { amountMinor } context { customerId } } }`, { id: d.callId }, ids.crm)).call;
      return c?.state === 'TERMINATED' && c.charge ? c : null;
    }, 20_000, 'call-history and billing');
    assert.equal(call.context.customerId, 'k-1');
    await eventually(async () => (await admin(`query($g: ID!) { gateway(id: $g) { ports { busy } } }`, { g: ids.g })).gateway.ports.every((p: { busy: boolean }) => !p.busy), 20_000, 'port released');
    const events = await sub.done;
    await ws.dispose();
    assert.deepEqual(events.filter((e) => e.callId === d.callId).map((e) => e.type), ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'CallTerminated']);
  });

  test('a broker restart in the middle of a stream loses nothing and charges nothing twice', async (t) => {
    if (skipped) return serviceMissing(t, 'pipeline', skipped);
    const callIds: string[] = [];
    // /readyz every 250 ms (each look asks the broker for its cluster: not every 100 ms).
    const readiness = watchReadiness(app!.url, 250);
    for (let i = 0; i < 8; i++) callIds.push(await placeCall(i % 3 !== 0));
    await broker!.stop();
    // The write side does not need the broker: commands keep succeeding, the relay keeps the events.
    for (let i = 8; i < 16; i++) callIds.push(await placeCall(i % 3 !== 0));
    await readiness.red();
    await broker!.start();
    for (let i = 16; i < 24; i++) callIds.push(await placeCall(i % 3 !== 0));
    await readiness.greenAfter(1, 120_000);
    const red = (await readiness.stop()).map((p) => `${(p.ms / 1000).toFixed(1)} s (${Object.keys(p.reasons).join(', ')})`);

    // The fold of the event store, independently of every projection.
    const expected = new Map<string, { state: string; amount: number | null }>();
    let total = 0;
    for (const callId of callIds) {
      const events = await app!.store.readStream(`call-${callId}`);
      const domain = events.map((e) => ({ type: e.type, data: e.data }) as CallEvent);
      const view = toCall(rowOf(callView, domain)!);
      const plan = (domain.find((e) => e.type === 'CallInitiated') as CallInitiated).data.ratePlan!;
      const amount = view.answeredAt && view.terminatedAt ? rateCall(plan, view.destination!, talkMsBetween(view.answeredAt, view.terminatedAt)).amountMinor : 0;
      total += amount;
      expected.set(callId, { state: view.state, amount });
    }
    let mismatch: string[] = [];
    await eventually(async () => {
      const { calls } = await gql(app!.url, `{ calls(first: 100) { edges { node { id state charge { amountMinor } } } } }`, {}, ids.crm);
      const seen = new Map<string, { state: string; amount: number | null }>(calls.edges.map((e: any) => [e.node.id, { state: e.node.state, amount: e.node.charge?.amountMinor ?? 0 }]));
      mismatch = callIds.filter((id) => JSON.stringify(seen.get(id)) !== JSON.stringify(expected.get(id))).map((id) => `${id}: read ${JSON.stringify(seen.get(id))} vs store ${JSON.stringify(expected.get(id))}`);
      return mismatch.length === 0;
    }, 60_000, 'every call in call-history and billing to equal the fold of the store').catch((e) => {
      throw new Error(`${(e as Error).message}\n${mismatch.join('\n')}`);
    });
    const summary = (await admin(`query($m: ID!) { billingSummary(merchantId: $m, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { calls amountMinor } }`, { m: ids.m })).billingSummary;
    // 24 calls of this test plus the one of the first test.
    const first = (await gql(app!.url, `{ calls(first: 100) { edges { node { id charge { amountMinor } } } } }`, {}, ids.crm)).calls.edges.find((e: any) => !callIds.includes(e.node.id));
    assert.equal(summary.amountMinor, total + (first?.node.charge?.amountMinor ?? 0), 'billing total equals the fold: no loss, no double charge');
    await eventually(async () => (await admin(`query($g: ID!) { gateway(id: $g) { ports { busy } } }`, { g: ids.g })).gateway.ports.every((p: { busy: boolean }) => !p.busy), 30_000, 'gateway-ports: every port free');
    const retried = await metric(app!.url, 'webdial_consumer_retries_total');
    const deadLettered = await metric(app!.url, 'webdial_dead_letters_total');
    assert.equal(deadLettered, 0);
    console.log(`# outage of the Kafka broker (stopped while 8 calls were placed, then started): readiness red ${red.join(', ')}; ${retried} projection batch(es) retried; ${deadLettered} dead-lettered; ${await metric(app!.url, 'webdial_dependency_errors_total', { dependency: 'bus' })} bus error(s) survived`);
  });

  test('a poison message on the topic is dead-lettered alone, the events after it are applied, and `webdial events dead-letters` lists it', async (t) => {
    if (skipped) return serviceMissing(t, 'pipeline', skipped);
    const producer = new Kafka({ brokers: broker!.brokers, clientId: 'poison', logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const sent = await producer.send({ topic: 'webdial.calls', messages: [{ key: 'call-poison', value: '{"not": "an envelope"', headers: { type: 'Garbage' } }] });
    await producer.disconnect();
    const origin = `webdial.calls/${sent[0]!.partition}@${sent[0]!.baseOffset}`;
    // On every partition (the poison's included), the calls after it are applied.
    const after = [await placeCall(true), await placeCall(false), await placeCall(true)];
    for (const id of after)
      await eventually(async () => (await gql(app!.url, `query($id: ID!) { call(id: $id) { state } }`, { id }, ids.crm)).call?.state === 'TERMINATED', 30_000, `call ${id} after the poison message`);
    // Each consumer group sets it aside once: the projections, the webhook worker, this instance's subscriptions hub.
    const groups = ['webdial.projections', 'webdial.webhooks', 'webdial.api.'];
    const letters = await eventually(async () => {
      const l = (await admin(`{ deadLetters(first: 10) { id consumer origin eventId error replayedAt } }`)).deadLetters as Array<{ id: string; consumer: string; origin: string; eventId: string | null; error: string }>;
      return l.length >= groups.length ? l : null;
    }, 30_000, 'the poison message in deadLetters');
    await new Promise((r) => setTimeout(r, 500)); // none more comes
    const again = (await admin(`{ deadLetters(first: 10) { id } }`)).deadLetters as unknown[];
    assert.equal(again.length, groups.length, 'once per consumer group, no more');
    assert.deepEqual(letters.map((l) => l.origin), groups.map(() => origin));
    assert.deepEqual(letters.map((l) => groups.find((g) => l.consumer.startsWith(g))).sort(), [...groups].sort(), JSON.stringify(letters));
    assert.ok(letters.every((l) => l.eventId === null && /KafkaDecodeError: value is not JSON/.test(l.error)), JSON.stringify(letters));
    assert.equal(await metric(app!.url, 'webdial_dead_letters_total'), groups.length);

    // The operator's view: the CLI on the same read database.
    // Asynchronously: the server runs in this process, and a blocked event loop would stall it.
    const cli = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, ['bin/webdial.js', 'events', 'dead-letters', ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }, (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const listed = await cli('--json');
    assert.equal(listed.status, 0, listed.stderr);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; origin: string; consumer: string });
    assert.deepEqual(rows.map((r) => r.origin), groups.map(() => origin));
    const table = await cli();
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`undecodable ${origin.replace(/[.@/]/g, '\\$&')}`));
    assert.match(table.stdout, /3 dead letter\(s\), 3 not replayed; replay one with: webdial events dead-letters replay <id>/);
    // A message that was never an event cannot be replayed: said so, nothing changes.
    const replay = await cli('replay', String(rows[0]!.id));
    assert.equal(replay.status, 1);
    assert.match(replay.stdout, /BAD_USER_INPUT: dead letter \d+ is not an event a projection set aside \(webdial\.calls\/\d+@\d+\): nothing to replay here/);
    const refused = await gqlRaw(app!.url, `mutation($id: ID!) { replayDeadLetter(id: $id) { id } }`, { id: String(rows[0]!.id) }, ADMIN);
    assert.equal(refused.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal((await cli('replay', 'x')).status, 2, 'a usage error');
  });
});
