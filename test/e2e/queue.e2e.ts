import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, collect, eventually, wsClient, type ServerProcess } from '../support/server';
import { startPair, withPostgresDatabase } from '../support/postgres-db';
import { setupGateway, setupMerchant } from '../support/merchant';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * Issue 25, must-have 1 and its e2e: two `webdial serve` processes on one PostgreSQL database (event
 * store and read models), the in-process bus, the simulator answering every call and talking for ten
 * minutes (the test ends the calls). A center of capacity 1 whose link lets calls wait: 20 shoppers
 * click (spread over both instances), one is served and 19 wait with positions 1…19; the test ends the
 * answered call, and each freed slot serves the head, in join order, each call initiated once. One
 * shopper hangs up while waiting (recorded abandoned, never served); one, on a link that lets calls
 * wait 2 s, times out (QueueWaitTimedOut, the call terminated by SYSTEM with NO_ROUTE). The queue's events
 * reach a CRM over callEvents and as signed webhooks, and a served call's timeline shows its wait.
 */

const ENV = {
  WEBDIAL_MEDIA: 'simulator',
  WEBDIAL_SIM_RING_MS: '20',
  WEBDIAL_SIM_ANSWER_MS: '20',
  WEBDIAL_SIM_TALK_MS: '600000',
  WEBDIAL_ANI_QUARANTINE: '0',
  WEBDIAL_WEBHOOK_POLL_MS: '200',
};

const QUEUE_TYPES = ['QueueCallJoined', 'QueueCallDispatched', 'QueueCallAbandoned', 'QueueWaitTimedOut'];

type Stored = { type: string; stream_id: string; data: Record<string, unknown>; recorded_at: Date };

const DOWNLOAD = `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`;
const INITIATE = `mutation($t: String!) { initiateCall(callToken: $t) { id state queue { callCenterId position estimatedWaitSeconds timesOutAt } } }`;
const HANG_UP = `mutation($t: String!) { hangUp(callToken: $t) { id state } }`;
const SET_POLICY = `mutation($m: ID!, $l: ID!, $w: Int, $n: Int) { setLinkQueuePolicy(merchantId: $m, linkId: $l, maxWaitSeconds: $w, maxLength: $n) { id queuePolicy { maxWaitSeconds maxLength } } }`;

const percentile = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)];

describe('the queue of a call center (issue 25): two instances, one PostgreSQL database', () => {
  test('a full center queues 19 of 20 shoppers, frees its slot one call at a time and serves them in join order, once each; an abandoned and a timed-out wait are recorded', (t: TestContext) =>
    withPostgresDatabase(t, 'webdial_queue', async (db) => {
      const [a, b] = await startPair(db, ENV);
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      const events = async (where: string, args: unknown[] = []): Promise<Stored[]> =>
        (await pg.query(`select type, stream_id, data, recorded_at from eventstore.events where ${where} order by seq`, args)).rows as Stored[];
      const on = (i: number): ServerProcess => (i % 2 === 0 ? a : b);
      let crm: ReturnType<typeof wsClient> | null = null;
      let card: ReturnType<typeof wsClient> | null = null;
      const receiver = new WebhookReceiver();
      await receiver.start();
      try {
        const m = await setupMerchant(a.url, 'Queue shop', 1);
        await setupGateway(a.url, 4);
        const queueStream = `queue-${m.centerId}`;

        // The merchant lets its link's calls wait (on B): ten minutes at most, 30 at once.
        const set = await gql(b.url, SET_POLICY, { m: m.merchantId, l: m.linkId, w: 600, n: 30 }, m.merchantKey);
        assert.deepEqual(set.setLinkQueuePolicy.queuePolicy, { maxWaitSeconds: 600, maxLength: 30 });
        // Bad input changes nothing: out of bounds, half a policy, another merchant's link.
        for (const [w, n] of [
          [0, 30],
          [3601, 30],
          [600, 0],
          [600, 1001],
          [600, null],
        ]) {
          const r = await gqlRaw(a.url, SET_POLICY, { m: m.merchantId, l: m.linkId, w, n }, m.merchantKey);
          assert.equal(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `${w}/${n}: ${JSON.stringify(r.errors)}`);
          assert.equal((r.errors?.[0]?.extensions as { reason?: string } | undefined)?.reason, 'QUEUE_POLICY_INVALID', `${w}/${n}: the reason`);
        }
        const other = await setupMerchant(b.url, 'Another shop', 1);
        const forbidden = await gqlRaw(b.url, SET_POLICY, { m: m.merchantId, l: m.linkId, w: 5, n: 1 }, other.merchantKey);
        assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN', `another merchant's key: ${JSON.stringify(forbidden.errors)}`);
        const notTheirs = await gqlRaw(b.url, SET_POLICY, { m: other.merchantId, l: m.linkId, w: 5, n: 1 }, other.merchantKey);
        assert.equal(notTheirs.errors?.[0]?.extensions?.code, 'NOT_FOUND', `another merchant's link under its own id: ${JSON.stringify(notTheirs.errors)}`);
        assert.equal((await events(`type = 'LinkQueuePolicySet'`)).length, 1, 'only the good policy was stored');
        const links = await eventually(async () => {
          const r = await gql(a.url, `query($id: ID!) { merchant(id: $id) { links { id queuePolicy { maxWaitSeconds maxLength } } } }`, { id: m.merchantId }, m.merchantKey);
          return r.merchant.links[0]?.queuePolicy ? r.merchant.links : null;
        }, 15_000, 'the policy on the read side');
        assert.deepEqual(links, [{ id: m.linkId, queuePolicy: { maxWaitSeconds: 600, maxLength: 30 } }]);

        // A CRM's endpoint takes the queue's events as webhooks (registered on B, delivered by whichever instance runs the worker).
        const { createWebhookEndpoint } = await gql(
          b.url,
          `mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id eventTypes } } }`,
          { i: { merchantId: m.merchantId, url: receiver.url, eventTypes: QUEUE_TYPES, description: 'CRM queue' } },
          m.merchantKey,
        );
        assert.deepEqual(createWebhookEndpoint.endpoint.eventTypes, QUEUE_TYPES);
        receiver.trust(createWebhookEndpoint.secret);

        // A CRM follows the merchant's callEvents on A: the queue's events reach it.
        crm = wsClient(a.wsUrl, m.merchantKey);
        const seen = collect<{ type: string; callId: string }>(crm, `subscription($m: ID!) { callEvents(merchantId: $m) { type callId } }`, { m: m.merchantId }, (items) => items.some((i) => i.type === 'QueueCallDispatched'), 60_000);
        // Awaited below; a failure before then is the test's own, not this subscription's closing.
        seen.done.catch(() => undefined);

        // The console's Queue card follows the center's queue on B (queueChanges): every list until it is empty again after 19 waited.
        card = wsClient(b.wsUrl, m.merchantKey);
        type Listed = Array<{ callId: string; position: number; callCenterId: string }>;
        const cardLists = collect<Listed>(
          card,
          `subscription($c: ID!) { queueChanges(callCenterId: $c, first: 50) { callId position callCenterId } }`,
          { c: m.centerId },
          (lists) => lists.some((l) => l.length === 19) && lists.at(-1)!.length === 0,
          120_000,
        );
        cardLists.done.catch(() => undefined);
        await eventually(async () => (cardLists.items.length > 0 ? true : null), 10_000, "the Queue card's first list");

        // 20 shoppers click, on A and B in turn.
        const shoppers: Array<{ callId: string; callToken: string }> = [];
        for (let i = 0; i < 20; i++) {
          const { recordDownload } = await gql(on(i).url, DOWNLOAD, { i: { merchantId: m.merchantId, linkId: m.linkId, customerId: `c-${i}`, pageUrl: 'https://shop.example/p/1' } });
          const { initiateCall } = await gql(on(i + 1).url, INITIATE, { t: recordDownload.callToken });
          shoppers.push(recordDownload);
          if (i === 0) {
            assert.equal(initiateCall.state, 'INITIATED');
            assert.equal(initiateCall.queue, null);
          } else {
            assert.equal(initiateCall.state, 'DOWNLOADED', `shopper ${i} waits`);
            assert.equal(initiateCall.queue.position, i, `shopper ${i}'s position`);
            assert.equal(initiateCall.queue.callCenterId, m.centerId);
            assert.equal(initiateCall.queue.estimatedWaitSeconds, i * 180, 'no handle time yet: 180 s a round');
          }
        }
        // initiateCall again (on the other instance) answers the same place; no second join.
        const again = await gql(a.url, INITIATE, { t: shoppers[7].callToken });
        assert.equal(again.initiateCall.queue.position, 7);
        assert.equal((await events(`stream_id = $1 and type = 'QueueCallJoined'`, [queueStream])).length, 19);

        // Shopper 5 hangs up while waiting: recorded abandoned.
        await gql(b.url, HANG_UP, { t: shoppers[5].callToken });
        await eventually(async () => (await events(`stream_id = $1 and type = 'QueueCallAbandoned'`, [queueStream])).length === 1, 10_000, 'the abandoned wait recorded');

        // A shopper of a second link that lets calls wait 2 s: timed out, the call terminated NO_ROUTE by SYSTEM.
        const { createLink } = await gql(a.url, `mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Impatient", callCenterIds: [$c] }) { id } }`, { m: m.merchantId, c: m.centerId }, ADMIN_KEY);
        await gql(a.url, SET_POLICY, { m: m.merchantId, l: createLink.id, w: 2, n: 30 }, m.merchantKey);
        const { recordDownload: impatient } = await gql(b.url, DOWNLOAD, { i: { merchantId: m.merchantId, linkId: createLink.id, customerId: 'c-late', pageUrl: 'https://shop.example/p/2' } });
        const late = await gql(a.url, INITIATE, { t: impatient.callToken });
        assert.equal(late.initiateCall.queue.position, 19, 'behind the 18 still waiting');
        await eventually(async () => (await events(`stream_id = $1 and type = 'QueueWaitTimedOut'`, [queueStream])).length === 1, 10_000, 'the wait timed out');
        const ended = await eventually(async () => {
          const [e] = await events(`stream_id = $1 and type = 'CallTerminated'`, [`call-${impatient.callId}`]);
          return e;
        }, 10_000, 'the timed-out call terminated');
        assert.deepEqual([ended.data.cause, ended.data.by], ['NO_ROUTE', 'SYSTEM']);

        // The answered call ends, one at a time (on A and B in turn): each freed slot serves the head.
        const waiting = shoppers.slice(1).filter((_, i) => i + 1 !== 5);
        let current = shoppers[0];
        const latencies: number[] = [];
        for (let k = 0; k < waiting.length; k++) {
          await gql(on(k).url, HANG_UP, { t: current.callToken });
          const next = waiting[k];
          const [initiated] = await eventually(async () => {
            const r = await events(`stream_id = $1 and type = 'CallInitiated'`, [`call-${next.callId}`]);
            return r.length ? r : null;
          }, 15_000, `shopper ${shoppers.indexOf(next)} initiated after slot ${k + 1} freed`);
          const [freed] = await events(`type = 'SlotFreed' and data->>'callId' = $1 and data->>'scope' = 'center'`, [current.callId]);
          latencies.push(initiated.recorded_at.getTime() - freed.recorded_at.getTime());
          current = next;
        }
        await gql(a.url, HANG_UP, { t: current.callToken });

        // Served in join order, each initiated once; the abandoned and the timed-out never.
        const dispatched = (await events(`stream_id = $1 and type = 'QueueCallDispatched'`, [queueStream])).map((e) => e.data.callId);
        assert.deepEqual(dispatched, waiting.map((s) => s.callId), 'the served order is the join order');
        const initiations = await events(`type = 'CallInitiated'`);
        const perCall = new Map<string, number>();
        for (const e of initiations) perCall.set(String(e.data.callId), (perCall.get(String(e.data.callId)) ?? 0) + 1);
        for (const s of shoppers) if (s !== shoppers[5]) assert.equal(perCall.get(s.callId), 1, `${s.callId} initiated once`);
        assert.equal(perCall.get(shoppers[5].callId), undefined, 'the abandoned call never served');
        assert.equal(perCall.get(impatient.callId), undefined, 'the timed-out call never served');
        for (const e of initiations.filter((x) => waiting.some((w) => w.callId === x.data.callId))) assert.equal((e.data.routing as { rule: string }).rule, 'QUEUE');

        // The Queue card's lists: the empty queue first, then every list in the queue's order with positions
        // 1…n, at its longest the 19 that waited (in join order), and the empty queue again at the end.
        const lists = await cardLists.done;
        assert.deepEqual(lists[0], [], 'no call waits when the card opens');
        for (const l of lists) {
          assert.deepEqual(l.map((c) => c.position), l.map((_, i) => i + 1), 'positions 1…n');
          assert.ok(l.every((c) => c.callCenterId === m.centerId));
        }
        const longest = lists.find((l) => l.length === 19)!;
        assert.deepEqual(longest.map((c) => c.callId), shoppers.slice(1).map((s) => s.callId), 'the 19 in join order');
        assert.ok(lists.length >= 20, `a list per change (${lists.length})`);

        const types = new Set((await seen.done).map((i) => i.type));
        for (const type of ['QueueCallJoined', 'QueueCallAbandoned', 'QueueWaitTimedOut', 'QueueCallDispatched']) assert.ok(types.has(type), `callEvents on A sent ${type}`);
        // The webhooks: every queue event of the merchant, once each, naming its call, in the queue's order.
        const queueEvents = await events(`stream_id = $1`, [queueStream]);
        await eventually(async () => receiver.unique().length >= queueEvents.length, 30_000, `${queueEvents.length} queue webhooks`);
        const hooks = receiver.unique();
        assert.deepEqual(hooks.map((h) => [h.type, h.callId]), queueEvents.map((e) => [e.type, e.data.callId]), 'the queue stream, as webhooks, in order');
        assert.deepEqual(hooks.map((h) => h.sequence), queueEvents.map((_, i) => i + 1), "each webhook's sequence is the queue stream's version");

        // A served call's timeline shows its wait between the click and its initiation, in the store's order.
        const { callTimeline } = await gql(b.url, `query($c: ID!) { callTimeline(callId: $c) { type callId position } }`, { c: waiting[3].callId }, m.merchantKey);
        const timeline = callTimeline as Array<{ type: string; callId: string; position: string }>;
        assert.deepEqual(timeline.map((e) => e.type).slice(0, 4), ['CallDownloaded', 'QueueCallJoined', 'QueueCallDispatched', 'CallInitiated'], JSON.stringify(timeline.map((e) => e.type)));
        assert.ok(timeline.every((e) => e.callId === waiting[3].callId));
        assert.deepEqual(timeline.map((e) => e.position), timeline.map((e) => e.position).sort(), 'in position order');
        const { callTimeline: foreign } = await gql(b.url, `query($c: ID!) { callTimeline(callId: $c) { type } }`, { c: waiting[3].callId }, other.merchantKey);
        assert.deepEqual(foreign, [], "another merchant sees nothing of the call's timeline");
        console.log(`# measured: slot freed → next call INITIATED over ${latencies.length} dispatches: p50 ${percentile(latencies, 50)} ms, max ${Math.max(...latencies)} ms`);
      } finally {
        await crm?.dispose();
        await card?.dispose();
        await receiver.stop();
        await pg.end();
        await Promise.all([a.stop(), b.stop()]);
      }
    }));
});
