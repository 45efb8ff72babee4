import { startPair, withPostgresDatabase } from '../support/postgres-db';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql, gqlRaw } from '../../src/cli/client';
import { eventually, startServer, tempDataDir, type ServerProcess } from '../support/server';
import { placeCall, setupGateway, setupMerchant, type TestMerchant } from '../support/merchant';
import { WebhookReceiver, type Received } from '../support/webhook-receiver';

/**
 * Issue 13, signed webhooks for CRMs, through the real server and a real HTTP receiver that verifies
 * every request with the Standard Webhooks reference library.
 */

/** A quick simulated call: rings, answers, keys *22, hangs up. */
const SIM = { WEBDIAL_MEDIA: 'simulator', WEBDIAL_SIM_RING_MS: '20', WEBDIAL_SIM_ANSWER_MS: '20', WEBDIAL_SIM_TALK_MS: '150', WEBDIAL_SIM_DTMF: '*22', WEBDIAL_ANI_QUARANTINE: '0' };
/** Retries every 0.1–1 s, so a receiver that comes back is served within a second. */
const FAST_RETRY = { WEBDIAL_WEBHOOK_RETRY_BASE_MS: '100', WEBDIAL_WEBHOOK_RETRY_MAX_MS: '1000', WEBDIAL_WEBHOOK_POLL_MS: '200' };
const ALL_TYPES = ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'DtmfCommandRecognized', 'ChannelMessageSent', 'CallTerminated', 'ScreenPop'];

const createEndpoint = async (url: string, m: TestMerchant, receiverUrl: string, eventTypes = ALL_TYPES) => {
  const { createWebhookEndpoint } = await gql(
    url,
    `mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id url status eventTypes merchantId } } }`,
    { i: { merchantId: m.merchantId, url: receiverUrl, eventTypes, description: 'CRM' } },
    m.merchantKey,
  );
  return createWebhookEndpoint as { secret: string; endpoint: { id: string; status: string } };
};

/** The call's events as the event store holds them (the analyst timeline), once the call has ended. */
const storedEvents = async (url: string, m: TestMerchant, callId: string) =>
  eventually(
    async () => {
      const { callTimeline } = await gql(url, `query($c: ID!) { callTimeline(callId: $c) { eventId type position } }`, { c: callId }, m.merchantKey);
      const rows = callTimeline as Array<{ eventId: string; type: string; position: string }>;
      return rows.some((r) => r.type === 'CallTerminated') ? rows : null;
    },
    20_000,
    `call ${callId} terminated in the timeline`,
  );

/**
 * Checks a receiver got every event of every call exactly as stored: each event (and the ringing
 * event's screen pop) at least once, repeats only under the same webhook-id with the same body, and
 * per call in stream order (first arrivals).
 */
const assertComplete = async (url: string, m: TestMerchant, callIds: string[], receiver: WebhookReceiver) => {
  for (const callId of callIds) {
    const stored = await storedEvents(url, m, callId);
    const expected = stored.flatMap((e) => (e.type === 'CallRinging' ? ['CallRinging', 'ScreenPop'] : [e.type]));
    await eventually(async () => receiver.unique().filter((r) => r.callId === callId).length >= expected.length, 30_000, `all ${expected.length} deliveries of ${callId}`);
    const firsts = receiver.unique().filter((r) => r.callId === callId);
    assert.deepEqual(firsts.map((r) => r.type), expected, `call ${callId}: types in stream order`);
    const seqs = firsts.filter((r) => r.sequence !== null).map((r) => r.sequence!);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `call ${callId}: sequence increases`);
    assert.deepEqual(seqs, stored.map((_, i) => i + 1), `call ${callId}: no event missing`);
  }
  const byId = new Map<string, Received>();
  for (const r of receiver.received) {
    const first = byId.get(r.id);
    if (first) assert.equal(r.body, first.body, `a repeat of ${r.id} carries the same body`);
    else byId.set(r.id, r);
  }
};

describe('webhooks: every event, signed, in order; merchants apart; bad input refused', () => {
  let server: ServerProcess;
  let a: TestMerchant;
  let b: TestMerchant;
  const ra = new WebhookReceiver();
  const rb = new WebhookReceiver();
  let endpointA = '';
  let endpointB = '';

  before(async () => {
    server = await startServer({ ...SIM, ...FAST_RETRY });
    await Promise.all([ra.start(), rb.start()]);
    await setupGateway(server.url, 20);
    a = await setupMerchant(server.url, 'A');
    b = await setupMerchant(server.url, 'B');
  });
  after(async () => {
    await server?.stop();
    await Promise.all([ra.stop(), rb.stop()]);
  });

  test('a MERCHANT key registers an endpoint; the secret is a Standard Webhooks whsec_ secret', async () => {
    const ea = await createEndpoint(server.url, a, ra.url);
    assert.match(ea.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
    assert.equal(ea.endpoint.status, 'ACTIVE');
    ra.trust(ea.secret);
    endpointA = ea.endpoint.id;
    const eb = await createEndpoint(server.url, b, rb.url);
    rb.trust(eb.secret);
    endpointB = eb.endpoint.id;
    const { webhookEndpoints } = await gql(server.url, `query($m: ID!) { webhookEndpoints(merchantId: $m) { id url } }`, { m: a.merchantId }, a.merchantKey);
    assert.deepEqual(webhookEndpoints, [{ id: endpointA, url: ra.url }]);
  });

  test('every event of every call is delivered, verified, in order per call; another merchant’s never', async () => {
    const callsA = await Promise.all([1, 2, 3, 4].map((i) => placeCall(server.url, a, `a-${i}`)));
    const callsB = await Promise.all([1, 2].map((i) => placeCall(server.url, b, `b-${i}`)));
    await assertComplete(server.url, a, callsA, ra);
    await assertComplete(server.url, b, callsB, rb);
    assert.equal(ra.refused.length, 0, 'every request verified');
    assert.ok(ra.received.every((r) => callsA.includes(r.callId)), 'A received only its calls');
    assert.ok(rb.received.every((r) => callsB.includes(r.callId)), 'B received only its calls');
    assert.ok(ra.received.filter((r) => r.merchantId !== null).every((r) => r.merchantId === a.merchantId));
    const pop = ra.received.find((r) => r.type === 'ScreenPop')!;
    const data = (JSON.parse(pop.body) as { data: { context: unknown; ani: string; pageUrl: string; state: string } }).data;
    assert.deepEqual(data.context, { cart: ['sku-1'] });
    assert.equal(data.state, 'RINGING');
    assert.match(data.ani, /^\+1212555/);
    const { webhookDeliveries } = await gql(server.url, `query($e: ID!) { webhookDeliveries(endpointId: $e, status: DELIVERED, first: 500) { id status attempts lastStatusCode } }`, { e: endpointA }, a.merchantKey);
    assert.equal(webhookDeliveries.length, ra.unique().length);
    assert.ok((webhookDeliveries as Array<{ lastStatusCode: number }>).every((d) => d.lastStatusCode === 204));
  });

  test("another merchant's endpoint or delivery is refused, and nothing changes", async () => {
    const code = async (q: string, v: Record<string, unknown>) => (await gqlRaw(server.url, q, v, a.merchantKey)).errors?.[0]?.extensions?.code;
    const [deliveryOfB] = rb.unique();
    assert.equal(await code(`mutation($e: ID!) { disableWebhookEndpoint(endpointId: $e) { id } }`, { e: endpointB }), 'FORBIDDEN');
    assert.equal(await code(`mutation($e: ID!) { updateWebhookEndpoint(endpointId: $e, url: "http://127.0.0.1:1/x") { id } }`, { e: endpointB }), 'FORBIDDEN');
    assert.equal(await code(`mutation($e: ID!) { rotateWebhookSecret(endpointId: $e) { secret } }`, { e: endpointB }), 'FORBIDDEN');
    assert.equal(await code(`query($e: ID!) { webhookDeliveries(endpointId: $e) { id } }`, { e: endpointB }), 'FORBIDDEN');
    assert.equal(await code(`mutation($d: ID!) { replayWebhookDelivery(deliveryId: $d) { id } }`, { d: deliveryOfB!.id }), 'FORBIDDEN');
    assert.equal(await code(`mutation($e: ID!) { replayFailedWebhookDeliveries(endpointId: $e) }`, { e: endpointB }), 'FORBIDDEN');
    assert.equal(await code(`query($m: ID!) { webhookEndpoints(merchantId: $m) { id } }`, { m: b.merchantId }), 'FORBIDDEN');
    assert.equal(await code(`mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }`, { i: { merchantId: b.merchantId, url: ra.url, eventTypes: ['CallRinging'] } }), 'FORBIDDEN');
    assert.equal(await code(`mutation { disableWebhookEndpoint(endpointId: "we_nope") { id } }`, {}), 'NOT_FOUND');
    const { webhookEndpoints } = await gql(server.url, `query($m: ID!) { webhookEndpoints(merchantId: $m) { id url status } }`, { m: b.merchantId }, b.merchantKey);
    assert.deepEqual(webhookEndpoints, [{ id: endpointB, url: rb.url, status: 'ACTIVE' }]);
  });

  test('bad input: an unknown event type, a bad URL; a CRM key may not manage endpoints', async () => {
    const code = async (i: Record<string, unknown>) =>
      (await gqlRaw(server.url, `mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }`, { i: { merchantId: a.merchantId, ...i } }, a.merchantKey)).errors?.[0];
    assert.equal((await code({ url: ra.url, eventTypes: ['CallRung'] }))?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal((await code({ url: 'ftp://x.example/', eventTypes: ['CallRinging'] }))?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal((await code({ url: ra.url, eventTypes: [] }))?.extensions?.code, 'BAD_USER_INPUT');
    const { createApiKey } = await gql(server.url, `mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key } }`, { m: a.merchantId }, 'test-admin-key-0123456789abcdef');
    const r = await gqlRaw(server.url, `query($m: ID!) { webhookEndpoints(merchantId: $m) { id } }`, { m: a.merchantId }, createApiKey.key);
    assert.equal(r.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });

  test('secret rotation: both secrets sign during the grace period, so a receiver on either verifies', async () => {
    const { rotateWebhookSecret } = await gql(server.url, `mutation($e: ID!) { rotateWebhookSecret(endpointId: $e, keepPreviousSeconds: 3600) { secret endpoint { previousSecretValidUntil } } }`, { e: endpointA }, a.merchantKey);
    assert.ok(rotateWebhookSecret.endpoint.previousSecretValidUntil);
    const before = ra.received.length;
    ra.trust(rotateWebhookSecret.secret); // the new secret alone
    const call = await placeCall(server.url, a, 'rot-1');
    await assertComplete(server.url, a, [call], ra);
    const fresh = ra.received.slice(before);
    assert.ok(fresh.every((r) => r.signature.split(' ').length === 2), 'two v1 signatures during the grace period');
    assert.equal(ra.refused.length, 0);
  });
});

describe('webhooks: production URL rules', () => {
  let server: ServerProcess;
  let m: TestMerchant;
  before(async () => {
    server = await startServer({ WEBDIAL_MEDIA: 'external', WEBDIAL_WEBHOOK_URL_POLICY: 'public' });
    m = await setupMerchant(server.url, 'P');
  });
  after(async () => server?.stop());

  for (const [url, why] of [
    ['http://crm.example.com/hook', /https/],
    ['https://127.0.0.1/hook', /loopback or private/],
    ['https://10.1.2.3/hook', /loopback or private/],
    ['https://[::1]/hook', /loopback or private/],
    ['https://192.168.0.10/hook', /loopback or private/],
    ['https://localhost/hook', /public/],
  ] as const)
    test(`${url} is refused (BAD_USER_INPUT)`, async () => {
      const r = await gqlRaw(server.url, `mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }`, { i: { merchantId: m.merchantId, url, eventTypes: ['CallRinging'] } }, m.merchantKey);
      assert.equal(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(r.errors));
      assert.match(r.errors![0]!.message, why);
    });

  test('nothing was registered', async () => {
    const { webhookEndpoints } = await gql(server.url, `query($m: ID!) { webhookEndpoints(merchantId: $m) { id } }`, { m: m.merchantId }, m.merchantKey);
    assert.deepEqual(webhookEndpoints, []);
  });
});

describe('webhooks: a receiver down for 30 s, then up, receives everything in order', () => {
  let server: ServerProcess;
  const receiver = new WebhookReceiver();
  before(async () => {
    server = await startServer({ ...SIM, ...FAST_RETRY, WEBDIAL_WEBHOOK_RETRY_MAX_MS: '3000' });
    await receiver.start();
  });
  after(async () => {
    await server?.stop();
    await receiver.stop();
  });

  test('calls during a 30 s outage are delivered once it is back, each id once or repeated unchanged', async () => {
    await setupGateway(server.url, 10);
    const m = await setupMerchant(server.url, 'Down');
    const ep = await createEndpoint(server.url, m, receiver.url);
    receiver.trust(ep.secret);
    const first = await placeCall(server.url, m, 'before');
    await assertComplete(server.url, m, [first], receiver);

    await receiver.stop();
    const downAt = Date.now();
    const during = [];
    for (let i = 0; i < 6; i++) {
      during.push(await placeCall(server.url, m, `during-${i}`));
      await new Promise((r) => setTimeout(r, 2000));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    const { webhookDeliveries } = await gql(server.url, `query($e: ID!) { webhookDeliveries(endpointId: $e, status: PENDING, first: 500) { attempts lastError } }`, { e: ep.endpoint.id }, m.merchantKey);
    assert.ok(webhookDeliveries.length > 0, 'deliveries wait while the receiver is down');
    assert.ok((webhookDeliveries as Array<{ attempts: number; lastError: string | null }>).some((d) => d.attempts > 1 && /ECONNREFUSED/.test(d.lastError ?? '')), 'and were retried');
    await receiver.start(receiver.port);
    await assertComplete(server.url, m, [first, ...during], receiver);
  });
});

describe('webhooks: kill -9 of the server mid-delivery loses nothing', () => {
  const receiver = new WebhookReceiver();
  after(async () => receiver.stop());

  test('deliveries resume after a crash and a restart on the same data', async () => {
    await receiver.start();
    const dataDir = tempDataDir();
    const env = { ...SIM, ...FAST_RETRY, WEBDIAL_WEBHOOK_TIMEOUT_MS: '1000', WEBDIAL_TOKEN_SECRET: 'crash-test-token-secret-0123456789' };
    let server = await startServer(env, dataDir);
    await setupGateway(server.url, 10);
    const m = await setupMerchant(server.url, 'Crash');
    const ep = await createEndpoint(server.url, m, receiver.url);
    receiver.trust(ep.secret);
    receiver.delayMs = 300; // each delivery takes a while: the crash lands mid-flight
    const calls = await Promise.all([1, 2, 3, 4, 5].map((i) => placeCall(server.url, m, `k-${i}`)));
    // The calls end first (the simulator that plays them lives in the process), then the crash.
    let expected = 0;
    for (const c of calls) expected += (await storedEvents(server.url, m, c)).length + 1;
    await server.crash();
    const atCrash = receiver.unique().length;
    assert.ok(atCrash > 0 && atCrash < expected, `the crash came mid-delivery (${atCrash} of ${expected} delivered)`);
    receiver.delayMs = 20;
    server = await startServer(env, dataDir);
    try {
      await assertComplete(server.url, m, calls, receiver);
      assert.ok(receiver.unique().length > atCrash, 'the restarted server went on delivering');
    } finally {
      await server.stop();
    }
  });
});

describe('webhooks: an endpoint failing for the configured time, then replayed', () => {
  let server: ServerProcess;
  const receiver = new WebhookReceiver();
  before(async () => {
    server = await startServer({ ...SIM, ...FAST_RETRY, WEBDIAL_WEBHOOK_FAILING_AFTER: '2' });
    await receiver.start();
  });
  after(async () => {
    await server?.stop();
    await receiver.stop();
  });

  test('is marked FAILING, lists its FAILED deliveries, and a replay delivers them in order', async () => {
    await setupGateway(server.url, 10);
    const m = await setupMerchant(server.url, 'Fail');
    const ep = await createEndpoint(server.url, m, receiver.url, ['CallRinging', 'CallAnswered', 'CallTerminated']);
    receiver.trust(ep.secret);
    receiver.failWith = 500;
    const calls = [await placeCall(server.url, m, 'f-1'), await placeCall(server.url, m, 'f-2')];
    const status = async () =>
      (await gql(server.url, `query($m: ID!) { webhookEndpoints(merchantId: $m) { status failingSince } }`, { m: m.merchantId }, m.merchantKey)).webhookEndpoints[0] as { status: string; failingSince: string | null };
    await eventually(async () => (await status()).status === 'FAILING', 20_000, 'endpoint FAILING');
    assert.ok((await status()).failingSince);
    const { webhookDeliveries } = await gql(server.url, `query($e: ID!) { webhookDeliveries(endpointId: $e, status: FAILED) { id status attempts lastStatusCode lastError } }`, { e: ep.endpoint.id }, m.merchantKey);
    assert.ok(webhookDeliveries.length > 0);
    assert.ok((webhookDeliveries as Array<{ lastStatusCode: number }>).every((d) => d.lastStatusCode === 500));

    receiver.failWith = null;
    const { replayFailedWebhookDeliveries } = await gql(server.url, `mutation($e: ID!) { replayFailedWebhookDeliveries(endpointId: $e) }`, { e: ep.endpoint.id }, m.merchantKey);
    assert.equal(replayFailedWebhookDeliveries, webhookDeliveries.length);
    assert.equal((await status()).status, 'ACTIVE');
    for (const callId of calls) {
      await eventually(async () => receiver.unique().filter((r) => r.callId === callId).length === 3, 20_000, `3 deliveries of ${callId}`);
      assert.deepEqual(receiver.unique().filter((r) => r.callId === callId).map((r) => r.type), ['CallRinging', 'CallAnswered', 'CallTerminated']);
    }
    const { replayWebhookDelivery } = await gql(server.url, `mutation($d: ID!) { replayWebhookDelivery(deliveryId: $d) { id status } }`, { d: webhookDeliveries[0].id }, m.merchantKey);
    assert.equal(replayWebhookDelivery.id, webhookDeliveries[0].id);
    await eventually(async () => receiver.received.filter((r) => r.id === webhookDeliveries[0].id).length === 2, 10_000, 'the single replay, same webhook-id');
  });
});

describe('webhooks: two instances on one store share the work, one delivery of each event', () => {
  const receiver = new WebhookReceiver();
  after(async () => receiver.stop());

  // Two instances need a store that takes two processes: PostgreSQL (SQLite is one process per data directory).
  test("both plan every event and both send, but each delivery goes out once, in order per call", async (t) => {
    await receiver.start();
    await withPostgresDatabase(t, 'webdial_webhooks_two', async (db) => {
      const [one, two] = await startPair(db, { ...SIM, ...FAST_RETRY });
      try {
        await setupGateway(one.url, 20);
        const m = await setupMerchant(one.url, 'Two');
        const ep = await createEndpoint(one.url, m, receiver.url);
        receiver.trust(ep.secret);
        receiver.delayMs = 20;
        const calls = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => placeCall(i % 2 ? one.url : two.url, m, `t-${i}`)));
        await assertComplete(one.url, m, calls, receiver);
        const ids = receiver.received.map((r) => r.id);
        assert.equal(new Set(ids).size, ids.length, 'no delivery was sent twice');
      } finally {
        await Promise.all([one.stop(), two.stop()]);
      }
    });
  });
});
