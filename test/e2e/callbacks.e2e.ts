import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, collect, eventually, startServer, wsClient, type ServerProcess } from '../support/server';
import { setupGateway, setupMerchant, type TestMerchant } from '../support/merchant';

/**
 * Issue 25, must-have 2 (booking) through the real server over HTTP: the widget's requestCallback with
 * its call token, each refusal of the "Bad input" with its stable reason and nothing booked,
 * the hourly limits per number and per client, the merchant's prefixes and list, and cancels.
 * Bookings for tomorrow (AT): the scheduler leaves them alone, so the test sees them PENDING.
 */
const REQUEST = `mutation($t: String!, $w: CallbackWhenInput!, $p: String, $b: Boolean) {
  requestCallback(callToken: $t, when: $w, phoneNumber: $p, toBrowser: $b) { id state targetKind number when { kind at } dueAt attempts maxAttempts callCenterId }
}`;
const LIST = `query($m: ID!, $s: CallbackStatus, $f: Int, $a: String) { callbacks(merchantId: $m, status: $s, first: $f, after: $a) { items { id state number originCallId } endCursor } }`;

type Ext = { code?: string; reason?: string; retryAfterSeconds?: number; scope?: string };

/** A merchant whose one center is a BROWSER center (it calls back) of `capacity`, with a callback rate of 12/min (base 6) and an AGENT key. */
const callbackDesk = async (server: ServerProcess, name: string, capacity: number) => {
  const m = await setupMerchant(server.url, name, capacity);
  await gql(server.url, `mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { id } }`, { c: m.centerId }, ADMIN_KEY);
  await gql(
    server.url,
    `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 10, ratePerMinuteMinor: 6, callbackRatePerMinuteMinor: 12, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`,
    { m: m.merchantId },
    ADMIN_KEY,
  );
  const agentKey = (await gql(server.url, `mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: m.merchantId, c: m.centerId }, ADMIN_KEY)).createApiKey.key as string;
  return { m, agentKey };
};

describe('callbacks: booking over GraphQL (issue 25)', () => {
  let server: ServerProcess;
  let m: TestMerchant;
  let other: TestMerchant;
  let token = '';
  let originCallId = '';
  let closedToken = '';
  const tomorrow = () => ({ kind: 'AT', at: new Date(Date.now() + 86_400_000).toISOString() });
  // The widget's operations share a budget of 2 a second per client address: pace them.
  const widget = async (q: string, v: Record<string, unknown>) => {
    await sleep(550);
    return gqlRaw(server.url, q, v);
  };
  const refusal = async (v: Record<string, unknown>): Promise<Ext> => {
    const r = await widget(REQUEST, v);
    assert.ok(r.errors?.length, `refused: ${JSON.stringify(r.data)}`);
    return (r.errors![0].extensions ?? {}) as Ext;
  };
  const listed = async (key = m.merchantKey) => (await gql(server.url, LIST, { m: m.merchantId, f: 100 }, key)).callbacks.items as Array<{ id: string; state: string; number: string; originCallId: string }>;
  const book = async (number: string) => {
    const r = await widget(REQUEST, { t: token, w: tomorrow(), p: number });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const id = (r.data as { requestCallback: { id: string } }).requestCallback.id;
    // The hourly limit counts the read model's bookings: wait for this one to be there.
    await eventually(async () => (await listed()).some((c) => c.id === id), 10_000, `callback ${id} listed`);
    return (r.data as { requestCallback: Record<string, unknown> }).requestCallback;
  };

  before(async () => {
    server = await startServer({ WEBDIAL_MEDIA: 'simulator' });
    m = await setupMerchant(server.url, 'Callback shop');
    // A browser center (PSTN centers call back too: the last describe).
    await gql(server.url, `mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { id } }`, { c: m.centerId }, ADMIN_KEY);
    other = await setupMerchant(server.url, 'Other shop');
    const download = async (linkId: string) =>
      (await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: m.merchantId, linkId, pageUrl: 'https://shop.example/p/lamp', context: { cart: ['sku-1'] } } }))
        .recordDownload as { callId: string; callToken: string };
    const d = await download(m.linkId);
    token = d.callToken;
    originCallId = d.callId;
    // A center that is never open, on a link of its own.
    const { addCallCenter } = await gql(
      server.url,
      `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "Closed", phoneNumber: "+12125550111", timeZone: "UTC", capacity: 1, region: "us-east", weeklyHours: [], kind: BROWSER }) { id } }`,
      { m: m.merchantId },
      ADMIN_KEY,
    );
    const { createLink } = await gql(server.url, `mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Closed", callCenterIds: [$c] }) { id } }`, { m: m.merchantId, c: addCallCenter.id }, ADMIN_KEY);
    closedToken = (await download(createLink.id)).callToken;
  });
  after(async () => {
    await server?.stop();
  });

  test('bad input: each refusal has its reason, and nothing is booked', async () => {
    const cases: Array<[string, Record<string, unknown>, string, string]> = [
      ['not E.164', { t: token, w: { kind: 'NOW' }, p: '0612345678' }, 'BAD_USER_INPUT', 'CALLBACK_NUMBER_INVALID'],
      ['too long', { t: token, w: { kind: 'NOW' }, p: `+1${'2'.repeat(40)}` }, 'BAD_USER_INPUT', 'CALLBACK_NUMBER_INVALID'],
      ['premium-rate', { t: token, w: { kind: 'NOW' }, p: '+19005550100' }, 'BAD_USER_INPUT', 'CALLBACK_PREMIUM_RATE'],
      // Unset prefixes: the calling codes of the merchant's centers' numbers (+1 here).
      ['a country the merchant does not call back', { t: token, w: { kind: 'NOW' }, p: '+33612345678' }, 'BAD_USER_INPUT', 'CALLBACK_COUNTRY_NOT_ALLOWED'],
      ['a closed center, NOW', { t: closedToken, w: { kind: 'NOW' }, p: '+12125550123' }, 'BAD_USER_INPUT', 'CALLBACK_OUTSIDE_HOURS'],
      ['a closed center, AT', { t: closedToken, w: tomorrow(), p: '+12125550123' }, 'BAD_USER_INPUT', 'CALLBACK_OUTSIDE_HOURS'],
      ['AT in the past', { t: token, w: { kind: 'AT', at: new Date(Date.now() - 60_000).toISOString() }, p: '+12125550123' }, 'BAD_USER_INPUT', 'CALLBACK_TIME_INVALID'],
      ['AT beyond 7 days', { t: token, w: { kind: 'AT', at: new Date(Date.now() + 8 * 86_400_000).toISOString() }, p: '+12125550123' }, 'BAD_USER_INPUT', 'CALLBACK_TIME_INVALID'],
    ];
    for (const [what, v, code, reason] of cases) {
      const ext = await refusal(v);
      assert.deepEqual([ext.code, ext.reason], [code, reason], what);
    }
    assert.equal((await refusal({ t: token, w: { kind: 'NOW' } })).code, 'BAD_USER_INPUT', 'neither a number nor the browser');
    assert.equal((await refusal({ t: token, w: { kind: 'NOW' }, p: '+12125550123', b: true })).code, 'BAD_USER_INPUT', 'both a number and the browser');
    assert.equal((await refusal({ t: 'not-a-token', w: { kind: 'NOW' }, p: '+12125550123' })).code, 'UNAUTHENTICATED', 'a forged call token');
    // The merchant narrows its prefixes: +1 212 numbers are refused then; bad lists are refused whole.
    const set = async (prefixes: unknown, key = m.merchantKey) => gqlRaw(server.url, `mutation($m: ID!, $p: [String!]) { setCallbackPrefixes(merchantId: $m, prefixes: $p) { callbackPrefixes } }`, { m: m.merchantId, p: prefixes }, key);
    for (const bad of [['33'], ['+0'], ['+1234567'], Array.from({ length: 51 }, (_, i) => `+${i + 10}`)]) {
      const r = await set(bad);
      assert.equal((r.errors?.[0]?.extensions as Ext).reason, 'CALLBACK_PREFIXES_INVALID', JSON.stringify(bad));
    }
    assert.equal((await set(['+1'], other.merchantKey)).errors?.[0]?.extensions?.code, 'FORBIDDEN', "another merchant's key");
    assert.deepEqual((await set(['+1416'])).data, { setCallbackPrefixes: { callbackPrefixes: ['+1416'] } });
    assert.equal((await refusal({ t: token, w: tomorrow(), p: '+12125550123' })).reason, 'CALLBACK_COUNTRY_NOT_ALLOWED', 'outside +1416');
    assert.deepEqual((await set(null)).data, { setCallbackPrefixes: { callbackPrefixes: null } });
    const merchant = await eventually(async () => {
      const r = await gql(server.url, `query($id: ID!) { merchant(id: $id) { callbackPrefixes effectiveCallbackPrefixes } }`, { id: m.merchantId }, m.merchantKey);
      return r.merchant.callbackPrefixes === null ? r.merchant : null;
    });
    assert.deepEqual(merchant.effectiveCallbackPrefixes, ['+1']);
    await sleep(500);
    assert.deepEqual(await listed(), [], 'nothing booked');
  });

  test('bookings: the answer masks the number; 3 per number and 5 per client an hour; the list and cancels', async () => {
    const first = await book('+12125550101');
    assert.equal(first.state, 'PENDING');
    assert.equal(first.number, '+*******0101', 'masked but for the last 4 digits');
    assert.deepEqual([first.targetKind, first.attempts, first.maxAttempts, (first.when as { kind: string }).kind], ['PHONE', 0, 3, 'AT']);
    await book('+12125550101');
    await book('+12125550101');
    const perNumber = await refusal({ t: token, w: tomorrow(), p: '+12125550101' });
    assert.deepEqual([perNumber.code, perNumber.reason, perNumber.scope], ['RATE_LIMITED', 'CALLBACK_RATE_LIMITED', 'NUMBER']);
    assert.ok(perNumber.retryAfterSeconds! > 3000 && perNumber.retryAfterSeconds! <= 3600, `retryAfterSeconds ${perNumber.retryAfterSeconds}`);
    await book('+12125550102');
    await book('+12125550103');
    const perClient = await refusal({ t: token, w: tomorrow(), p: '+12125550104' });
    assert.deepEqual([perClient.code, perClient.reason, perClient.scope], ['RATE_LIMITED', 'CALLBACK_RATE_LIMITED', 'ADDRESS']);
    assert.ok(perClient.retryAfterSeconds! > 0);

    // The merchant's list: its 5, in full, newest first; another merchant sees none of them.
    const all = await listed();
    assert.equal(all.length, 5);
    assert.deepEqual(new Set(all.map((c) => c.number)), new Set(['+12125550101', '+12125550102', '+12125550103']));
    assert.ok(all.every((c) => c.originCallId === originCallId && c.state === 'PENDING'));
    const page = (await gql(server.url, LIST, { m: m.merchantId, f: 2 }, m.merchantKey)).callbacks;
    const next = (await gql(server.url, LIST, { m: m.merchantId, f: 10, a: page.endCursor }, m.merchantKey)).callbacks;
    assert.deepEqual([...page.items, ...next.items].map((c: { id: string }) => c.id), all.map((c) => c.id), 'pages in order');
    assert.equal((await gqlRaw(server.url, LIST, { m: m.merchantId }, other.merchantKey)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    assert.deepEqual((await gql(server.url, LIST, { m: other.merchantId }, other.merchantKey)).callbacks.items, []);

    // Cancels: the shopper (its click's token), the merchant; another merchant cannot.
    const cancel = await widget(`mutation($t: String!, $c: ID!) { cancelCallback(callToken: $t, callbackId: $c) { state lastOutcome number } }`, { t: token, c: all[0].id });
    assert.deepEqual(cancel.data, { cancelCallback: { state: 'CANCELLED', lastOutcome: 'CANCELLED_BY_SHOPPER', number: `+*******${all[0].number.slice(-4)}` } });
    const byMerchant = `mutation($m: ID!, $c: ID!) { cancelMerchantCallback(merchantId: $m, callbackId: $c) { state lastOutcome } }`;
    assert.equal((await gqlRaw(server.url, byMerchant, { m: other.merchantId, c: all[1].id }, other.merchantKey)).errors?.[0]?.extensions?.code, 'NOT_FOUND', "another merchant's callback");
    assert.deepEqual((await gql(server.url, byMerchant, { m: m.merchantId, c: all[1].id }, m.merchantKey)).cancelMerchantCallback, { state: 'CANCELLED', lastOutcome: 'CANCELLED_BY_MERCHANT' });
    const cancelled = await eventually(async () => {
      const r = (await gql(server.url, LIST, { m: m.merchantId, s: 'CANCELLED' }, m.merchantKey)).callbacks.items;
      return r.length === 2 ? r : null;
    });
    assert.deepEqual(new Set(cancelled.map((c: { id: string }) => c.id)), new Set([all[0].id, all[1].id]));
  });
});

/**
 * Issue 25, must-have 2 (the placed call) with the simulator as the shopper's phone: the scheduler
 * places a due callback as a CALLBACK call that rings in the browser center's consoles with the
 * origin click's screen pop; the agent answers; the shopper's number is dialled (the simulator rings,
 * then answers): the callback is DONE; the agent hangs up; the call is rated as CALLBACK at the plan's
 * callback rate, credited to the origin's page. A second callback that no agent answers within the
 * ringing timeout fails its try with NO_AGENT, and its next try is due 5 minutes later (not before).
 */
describe('callbacks: the scheduler places the call (issue 25, simulator)', () => {
  let server: ServerProcess;
  let m: TestMerchant;
  let agentKey = '';
  const as = (key: string) => (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, key);
  const one = async (id: string) =>
    ((await as(m.merchantKey)(`query($m: ID!) { callbacks(merchantId: $m, first: 100) { items { id state attempts callId lastOutcome nextAttemptAt updatedAt } } }`, { m: m.merchantId })).callbacks.items as Array<Record<string, string | number | null>>).find(
      (c) => c.id === id,
    );
  const book = async (number: string) => {
    const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
      i: { merchantId: m.merchantId, linkId: m.linkId, customerId: 'cust-7', pageUrl: 'https://shop.example/p/lamp', context: { cart: ['sku-9'] } },
    });
    const r = await gql(server.url, REQUEST, { t: recordDownload.callToken, w: { kind: 'NOW' }, p: number });
    return { bookedAt: Date.now(), originCallId: recordDownload.callId as string, callbackId: r.requestCallback.id as string };
  };

  before(async () => {
    server = await startServer({ WEBDIAL_MEDIA: 'simulator', WEBDIAL_SIM_RING_MS: '100', WEBDIAL_SIM_ANSWER_MS: '300', WEBDIAL_SIM_TALK_MS: '600000', WEBDIAL_ANI_QUARANTINE: '0', WEBDIAL_RINGING_TIMEOUT: '3' });
    ({ m, agentKey } = await callbackDesk(server, 'Callback shop', 1));
    await setupGateway(server.url, 2);
  });
  after(async () => {
    await server?.stop();
  });

  test('placed when due, rings in the console with the origin click, the agent answers, the shopper is dialled and answers: DONE, rated as CALLBACK', async () => {
    const { bookedAt, originCallId, callbackId } = await book('+12125550123');
    const trying = await eventually(async () => {
      const c = await one(callbackId);
      return c?.state === 'ATTEMPTING' ? c : null;
    }, 10_000, 'the try placed');
    const callId = String(trying.callId);
    const ringing = await eventually(async () => {
      const call = (await as(agentKey)(`query($id: ID!) { call(id: $id) { state direction media destination context { pageUrl context customerId } } }`, { id: callId })).call;
      return call?.state === 'RINGING' ? call : null;
    }, 10_000, 'the call ringing in the console');
    console.log(`# measured: booking (NOW) → the try's call RINGING in the console, seen by polling: ${Date.now() - bookedAt} ms`);
    assert.deepEqual(
      { ...ringing, context: { ...ringing.context } },
      { state: 'RINGING', direction: 'CALLBACK', media: 'BROWSER', destination: '+12125550123', context: { pageUrl: 'https://shop.example/p/lamp', context: { cart: ['sku-9'] }, customerId: 'cust-7' } },
      "the screen pop is the origin click's",
    );
    assert.equal(trying.attempts, 1);

    const answeredAt = Date.now();
    assert.equal((await as(agentKey)(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: callId })).answerCall.state, 'ANSWERED');
    const done = await eventually(async () => {
      const c = await one(callbackId);
      return c?.state === 'DONE' ? c : null;
    }, 10_000, 'the callback DONE');
    console.log(`# measured: agent answered → shopper's phone answered (simulator: 100 + 300 ms) → callback DONE on the read side: ${Date.now() - answeredAt} ms`);
    assert.deepEqual([done.attempts, done.lastOutcome, done.nextAttemptAt], [1, 'ANSWERED', null]);

    await sleep(1100);
    assert.equal((await as(agentKey)(`mutation($id: ID!) { agentHangUp(callId: $id) { state } }`, { id: callId })).agentHangUp.state, 'TERMINATED');
    const charge = await eventually(async () => (await as(m.merchantKey)(`query($id: ID!) { call(id: $id) { charge { amountMinor billableSeconds sourcePage direction } } }`, { id: callId })).call?.charge, 10_000, 'the charge');
    assert.equal(charge.direction, 'CALLBACK');
    assert.equal(charge.sourcePage, 'https://shop.example/p/lamp', "credited to the origin click's page");
    assert.ok(charge.billableSeconds >= 1);
    assert.equal(charge.amountMinor, 10 + Math.ceil((charge.billableSeconds * 12) / 60), 'at the callback rate (12), not the base rate (6)');
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const summary = (await as(m.merchantKey)(`query($m: ID!, $f: DateTime!, $t: DateTime!) { billingSummary(merchantId: $m, from: $f, to: $t, groupBy: DIRECTION) { lines { key calls amountMinor } } }`, { m: m.merchantId, f: from, t: to })).billingSummary;
    assert.deepEqual(summary.lines, [{ key: 'CALLBACK', calls: 1, amountMinor: charge.amountMinor }]);
    // The origin click's followers see the callback's events (callEvents, webhooks: src/domain/call-feed.ts) by its id.
    assert.ok(originCallId);
  });

  test('no agent answers within the ringing timeout: the try fails NO_AGENT, the next is due 5 minutes later and not tried before', async () => {
    const { callbackId } = await book('+12125550124');
    const failed = await eventually(async () => {
      const c = await one(callbackId);
      return c?.lastOutcome === 'NO_AGENT' ? c : null;
    }, 20_000, 'the try failed NO_AGENT');
    assert.deepEqual([failed.state, failed.attempts], ['PENDING', 1]);
    const spacing = Date.parse(String(failed.nextAttemptAt)) - Date.parse(String(failed.updatedAt));
    assert.equal(spacing, 300_000, 'the next try 5 minutes after the failure');
    await sleep(2500);
    assert.equal((await one(callbackId))?.attempts, 1, 'no early retry');
  });
});

describe('callbacks: a wait that runs out at a browser center is offered a callback (issue 25)', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ WEBDIAL_MEDIA: 'simulator' });
  });
  after(async () => {
    await server?.stop();
  });

  test('the queue times the wait out with CALLBACK_OFFER, the call ends NO_ROUTE, and its token books the callback', async () => {
    const m = await setupMerchant(server.url, 'Busy desk', 1);
    await gql(server.url, `mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { id } }`, { c: m.centerId }, ADMIN_KEY);
    await gql(server.url, `mutation($m: ID!, $l: ID!) { setLinkQueuePolicy(merchantId: $m, linkId: $l, maxWaitSeconds: 1, maxLength: 5) { id } }`, { m: m.merchantId, l: m.linkId }, m.merchantKey);
    const click = async () => {
      const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: m.merchantId, linkId: m.linkId, pageUrl: 'https://shop.example/p/lamp' } });
      const { initiateCall } = await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { state queue { position } } }`, { t: recordDownload.callToken });
      return { ...(recordDownload as { callId: string; callToken: string }), initiated: initiateCall as { state: string; queue: { position: number } | null } };
    };
    // The first click rings in the consoles (nobody answers): the center's one slot is taken.
    assert.equal((await click()).initiated.state, 'RINGING');
    const late = await click();
    assert.equal(late.initiated.queue?.position, 1, 'the second click waits');
    const timeline = await eventually(async () => {
      const { callTimeline } = await gql(server.url, `query($c: ID!) { callTimeline(callId: $c) { type data } }`, { c: late.callId }, m.merchantKey);
      const rows = callTimeline as Array<{ type: string; data: { fallThrough?: { kind: string }; cause?: string; by?: string } }>;
      return rows.some((r) => r.type === 'CallTerminated') ? rows : null;
    }, 15_000, 'the wait timed out and the call ended');
    assert.deepEqual(timeline.find((r) => r.type === 'QueueWaitTimedOut')?.data.fallThrough, { kind: 'CALLBACK_OFFER' });
    const ended = timeline.find((r) => r.type === 'CallTerminated')!.data;
    assert.deepEqual([ended.cause, ended.by], ['NO_ROUTE', 'SYSTEM']);
    // The shopper takes the offer with the ended call's token (what the widget keeps): booked from that click.
    const r = await gqlRaw(server.url, REQUEST, { t: late.callToken, w: { kind: 'AGENT_FREE' }, p: '+12125550199' });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const booked = (r.data as { requestCallback: { state: string; callCenterId: string } }).requestCallback;
    assert.deepEqual([booked.state, booked.callCenterId], ['PENDING', m.centerId]);
    const { callbacks } = await gql(server.url, LIST, { m: m.merchantId, f: 10 }, m.merchantKey);
    assert.deepEqual((callbacks.items as Array<{ originCallId: string }>).map((c) => c.originCallId), [late.callId]);
  });
});

/**
 * Issue 25, must-have 2 from a PSTN center, with the simulator as both phones. Agent first: the
 * scheduler places the try (CallbackCallPlaced, media PSTN: no console rings) and dials the center's
 * number as the call's own leg (its ringing and answer are the simulator's reports under the call's
 * id); on the agent's answer it dials the shopper as the call's second leg (`<callId>.shopper`), whose
 * answer makes the callback DONE. The simulator's outcomes are seeded (seed 26, busy rate 0.5: the
 * draws are ANSWER, ANSWER, ANSWER, BUSY — the center and the shopper of the first try, then of the
 * second), so the second callback's shopper is busy: its try fails BUSY and the next is due 5 minutes later.
 */
describe('callbacks from a PSTN center: the center dialled, then the shopper as a second leg (issue 25, simulator)', () => {
  let server: ServerProcess;
  let m: TestMerchant;
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, m.merchantKey);
  const one = async (id: string) =>
    ((await admin(`query($m: ID!) { callbacks(merchantId: $m, first: 100) { items { id state attempts callId lastOutcome nextAttemptAt updatedAt } } }`, { m: m.merchantId })).callbacks.items as Array<Record<string, string | number | null>>).find((c) => c.id === id);
  const until = (id: string, what: string, ok: (c: Record<string, string | number | null>) => boolean) =>
    eventually(async () => {
      const c = await one(id);
      return c && ok(c) ? c : null;
    }, 15_000, what);
  const timeline = async (callId: string) =>
    (await admin(`query($c: ID!) { callTimeline(callId: $c) { type data } }`, { c: callId })).callTimeline as Array<{ type: string; data: Record<string, unknown> }>;
  const book = async (number: string) => {
    const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
      i: { merchantId: m.merchantId, linkId: m.linkId, customerId: 'cust-8', pageUrl: 'https://shop.example/p/chair', context: { cart: ['sku-4'] } },
    });
    const r = await gqlRaw(server.url, REQUEST, { t: recordDownload.callToken, w: { kind: 'NOW' }, p: number });
    assert.equal(r.errors, undefined, `a PSTN center's callback is booked: ${JSON.stringify(r.errors)}`);
    return (r.data as { requestCallback: { id: string } }).requestCallback.id;
  };

  before(async () => {
    server = await startServer({
      WEBDIAL_MEDIA: 'simulator',
      WEBDIAL_SIM_SEED: '26',
      WEBDIAL_SIM_BUSY_RATE: '0.5',
      WEBDIAL_SIM_RING_MS: '100',
      WEBDIAL_SIM_ANSWER_MS: '300',
      WEBDIAL_SIM_TALK_MS: '2500',
      WEBDIAL_ANI_QUARANTINE: '0',
      WEBDIAL_RINGING_TIMEOUT: '10',
    });
    // setupMerchant's center is a PSTN center (+12125550100).
    m = await setupMerchant(server.url, 'Phone desk', 1);
    await setupGateway(server.url, 2);
    await gql(
      server.url,
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 10, ratePerMinuteMinor: 6, callbackRatePerMinuteMinor: 12, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`,
      { m: m.merchantId },
      ADMIN_KEY,
    );
  });
  after(async () => {
    await server?.stop();
  });

  test("booked and placed; the center's number dialled and answered; the shopper dialled as a second leg and answering: DONE; the CRM finds the try by caller ID; rated as CALLBACK", async () => {
    const callbackId = await book('+12125550131');
    const trying = await until(callbackId, 'the try placed', (c) => c.state === 'ATTEMPTING');
    const callId = String(trying.callId);
    const done = await until(callbackId, 'the callback DONE', (c) => c.state === 'DONE');
    assert.deepEqual([done.attempts, done.lastOutcome], [1, 'ANSWERED']);
    const events = await timeline(callId);
    const placed = events.find((e) => e.type === 'CallbackCallPlaced')!;
    assert.equal(placed.data.media, 'PSTN', "a PSTN center's try");
    // No ringing in the consoles at placement: the first CallRinging is the center's gateway's (the simulator, under the call's own id).
    const ringing = events.filter((e) => e.type === 'CallRinging');
    assert.deepEqual(ringing.map((e) => e.data.gatewayEventId), [`sim:${callId}:ringing`], "the center's leg rang, and only it");
    const answered = events.filter((e) => e.type === 'CallAnswered');
    assert.deepEqual(answered.map((e) => [e.data.gatewayEventId, e.data.answeredBy]), [[`sim:${callId}:answered`, null]], "the call's answer is the center's agent's, on the phone");
    // The center's CRM looks the call up by the caller ID it sees (the seized port's): the origin click's context.
    const ani = String(placed.data.ani);
    const ctx = (await admin(`query($a: String!) { callContextByAni(ani: $a) { callId direction media pageUrl customerId context } }`, { a: ani })).callContextByAni;
    assert.deepEqual({ ...ctx }, { callId, direction: 'CALLBACK', media: 'PSTN', pageUrl: 'https://shop.example/p/chair', customerId: 'cust-8', context: { cart: ['sku-4'] } }, 'a phone call: no console offers to answer it');
    assert.equal((await admin(`query($id: ID!) { call(id: $id) { media } }`, { id: callId })).call.media, 'PSTN');

    // The center's simulated agent hangs up after its talk time: the call ends by the CALLEE and is rated.
    const ended = await eventually(async () => (await timeline(callId)).find((e) => e.type === 'CallTerminated'), 10_000, 'the call ended');
    assert.deepEqual([ended.data.cause, ended.data.by], ['HANGUP', 'CALLEE'], "the center's hang-up");
    const charge = await eventually(async () => (await admin(`query($id: ID!) { call(id: $id) { charge { amountMinor billableSeconds sourcePage direction } } }`, { id: callId })).call?.charge, 10_000, 'the charge');
    assert.deepEqual([charge.direction, charge.sourcePage], ['CALLBACK', 'https://shop.example/p/chair']);
    // From the center's answer (at 400 ms) to its hang-up (at 2900 ms): 2.5 s and the reports' latency, rounded up to the second.
    assert.ok(charge.billableSeconds >= 3 && charge.billableSeconds <= 4, `billed ${charge.billableSeconds} s from the center's answer`);
    assert.equal(charge.amountMinor, 10 + Math.ceil((charge.billableSeconds * 12) / 60), 'at the callback rate');
  });

  test("the shopper's phone busy: the call ends BUSY by the CALLER, the center is hung up, the try fails BUSY and the next is due 5 minutes later", async () => {
    const callbackId = await book('+12125550132');
    const failed = await until(callbackId, 'the try failed', (c) => c.lastOutcome !== null);
    assert.deepEqual([failed.state, failed.attempts, failed.lastOutcome], ['PENDING', 1, 'BUSY']);
    assert.equal(Date.parse(String(failed.nextAttemptAt)) - Date.parse(String(failed.updatedAt)), 300_000, 'the next try 5 minutes after the failure');
    const events = await timeline(String(failed.callId));
    assert.ok(events.some((e) => e.type === 'CallAnswered'), 'the center answered first');
    const ended = events.find((e) => e.type === 'CallTerminated')!;
    assert.deepEqual([ended.data.cause, ended.data.by, ended.data.sipStatus], ['BUSY', 'CALLER', 486]);
    // The center answered: the call is rated from its answer, though the shopper never answered (docs: billing).
    const charge = await eventually(async () => (await admin(`query($id: ID!) { call(id: $id) { charge { direction billableSeconds } } }`, { id: failed.callId })).call?.charge, 10_000, 'the charge');
    assert.equal(charge.direction, 'CALLBACK');
    await sleep(2500);
    assert.equal((await one(callbackId))?.attempts, 1, 'no early retry');
  });
});

/**
 * Issue 25, must-have 2, "or to this browser if the shopper keeps the page open" (simulator media,
 * graphql-ws): booked with toBrowser, the try rings in the console, the agent answers, the click's
 * customerSession gets a CALLBACK push with ringing: true, and answerCallback (the click's token)
 * returns the try's call, a token for it and its media join, and makes the callback DONE. A try the
 * browser does not answer ends NO_ANSWER after the ringing timeout (6 s here) with the next due 5
 * minutes later; a declined one likewise. Refusals (another click's token, not ringing, a long id)
 * change nothing.
 */
describe('callbacks: to the shopper\'s browser (issue 25, simulator)', () => {
  let server: ServerProcess;
  let m: TestMerchant;
  let agentKey = '';
  const as = (key: string) => (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, key);
  const one = async (id: string) =>
    ((await as(m.merchantKey)(`query($m: ID!) { callbacks(merchantId: $m, first: 100) { items { id state attempts callId lastOutcome nextAttemptAt updatedAt targetKind number } } }`, { m: m.merchantId })).callbacks.items as Array<Record<string, string | number | null>>).find(
      (c) => c.id === id,
    );
  const widget = async (q: string, v: Record<string, unknown>) => {
    await sleep(550); // the widget's budget per client address
    return gqlRaw(server.url, q, v);
  };
  const ANSWER = `mutation($t: String!, $c: ID!) { answerCallback(callToken: $t, callbackId: $c) { callback { id state lastOutcome } callId callToken media { provider url room token } } }`;
  const DECLINE = `mutation($t: String!, $c: ID!) { declineCallback(callToken: $t, callbackId: $c) { id state lastOutcome attempts } }`;
  const PUSHES = `subscription($t: String!) { customerSession(callToken: $t) { kind state callbackId callbackState ringing ringsUntil at } }`;
  type Push = { kind: string; callbackId: string | null; callbackState: string | null; ringing: boolean | null; ringsUntil: string | null; at: string };
  const click = async () =>
    (await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: m.merchantId, linkId: m.linkId, customerId: 'cust-b', pageUrl: 'https://shop.example/p/chair' } }))
      .recordDownload as { callId: string; callToken: string };
  /** A click books a callback to its browser, its page subscribed; the try placed and ringing in the console. */
  const bookToBrowser = async () => {
    const origin = await click();
    const ws = wsClient(server.wsUrl);
    const rings = collect<Push>(ws, PUSHES, { t: origin.callToken }, (items) => items.some((p) => p.kind === 'CALLBACK' && p.ringing === true), 30_000).done;
    await sleep(300); // subscribed before the try can ring
    const r = await widget(REQUEST, { t: origin.callToken, w: { kind: 'NOW' }, b: true });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const booked = (r.data as { requestCallback: { id: string; targetKind: string; number: string | null; state: string } }).requestCallback;
    assert.deepEqual([booked.targetKind, booked.number, booked.state], ['BROWSER', null, 'PENDING']);
    const trying = await eventually(async () => {
      const c = await one(booked.id);
      return c?.state === 'ATTEMPTING' ? c : null;
    }, 10_000, 'the try placed');
    const callId = String(trying.callId);
    const call = await eventually(async () => {
      const c = (await as(agentKey)(`query($id: ID!) { call(id: $id) { state direction media destination context { pageUrl customerId } } }`, { id: callId })).call;
      return c?.state === 'RINGING' ? c : null;
    }, 10_000, 'the try ringing in the console');
    return { origin, callbackId: booked.id, callId, call, rings, ws };
  };

  before(async () => {
    server = await startServer({ WEBDIAL_MEDIA: 'simulator', WEBDIAL_SIM_TALK_MS: '600000', WEBDIAL_ANI_QUARANTINE: '0', WEBDIAL_RINGING_TIMEOUT: '6' });
    ({ m, agentKey } = await callbackDesk(server, 'Browser callback shop', 3));
  });
  after(async () => {
    await server?.stop();
  });

  test('booked to the browser, the agent answers, the page is told it rings, answerCallback joins the try: DONE, rated CALLBACK', async () => {
    const { origin, callbackId, callId, call, rings, ws } = await bookToBrowser();
    assert.deepEqual(
      { ...call, context: { ...call.context } },
      { state: 'RINGING', direction: 'CALLBACK', media: 'BROWSER', destination: null, context: { pageUrl: 'https://shop.example/p/chair', customerId: 'cust-b' } },
      "no number; the origin click's screen pop",
    );
    // Not ringing the browser yet (no agent on the line): refused, nothing changes.
    const early = await widget(ANSWER, { t: origin.callToken, c: callbackId });
    assert.deepEqual([early.errors?.[0]?.extensions?.code, (early.errors?.[0]?.extensions as Ext).reason], ['CONFLICT', 'CALLBACK_NOT_RINGING'], 'before the agent answered');
    const answeredAt = Date.now();
    assert.equal((await as(agentKey)(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: callId })).answerCall.state, 'ANSWERED');
    const pushes = await rings;
    void ws.dispose();
    const ring = pushes.find((p) => p.ringing)!;
    console.log(`# measured: agent answered → the CALLBACK ringing push at the page (graphql-ws): ${Date.now() - answeredAt} ms (upper bound)`);
    assert.equal(ring.callbackId, callbackId);
    assert.equal(ring.callbackState, 'ATTEMPTING');
    const ringsFor = Date.parse(ring.ringsUntil!) - Date.parse(ring.at);
    assert.ok(ringsFor >= 5_900 && ringsFor <= 6_100, `rings for the ringing timeout (6 s): ${ringsFor} ms`);
    assert.deepEqual(
      pushes.filter((p) => p.kind === 'CALLBACK').map((p) => [p.callbackState, p.ringing]),
      [
        ['PENDING', false],
        ['ATTEMPTING', false],
        ['ATTEMPTING', true],
      ],
      'the callback as the page sees it',
    );

    // Refusals while it rings: another click's token, an id too long, a forged token; nothing changes.
    const other = await click();
    const stranger = await widget(ANSWER, { t: other.callToken, c: callbackId });
    assert.equal(stranger.errors?.[0]?.extensions?.code, 'NOT_FOUND', "another click's token");
    assert.equal((await widget(DECLINE, { t: other.callToken, c: callbackId })).errors?.[0]?.extensions?.code, 'NOT_FOUND', "another click's token declines nothing");
    assert.equal((await widget(ANSWER, { t: origin.callToken, c: 'x'.repeat(65) })).errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'an id over 64 characters');
    assert.equal((await widget(ANSWER, { t: 'v1.forged.token', c: callbackId })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'a forged token');
    assert.deepEqual([(await one(callbackId))?.state, (await one(callbackId))?.attempts], ['ATTEMPTING', 1], 'nothing changed');

    const r = await widget(ANSWER, { t: origin.callToken, c: callbackId });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const answer = (r.data as { answerCallback: { callback: { id: string; state: string; lastOutcome: string }; callId: string; callToken: string; media: { provider: string } } }).answerCallback;
    assert.deepEqual([answer.callback.state, answer.callback.lastOutcome, answer.callId, answer.media.provider], ['DONE', 'ANSWERED', callId, 'simulator']);
    assert.ok(answer.callToken.startsWith('v1.'), 'a call token for the try');
    const again = await widget(ANSWER, { t: origin.callToken, c: callbackId });
    assert.equal((again.errors?.[0]?.extensions as Ext).reason, 'CALLBACK_NOT_RINGING', 'answered once');
    assert.equal((await one(callbackId))?.state, 'DONE');

    // The try's token acts on the try's call: the shopper hangs up.
    await sleep(1100);
    const hung = await widget(`mutation($t: String!) { hangUp(callToken: $t) { id state terminatedBy } }`, { t: answer.callToken });
    assert.deepEqual(hung.data, { hangUp: { id: callId, state: 'TERMINATED', terminatedBy: 'CALLER' } });
    const charge = await eventually(async () => (await as(m.merchantKey)(`query($id: ID!) { call(id: $id) { charge { amountMinor billableSeconds sourcePage direction } } }`, { id: callId })).call?.charge, 10_000, 'the charge');
    assert.deepEqual([charge.direction, charge.sourcePage], ['CALLBACK', 'https://shop.example/p/chair']);
    assert.equal(charge.amountMinor, 10 + Math.ceil((charge.billableSeconds * 12) / 60), 'at the callback rate (12)');
  });

  test('the page does not answer: the try ends NO_ANSWER after the ringing timeout, the call ends, the next try is due 5 minutes later', async () => {
    const { origin, callbackId, callId, rings, ws } = await bookToBrowser();
    await as(agentKey)(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: callId });
    await rings;
    void ws.dispose();
    const failed = await eventually(async () => {
      const c = await one(callbackId);
      return c?.lastOutcome === 'NO_ANSWER' ? c : null;
    }, 20_000, 'the try failed NO_ANSWER');
    assert.deepEqual([failed.state, failed.attempts], ['PENDING', 1]);
    assert.equal(Date.parse(String(failed.nextAttemptAt)) - Date.parse(String(failed.updatedAt)), 300_000, 'the next try 5 minutes after the failure');
    const ended = (await as(agentKey)(`query($id: ID!) { call(id: $id) { state terminationCause terminatedBy } }`, { id: callId })).call;
    assert.deepEqual(ended, { state: 'TERMINATED', terminationCause: 'NO_ANSWER', terminatedBy: 'SYSTEM' }, "the agent's console sees the call end");
    const late = await widget(ANSWER, { t: origin.callToken, c: callbackId });
    assert.equal((late.errors?.[0]?.extensions as Ext).reason, 'CALLBACK_NOT_RINGING', 'too late');
    await sleep(2000);
    assert.deepEqual([(await one(callbackId))?.attempts, (await one(callbackId))?.state], [1, 'PENDING'], 'no early retry, the refusal changed nothing');
  });

  test("from a PSTN center: the center's number is dialled first; once its agent answers on the phone the page rings; answered: DONE, the page and the center in one call", async () => {
    // setupMerchant's center is a PSTN center; the simulator answers its number (after about 1 s).
    const desk = await setupMerchant(server.url, 'Phone desk calling browsers back', 1);
    await setupGateway(server.url, 2);
    await gql(server.url, `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 10, ratePerMinuteMinor: 6, callbackRatePerMinuteMinor: 12, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m: desk.merchantId }, ADMIN_KEY);
    const mine = async (id: string) =>
      ((await as(desk.merchantKey)(`query($m: ID!) { callbacks(merchantId: $m, first: 10) { items { id state attempts callId lastOutcome targetKind } } }`, { m: desk.merchantId })).callbacks.items as Array<Record<string, string | number | null>>).find((c) => c.id === id);
    const origin = (await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: desk.merchantId, linkId: desk.linkId, customerId: 'cust-p', pageUrl: 'https://shop.example/p/lamp' } }))
      .recordDownload as { callId: string; callToken: string };
    const ws = wsClient(server.wsUrl);
    const rings = collect<Push>(ws, PUSHES, { t: origin.callToken }, (items) => items.some((p) => p.kind === 'CALLBACK' && p.ringing === true), 30_000).done;
    await sleep(300);
    const r = await widget(REQUEST, { t: origin.callToken, w: { kind: 'NOW' }, b: true });
    assert.equal(r.errors, undefined, `a PSTN center calls a browser back: ${JSON.stringify(r.errors)}`);
    const callbackId = (r.data as { requestCallback: { id: string } }).requestCallback.id;
    // No console answers: the center's phone does (the gateway's report), and only then does the page ring.
    await rings;
    void ws.dispose();
    const trying = await mine(callbackId);
    assert.deepEqual([trying?.state, trying?.targetKind], ['ATTEMPTING', 'BROWSER']);
    const callId = String(trying?.callId);
    const call = (await as(desk.merchantKey)(`query($id: ID!) { call(id: $id) { state direction media } }`, { id: callId })).call;
    assert.deepEqual({ ...call }, { state: 'ANSWERED', direction: 'CALLBACK', media: 'PSTN' }, "answered by the center's phone (no console could)");
    const answered = await widget(ANSWER, { t: origin.callToken, c: callbackId });
    assert.equal(answered.errors, undefined, JSON.stringify(answered.errors));
    const answer = (answered.data as { answerCallback: { callback: { state: string }; callId: string; media: { provider: string } } }).answerCallback;
    assert.deepEqual([answer.callback.state, answer.callId, answer.media.provider], ['DONE', callId, 'simulator'], 'the page joins the try the center is on');
    await sleep(1100);
    await widget(`mutation($t: String!) { hangUp(callToken: $t) { id } }`, { t: (answered.data as { answerCallback: { callToken: string } }).answerCallback.callToken });
    const charge = await eventually(async () => (await as(desk.merchantKey)(`query($id: ID!) { call(id: $id) { charge { direction sourcePage } } }`, { id: callId })).call?.charge, 10_000, 'the charge');
    assert.deepEqual({ ...charge }, { direction: 'CALLBACK', sourcePage: 'https://shop.example/p/lamp' });
  });

  test('the shopper declines: the try fails NO_ANSWER at once, its call ends REJECTED by the caller', async () => {
    const { origin, callbackId, callId, rings, ws } = await bookToBrowser();
    await as(agentKey)(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: callId });
    await rings;
    void ws.dispose();
    const r = await widget(DECLINE, { t: origin.callToken, c: callbackId });
    assert.deepEqual(r.data, { declineCallback: { id: callbackId, state: 'PENDING', lastOutcome: 'NO_ANSWER', attempts: 1 } }, JSON.stringify(r.errors));
    const ended = await eventually(async () => {
      const c = (await as(agentKey)(`query($id: ID!) { call(id: $id) { state terminationCause terminatedBy } }`, { id: callId })).call;
      return c?.state === 'TERMINATED' ? c : null;
    });
    assert.deepEqual(ended, { state: 'TERMINATED', terminationCause: 'REJECTED', terminatedBy: 'CALLER' });
  });
});
