import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql, gqlRaw } from '../../src/cli/client';
import { KurrentDbDouble } from '../support/kurrentdb-double';
import { ADMIN_KEY, collect, eventually, startServer, wsClient, type ServerProcess } from '../support/server';

/**
 * One call end to end through the real server over HTTP and WebSocket: configure a merchant, place a
 * call as the widget, report its progress as the gateway, receive its events on a subscription, read
 * the call, its timeline and its exact charge; then restart on the same data directory: nothing lost.
 */
/**
 * The event store a run uses: its server environment, set up before the first server starts and torn
 * down after the last one stopped.
 */
interface StoreUnderTest {
  label: string;
  start(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

const walkingSkeleton = (store: StoreUnderTest): void => {
  describe(`walking skeleton: one call end to end (${store.label}, external media)`, () => {
    let server: ServerProcess;
    let storeEnv: Record<string, string> = {};
    const ids: Record<string, string> = {};
    let callId = '';
    let callToken = '';

    const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
    const codeOf = async (q: string, v: Record<string, unknown>, key?: string) => (await gqlRaw(server.url, q, v, key)).errors?.[0]?.extensions?.code;

    before(async () => {
      storeEnv = await store.start();
      server = await startServer({ WEBDIAL_MEDIA: 'external', ...storeEnv });
    });
    after(async () => {
      await server?.stop();
      await store.stop();
    });

    test('an operator configures a merchant, a gateway and keys', async () => {
      const { createMerchant } = await admin(`mutation { createMerchant(input: { name: "Shop", maxConcurrentCalls: 5, allowedOrigins: ["https://shop.example"] }) { id name maxConcurrentCalls allowedOrigins } }`);
      ids.merchant = createMerchant.id;
      assert.deepEqual(createMerchant.allowedOrigins, ['https://shop.example']);
      const { createMerchant: other } = await admin(`mutation { createMerchant(input: { name: "Other" }) { id } }`);
      ids.other = other.id;
      const { addCallCenter } = await admin(
        `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "NYC", phoneNumber: "+12125550100", timeZone: "America/New_York", capacity: 3, region: "us-east" }) { id merchantId redirectedTo } }`,
        { m: ids.merchant },
      );
      ids.center = addCallCenter.id;
      const { createGateway } = await admin(`mutation { createGateway(input: { name: "GW1", region: "us-east", ports: [{ number: 1, ani: "+12125550201" }, { number: 2, ani: "+12125550202" }] }) { id ports { number ani busy } } }`);
      ids.gateway = createGateway.id;
      assert.equal(createGateway.ports.length, 2);
      const { createLink } = await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Buy button", callCenterIds: [$c] }) { id callCenterIds } }`, { m: ids.merchant, c: ids.center });
      ids.link = createLink.id;
      const { setRatePlan } = await admin(
        `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 30, nextIncrementSeconds: 6, minimumChargeMinor: 0 }) }`,
        { m: ids.merchant },
      );
      assert.equal(setRatePlan, true);
      for (const [name, role, m] of [['merchantKey', 'MERCHANT', ids.merchant], ['gatewayKey', 'GATEWAY', null], ['otherKey', 'MERCHANT', ids.other]] as const) {
        const { createApiKey } = await admin(`mutation($r: Role!, $m: ID) { createApiKey(role: $r, merchantId: $m) { key role merchantId } }`, { r: role, m });
        ids[name] = createApiKey.key;
      }
    });

    test('bad configuration input is refused with a contract code', async () => {
      assert.equal(
        await codeOf(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "X", phoneNumber: "555-0100", timeZone: "America/New_York", capacity: 1, region: "us" }) { id } }`, { m: ids.merchant }, ADMIN_KEY),
        'BAD_USER_INPUT',
      );
      assert.equal(await codeOf(`mutation { createMerchant(input: { name: "Nope" }) { id } }`, {}, ids.merchantKey), 'FORBIDDEN');
      assert.equal(await codeOf(`mutation { createMerchant(input: { name: "Nope" }) { id } }`, {}), 'UNAUTHENTICATED');
    });

    test('a call goes through every stage; its events arrive on callEvents in order', async () => {
      const ws = wsClient(server.wsUrl, ids.merchantKey);
      const wanted = ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'CallTerminated'];
      const sub = collect<{ type: string; position: string; callId: string }>(
        ws,
        `subscription($m: ID!) { callEvents(merchantId: $m) { eventId callId type position occurredAt data } }`,
        { m: ids.merchant },
        (items) => items.some((i) => i.type === 'CallTerminated'),
      );
      await new Promise((r) => setTimeout(r, 300)); // let the subscription register

      const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken media { provider } } }`, {
        i: { merchantId: ids.merchant, linkId: ids.link, customerId: 'cust-7', sessionId: 's-1', pageUrl: 'https://shop.example/p/42', referrer: 'https://search.example/', context: { cart: ['sku-1'] } },
      });
      callId = recordDownload.callId;
      callToken = recordDownload.callToken;
      const { initiateCall } = await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { id state callCenterId destination gatewayId port ani } }`, { t: callToken });
      assert.equal(initiateCall.state, 'INITIATED');
      assert.equal(initiateCall.callCenterId, ids.center);
      assert.equal(initiateCall.destination, '+12125550100');
      assert.equal(initiateCall.gatewayId, ids.gateway);
      assert.match(initiateCall.ani, /^\+1212555020[12]$/);

      const gw = (q: string, v: Record<string, unknown>) => gql(server.url, q, { id: callId, ...v }, ids.gatewayKey);
      assert.equal((await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r1") { state } }`, {})).reportRinging.state, 'RINGING');
      assert.equal((await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a1") { state } }`, {})).reportAnswered.state, 'ANSWERED');
      // A repeated report changes nothing.
      assert.equal((await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a1") { state } }`, {})).reportAnswered.state, 'ANSWERED');
      assert.equal((await gw(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "5", gatewayEventId: "d1") { dtmf { digits } } }`, {})).reportDtmf.dtmf[0].digits, '5');
      await new Promise((r) => setTimeout(r, 1200)); // at least one second of talk
      const { reportTerminated } = await gw(`mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, sipStatus: 200, gatewayEventId: "t1") { state terminatedBy terminationCause talkSeconds } }`, {});
      assert.equal(reportTerminated.state, 'TERMINATED');
      assert.equal(reportTerminated.terminatedBy, 'CALLEE');
      assert.ok(reportTerminated.talkSeconds >= 1 && reportTerminated.talkSeconds <= 30, `talkSeconds ${reportTerminated.talkSeconds}`);

      const events = await sub.done;
      await ws.dispose();
      const mine = events.filter((e) => e.callId === callId);
      assert.deepEqual(mine.map((e) => e.type), wanted);
      const positions = mine.map((e) => e.position);
      assert.deepEqual([...positions].sort(), positions, 'positions arrive in order');
    });

    test('bad widget and gateway input is refused and stores nothing', async () => {
      const before = (await gql(server.url, `query($id: ID!) { callTimeline(callId: $id) { eventId } }`, { id: callId }, ids.merchantKey)).callTimeline.length;
      assert.equal(await codeOf(`mutation { initiateCall(callToken: "v1.forged.token") { id } }`, {}), 'UNAUTHENTICATED');
      assert.equal(await codeOf(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "X9", gatewayEventId: "bad") { id } }`, { id: callId }, ids.gatewayKey), 'BAD_USER_INPUT');
      assert.equal(await codeOf(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "9", gatewayEventId: "late") { id } }`, { id: callId }, ids.gatewayKey), 'CONFLICT');
      assert.equal(await codeOf(`mutation { reportRinging(callId: "c_nope", gatewayEventId: "x") { id } }`, {}, ids.gatewayKey), 'NOT_FOUND');
      assert.equal(await codeOf(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "x") { id } }`, { id: callId }, ids.merchantKey), 'FORBIDDEN');
      assert.equal(await codeOf(`mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: callToken }), 'CONFLICT');
      assert.equal(
        await codeOf(`mutation($i: DownloadInput!) { recordDownload(input: $i) { callId } }`, { i: { merchantId: ids.merchant, linkId: 'l_unknown', pageUrl: 'https://shop.example/' } }),
        'NOT_FOUND',
      );
      assert.equal(
        await codeOf(`mutation($i: DownloadInput!) { recordDownload(input: $i) { callId } }`, { i: { merchantId: ids.merchant, linkId: ids.link, pageUrl: 'https://evil.example/' } }),
        'FORBIDDEN',
      );
      const afterCount = (await gql(server.url, `query($id: ID!) { callTimeline(callId: $id) { eventId } }`, { id: callId }, ids.merchantKey)).callTimeline.length;
      assert.equal(afterCount, before);
    });

    const readBack = async () => {
      const q = `query($id: ID!, $m: ID!, $from: DateTime!, $to: DateTime!) {
        call(id: $id) { id state terminationCause terminatedBy talkSeconds dtmf { digits } charge { amountMinor currency billableSeconds sourcePage } context { customerId pageUrl ani } }
        callTimeline(callId: $id) { type position }
        billingSummary(merchantId: $m, from: $from, to: $to, groupBy: SOURCE_PAGE) { currency calls amountMinor billableSeconds lines { key calls amountMinor } }
      }`;
      const v = { id: callId, m: ids.merchant, from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };
      return eventually(async () => {
        const r = await gql(server.url, q, v, ids.merchantKey);
        return r.call?.charge && r.billingSummary.amountMinor > 0 ? r : null;
      }, 10_000, 'projections to show the charged call');
    };

    const expectRead = (r: Record<string, any>) => {
      assert.equal(r.call.state, 'TERMINATED');
      assert.equal(r.call.terminationCause, 'HANGUP');
      assert.deepEqual(r.call.dtmf, [{ digits: '5' }]);
      // 30/6 increments: any talk up to 30 s bills 30 s; 10 connection + ceil(30 × 6 / 60) = 13.
      assert.deepEqual(r.call.charge, { amountMinor: 13, currency: 'EUR', billableSeconds: 30, sourcePage: 'https://shop.example/p/42' });
      assert.equal(r.call.context.customerId, 'cust-7');
      assert.deepEqual(r.callTimeline.map((e: { type: string }) => e.type), ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'CallTerminated']);
      assert.equal(r.billingSummary.amountMinor, 13);
      assert.equal(r.billingSummary.currency, 'EUR');
      assert.deepEqual(r.billingSummary.lines, [{ key: 'https://shop.example/p/42', calls: 1, amountMinor: 13 }]);
    };

    test('the call, its timeline and its exact charge are readable; other merchants see nothing', async () => {
      expectRead(await readBack());
      const foreign = await gql(server.url, `query($id: ID!) { call(id: $id) { id } callTimeline(callId: $id) { type } }`, { id: callId }, ids.otherKey);
      assert.equal(foreign.call, null);
      assert.deepEqual(foreign.callTimeline, []);
      assert.equal(await codeOf(`query($m: ID!) { billingSummary(merchantId: $m, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { amountMinor } }`, { m: ids.merchant }, ids.otherKey), 'FORBIDDEN');
      const { calls } = await gql(server.url, `{ calls(first: 10) { edges { node { id } } } }`, {}, ids.otherKey);
      assert.equal(calls.edges.length, 0);
    });

    test('after a restart on the same data directory nothing is lost', async () => {
      await server.stop();
      server = await startServer({ WEBDIAL_MEDIA: 'external', ...storeEnv }, server.dataDir);
      expectRead(await readBack());
      // The port was released: a new call can seize it again.
      const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callToken } }`, {
        i: { merchantId: ids.merchant, linkId: ids.link, pageUrl: 'https://shop.example/p/1' },
      });
      const { initiateCall } = await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: recordDownload.callToken });
      assert.equal(initiateCall.state, 'INITIATED');
    });
  });
};

walkingSkeleton({ label: 'embedded', start: async () => ({}), stop: async () => undefined });

/*
 * The same call with the server on WEBDIAL_EVENT_STORE=kurrentdb: against the wire-level KurrentDB double
 * (test/support/kurrentdb-double.ts), which outlives the restart, or against the real server at
 * KURRENTDB_URL when one is set. Read models stay in the data directory's SQLite.
 */
let kurrent: KurrentDbDouble | null = null;
walkingSkeleton({
  label: process.env.KURRENTDB_URL ? 'KurrentDB at KURRENTDB_URL' : 'KurrentDB double',
  start: async () => {
    if (!process.env.KURRENTDB_URL) kurrent = await KurrentDbDouble.start();
    return { WEBDIAL_EVENT_STORE: 'kurrentdb', KURRENTDB_URL: process.env.KURRENTDB_URL ?? kurrent!.url };
  },
  stop: async () => {
    if (kurrent) {
      // The server really stored and read its events there, over the wire, through both client halves.
      assert.ok((kurrent.calls.get('/event_store.client.streams.Streams/BatchAppend') ?? 0) > 0, 'the server appended to the double');
      assert.ok((kurrent.calls.get('/event_store.client.streams.Streams/Read') ?? 0) > 0, 'the server read from the double');
      await kurrent.stop();
    }
    kurrent = null;
  },
});
