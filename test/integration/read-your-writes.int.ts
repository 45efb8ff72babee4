import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { loadConfig } from '../../src/composition/config';
import { createLogger } from '../../src/composition/logger';
import { startWebdial, type Webdial } from '../../src/composition/app';
import { useKafka, type TestBroker } from '../support/kafka-broker';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';

const ADMIN = 'ryw-admin-key-0123456789abcdef';

/** One GraphQL request; the whole response (data, errors, extensions) and the HTTP status. */
const post = async (url: string, query: string, variables: Record<string, unknown>, opts: { key?: string; position?: string | null; extensions?: object } = {}) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
      ...(opts.position ? { 'x-webdial-position': opts.position } : {}),
    },
    body: JSON.stringify({ query, variables, ...(opts.extensions ? { extensions: opts.extensions } : {}) }),
  });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: Array<{ message: string; extensions?: { code?: string } }>; extensions?: { position?: string } };
  return { status: res.status, ...body };
};

/**
 * Read your own writes in the integration mode (PostgreSQL store and read models, a real Kafka
 * broker between them): the projections lag behind the store by the whole Kafka path, so a read
 * sent right after a write can miss it. Every mutation answers with the store position it wrote
 * (extensions.position); a query that sends it back (X-Webdial-Position) sees the write at once.
 */
describe('read your writes (Kafka + PostgreSQL)', () => {
  let app: Webdial | null = null;
  let broker: TestBroker | null = null;
  let dbName = '';
  let dataDir = '';
  let missing = '';

  before(async (t) => {
    const pg = await probePostgres();
    if (pg) {
      missing = `PostgreSQL: ${pg}`;
      return;
    }
    broker = await useKafka(t as unknown as TestContext);
    if (!broker) {
      missing = 'Kafka';
      return;
    }
    dbName = `webdial_ryw_${randomBytes(4).toString('hex')}`;
    const c = new Client({ connectionString: POSTGRES_URL });
    await c.connect();
    await c.query(`create database ${dbName}`);
    await c.end();
    dataDir = mkdtempSync(join(tmpdir(), 'webdial-ryw-'));
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${dbName}`;
    app = await startWebdial(
      loadConfig({
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
        KAFKA_TOPIC_PREFIX: `ryw${randomBytes(3).toString('hex')}.`,
        WEBDIAL_READ_WAIT_MS: '10000',
        WEBDIAL_WEBHOOK_URL_POLICY: 'any', // the test's endpoint is local
      }),
      createLogger('error'),
    );
  });

  after(async () => {
    await app?.stop();
    await broker?.release();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (dbName) {
      const c = new Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.end();
    }
  });

  const need = (t: TestContext): Webdial | null => {
    if (app) return app;
    serviceMissing(t, missing || 'Kafka + PostgreSQL', 'not available');
    return null;
  };

  test('every admin and merchant mutation, read back at once with its position, is found', async (t) => {
    const w = need(t);
    if (!w) return;
    /** The mutation, then at once the read with the position it answered: the read must see it. */
    const writeThenRead = async (what: string, mutation: string, variables: Record<string, unknown>, read: string, readVars: Record<string, unknown>, check: (data: Record<string, any>) => boolean, key = ADMIN) => {
      const m = await post(w.url, mutation, variables, { key });
      assert.equal(m.errors, undefined, `${what}: ${JSON.stringify(m.errors)}`);
      assert.match(m.extensions?.position ?? '', /^\d{20}:\d{20}$/, `${what}: the response carries the position it wrote`);
      const r = await post(w.url, read, readVars, { key, position: m.extensions!.position! });
      assert.equal(r.errors, undefined, `${what} read: ${JSON.stringify(r.errors)}`);
      assert.ok(check(r.data!), `${what}: read back at once, got ${JSON.stringify(r.data)}`);
      return m.data!;
    };
    const merchantRead = `query($id: ID!) { merchant(id: $id) { id name callCenters { id redirectedTo } links { id } ratePlan { version } dtmfCommands { sequence } } }`;

    // A created thing's id is only known from the mutation's answer: these read it back by hand.
    const merchant = await post(w.url, `mutation { createMerchant(input: { name: "Shop", allowedOrigins: ["https://shop.example"] }) { id } }`, {}, { key: ADMIN });
    const m = merchant.data!.createMerchant.id as string;
    const found = await post(w.url, merchantRead, { id: m }, { key: ADMIN, position: merchant.extensions!.position! });
    assert.equal(found.data!.merchant?.id, m, 'createMerchant read back at once');

    const keyData = await writeThenRead('createApiKey', `mutation($m: ID!) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m }, `query($m: ID!) { apiKeys(merchantId: $m) { id role revokedAt } }`, { m }, (d) => d.apiKeys.length === 1 && d.apiKeys[0].role === 'MERCHANT');
    const merchantKey = keyData.createApiKey.key as string;
    const keyId = merchantKey.split('.')[1]!;

    const gateway = await post(w.url, `mutation { createGateway(input: { name: "G2", region: "eu", ports: [{ number: 1, ani: "+442070000002" }] }) { id } }`, {}, { key: ADMIN });
    const g = gateway.data!.createGateway.id as string;
    const gRead = await post(w.url, `query($id: ID!) { gateway(id: $id) { id ports { number ani } } }`, { id: g }, { key: ADMIN, position: gateway.extensions!.position! });
    assert.equal(gRead.data!.gateway?.ports?.[0]?.ani, '+442070000002', 'createGateway read back at once');

    const cc = await writeThenRead(
      'addCallCenter',
      `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+12125550100", timeZone: "UTC", capacity: 3, region: "eu" }) { id } }`,
      { m },
      merchantRead,
      { id: m },
      (d) => d.merchant.callCenters.length === 1,
      merchantKey,
    );
    const c = cc.addCallCenter.id as string;
    const cc2 = (await post(w.url, `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "D", phoneNumber: "+12125550101", timeZone: "UTC", capacity: 3, region: "eu" }) { id } }`, { m }, { key: merchantKey })).data!.addCallCenter.id;
    await writeThenRead('redirectCallCenter', `mutation($c: ID!, $to: ID) { redirectCallCenter(callCenterId: $c, toCallCenterId: $to) { id } }`, { c, to: cc2 }, merchantRead, { id: m }, (d) => d.merchant.callCenters.find((x: { id: string }) => x.id === c)?.redirectedTo === cc2, merchantKey);
    await writeThenRead('redirectCallCenter (clear)', `mutation($c: ID!) { redirectCallCenter(callCenterId: $c, toCallCenterId: null) { id } }`, { c }, merchantRead, { id: m }, (d) => d.merchant.callCenters.find((x: { id: string }) => x.id === c)?.redirectedTo === null, merchantKey);
    const link = await writeThenRead('createLink', `mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m, c }, merchantRead, { id: m }, (d) => d.merchant.links.length === 1, merchantKey);
    await writeThenRead(
      'setRatePlan',
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 5, ratePerMinuteMinor: 3, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
      { m },
      merchantRead,
      { id: m },
      (d) => d.merchant.ratePlan?.version === 1,
      merchantKey,
    );
    await writeThenRead(
      'setCallCenterKind',
      `mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { id } }`,
      { c: cc2 },
      `query($id: ID!) { merchant(id: $id) { callCenters { id kind } } }`,
      { id: m },
      (d) => d.merchant.callCenters.find((x: { id: string }) => x.id === cc2)?.kind === 'BROWSER',
      merchantKey,
    );
    await writeThenRead(
      'createWebhookEndpoint',
      `mutation($m: ID!) { createWebhookEndpoint(input: { merchantId: $m, url: "http://127.0.0.1:9/hook", eventTypes: ["CallRinging"] }) { endpoint { id } } }`,
      { m },
      `query($m: ID!) { webhookEndpoints(merchantId: $m) { id url } }`,
      { m },
      (d) => d.webhookEndpoints.length === 1,
      merchantKey,
    );
    await writeThenRead(
      'setCallCenterIdentityDtmf',
      `mutation($c: ID!) { setCallCenterIdentityDtmf(callCenterId: $c, enabled: true) { id } }`,
      { c },
      `query($id: ID!) { merchant(id: $id) { callCenters { id identityDtmf } } }`,
      { id: m },
      (d) => d.merchant.callCenters.find((x: { id: string }) => x.id === c)?.identityDtmf === true,
      merchantKey,
    );
    await writeThenRead('assignDid', `mutation($m: ID!, $c: ID!) { assignDid(input: { merchantId: $m, number: "+33100000701", callCenterId: $c }) { number } }`, { m, c }, `query($m: ID!) { dids(merchantId: $m) { number } }`, { m }, (d) => d.dids.length === 1, merchantKey);
    await writeThenRead('releaseDid', `mutation($m: ID!) { releaseDid(merchantId: $m, number: "+33100000701") }`, { m }, `query($m: ID!) { dids(merchantId: $m) { number } }`, { m }, (d) => d.dids.length === 0, merchantKey);
    await writeThenRead('setDtmfCommand', `mutation($m: ID!) { setDtmfCommand(merchantId: $m, sequence: "*76", action: PUSH_PAGE, argument: "https://shop.example/offer") }`, { m }, merchantRead, { id: m }, (d) => d.merchant.dtmfCommands[0]?.sequence === '*76', merchantKey);

    // The widget's calls: downloaded, then initiated, each read back by the merchant at once.
    const download = await post(w.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: m, linkId: link.createLink.id, pageUrl: 'https://shop.example/p/1' } });
    assert.equal(download.errors, undefined, JSON.stringify(download.errors));
    const callId = download.data!.recordDownload.callId as string;
    const call = await post(w.url, `query($id: ID!) { call(id: $id) { id state context { pageUrl } } }`, { id: callId }, { key: merchantKey, position: download.extensions!.position! });
    assert.equal(call.data!.call?.state, 'DOWNLOADED', 'recordDownload, then at once the call: found');
    assert.equal(call.data!.call?.context?.pageUrl, 'https://shop.example/p/1');
    const initiated = await post(w.url, `mutation($t: String!) { initiateCall(callToken: $t) { id state } }`, { t: download.data!.recordDownload.callToken });
    assert.equal(initiated.errors, undefined, JSON.stringify(initiated.errors));
    const list = await post(w.url, `query($m: ID!) { calls(filter: { merchantId: $m }) { edges { node { id state ani } } } }`, { m }, { key: merchantKey, position: initiated.extensions!.position! });
    assert.equal(list.errors, undefined, JSON.stringify(list.errors));
    assert.equal(list.data!.calls.edges[0]?.node.state, 'INITIATED', 'initiateCall, then at once the list: initiated');

    // The position also travels in the request's extensions.
    const viaExtensions = await post(w.url, `query($id: ID!) { call(id: $id) { state } }`, { id: callId }, { key: merchantKey, extensions: { minPosition: initiated.extensions!.position! } });
    assert.equal(viaExtensions.data!.call?.state, 'INITIATED');

    await writeThenRead('revokeApiKey', `mutation($k: String!) { revokeApiKey(key: $k) }`, { k: keyId }, `query($m: ID!) { apiKeys(merchantId: $m) { id revokedAt } }`, { m }, (d) => d.apiKeys[0]?.revokedAt !== null);
  });

  test('a malformed position is BAD_USER_INPUT, one never reached a TIMEOUT; both change nothing', async (t) => {
    const w = need(t);
    if (!w) return;
    const bad = await post(w.url, `{ __typename }`, {}, { key: ADMIN, position: '12:not-a-position' });
    assert.equal(bad.status, 400);
    assert.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    // A position far in the future: refused after the bounded wait (shortened for the test).
    const before = Date.now();
    const future = await post(w.url, `query { gateway(id: "x") { id } }`, {}, { key: ADMIN, extensions: { minPosition: '99999999999999999999:00000000000000000001' } });
    assert.equal(future.status, 503);
    assert.equal(future.errors?.[0]?.extensions?.code, 'TIMEOUT');
    assert.ok(Date.now() - before >= 9_000, 'waited the configured bound first');

    // Over graphql-ws, a subscription asking for an unreachable position fails the same way.
    const ws = createClient({ url: w.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${ADMIN}` }, retryAttempts: 0 });
    try {
      const code = await new Promise<string | undefined>((resolve) => {
        ws.subscribe(
          { query: `subscription { gatewayPortChanges(gatewayId: "x") { number } }`, extensions: { minPosition: 'nonsense' } },
          { next: () => resolve('delivered'), error: (e) => resolve((e as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code), complete: () => resolve('complete') },
        );
      });
      assert.equal(code, 'BAD_USER_INPUT');
    } finally {
      await ws.dispose();
    }
  });
});
