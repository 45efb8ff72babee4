import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { gql } from '../../src/cli/client';
import { eventually, type ServerProcess } from '../support/server';
import { startPair, withPostgresDatabase, type PostgresDatabase } from '../support/postgres-db';
import { setupGateway, setupMerchant } from '../support/merchant';

/**
 * Issue 21, must-have 4, "any request on any instance": two webdial processes on one fresh
 * PostgreSQL database (event store and read models; each process with its own data directory, no
 * shared file), driven only through the public HTTP and GraphQL API, as the widget, the dashboard
 * and a merchant's back office use it.
 */

/** The simulator answers at once and talks for a minute: the test hangs up itself. */
const ENV = {
  WEBDIAL_MEDIA: 'simulator',
  WEBDIAL_SIM_RING_MS: '20',
  WEBDIAL_SIM_ANSWER_MS: '20',
  WEBDIAL_SIM_TALK_MS: '60000',
  WEBDIAL_ANI_QUARANTINE: '0',
  WEBDIAL_READ_WAIT_MS: '20000',
};

type Answer = { status: number; data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: { code?: string } }>; extensions?: { position?: string } };

/** One GraphQL request, the whole answer (extensions.position included), with the position to read at. */
const post = async (url: string, query: string, variables: Record<string, unknown>, opts: { key?: string; position?: string } = {}): Promise<Answer> => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...(opts.position ? { 'x-webdial-position': opts.position } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
};

const ok = (what: string, r: Answer) => {
  assert.equal(r.errors, undefined, `${what}: ${JSON.stringify(r.errors)}`);
  return r.data!;
};

const origin = (s: ServerProcess) => new URL(s.url).origin;

/**
 * Holds every projection batch of the cluster (both instances write the one read database): an
 * EXCLUSIVE lock on the table each batch writes first (its streams' versions) lets reads through
 * and stops every write to it until `release()`. The read side is then behind the store, as it is
 * behind a slow Kafka path, for as long as the test wants.
 */
const holdReadSide = async (db: PostgresDatabase) => {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  const [where] = (await client.query(`select table_schema from information_schema.tables where table_name = 'projection_stream'`)).rows as Array<{ table_schema: string }>;
  assert.ok(where, 'the read models have a projection_stream table');
  await client.query('begin');
  await client.query(`lock table "${where.table_schema}"."projection_stream" in exclusive mode`);
  return {
    release: async () => {
      await client.query('rollback');
      await client.end();
    },
  };
};

const CALL = `query($id: ID!) { call(id: $id) { id state terminatedBy charge { amountMinor } } }`;

describe('any request on any instance (two processes, one PostgreSQL database)', () => {
  test('a call token, an export ticket and a read-your-writes position from A all work on B', (t: TestContext) =>
    withPostgresDatabase(t, 'webdial_any', async (db) => {
      const [a, b] = await startPair(db, ENV);
      try {
        // The operator and the merchant set up on A.
        const m = await setupMerchant(a.url, 'Any instance');
        await setupGateway(a.url, 4);
        ok(
          'setRatePlan',
          await post(
            a.url,
            `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 5, ratePerMinuteMinor: 3, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
            { m: m.merchantId },
            { key: m.merchantKey },
          ),
        );

        // 1. The widget downloads on A; its call token places, joins and hangs up the call on B.
        const download = ok(
          'recordDownload on A',
          await post(a.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
            i: { merchantId: m.merchantId, linkId: m.linkId, customerId: 'c-1', pageUrl: 'https://shop.example/p/1' },
          }),
        ).recordDownload as { callId: string; callToken: string };
        const initiated = ok('initiateCall on B with A\'s token', await post(b.url, `mutation($t: String!) { initiateCall(callToken: $t) { id state } }`, { t: download.callToken }));
        assert.equal(initiated.initiateCall.id, download.callId);
        const media = ok('joinMedia on B with A\'s token', await post(b.url, `mutation($t: String!) { joinMedia(callToken: $t) { provider } }`, { t: download.callToken }));
        assert.ok(media.joinMedia.provider, 'B answers the media join details');
        // A forged token is refused on B: B checks the signature, it does not take any token.
        const forged = await post(b.url, `mutation($t: String!) { hangUp(callToken: $t) { id } }`, { t: `${download.callToken.slice(0, -4)}AAAA` });
        assert.equal(forged.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', `a forged token on B: ${JSON.stringify(forged.errors)}`);
        // The simulator (on B, which dialled) answers; A's read side sees it.
        await eventually(async () => (await gql(a.url, CALL, { id: download.callId }, m.merchantKey)).call?.state === 'ANSWERED', 15_000, 'the call answered');

        // 3. Read your writes: the read side is held back; the hang-up on B answers a position; a
        // read on A without it is stale, a read on A with it waits for the write and sees it.
        // Then the same the other way round below, for the charge (A → B).
        const held = await holdReadSide(db);
        let released = false;
        try {
          const hangUp = await post(b.url, `mutation($t: String!) { hangUp(callToken: $t) { id state } }`, { t: download.callToken });
          assert.equal(ok('hangUp on B with A\'s token', hangUp).hangUp.state, 'TERMINATED');
          const position = hangUp.extensions?.position;
          assert.match(position ?? '', /^\d{20}:\d{20}$/, 'the mutation answers the position it wrote');

          const stale = ok('the call on A without the position', await post(a.url, CALL, { id: download.callId }, { key: m.merchantKey }));
          assert.equal(stale.call.state, 'ANSWERED', 'without the position, A answers from a read side that has not applied the hang-up yet (the control)');

          const sent = Date.now();
          let answeredAt = 0;
          const read = post(a.url, CALL, { id: download.callId }, { key: m.merchantKey, position }).then((r) => {
            answeredAt = Date.now();
            return r;
          });
          await new Promise((r) => setTimeout(r, 1_500));
          assert.equal(answeredAt, 0, `with the position, A waits for its read side (it answered after ${answeredAt - sent} ms, while the read side was held)`);
          await held.release();
          released = true;
          const fresh = ok('the call on A with the position', await read);
          assert.equal(fresh.call.state, 'TERMINATED', 'with the position, A sees the hang-up written through B');
          assert.equal(fresh.call.terminatedBy, 'CALLER');
        } finally {
          if (!released) await held.release();
        }

        // The charge: rated on the read side; billing read on B at the position a mutation on A answered.
        const held2 = await holdReadSide(db);
        let released2 = false;
        try {
          const write = await post(a.url, `mutation($m: ID!) { setDtmfCommand(merchantId: $m, sequence: "*76", action: PUSH_PAGE, argument: "https://shop.example/offer") }`, { m: m.merchantId }, { key: m.merchantKey });
          ok('setDtmfCommand on A', write);
          const position = write.extensions!.position!;
          const MERCHANT = `query($id: ID!) { merchant(id: $id) { dtmfCommands { sequence } } }`;
          assert.deepEqual(ok('merchant on B without the position', await post(b.url, MERCHANT, { id: m.merchantId }, { key: m.merchantKey })).merchant.dtmfCommands, [], 'stale without the position (the control)');
          let answered = false;
          const read = post(b.url, MERCHANT, { id: m.merchantId }, { key: m.merchantKey, position }).then((r) => {
            answered = true;
            return r;
          });
          await new Promise((r) => setTimeout(r, 1_500));
          assert.equal(answered, false, 'with the position, B waits for its read side');
          await held2.release();
          released2 = true;
          assert.deepEqual(ok('merchant on B with the position', await read).merchant.dtmfCommands, [{ sequence: '*76' }], 'with the position, B sees the write made on A');
        } finally {
          if (!released2) await held2.release();
        }
        const charged = await eventually(async () => (await gql(b.url, CALL, { id: download.callId }, m.merchantKey)).call?.charge, 15_000, 'the call charged');
        assert.ok(Number(charged.amountMinor) > 0, `the call is charged: ${JSON.stringify(charged)}`);

        // 2. The dashboard asks A for an export ticket and downloads on B; the ticket is good once in
        // the cluster: B refuses it again, and so does A.
        const exported = ok(
          'createChargesExport on A',
          await post(
            a.url,
            `mutation($m: ID!, $f: DateTime!, $t: DateTime!) { createChargesExport(merchantId: $m, from: $f, to: $t) { url } }`,
            { m: m.merchantId, f: new Date(Date.now() - 3_600_000).toISOString(), t: new Date(Date.now() + 3_600_000).toISOString() },
            { key: m.merchantKey },
          ),
        ).createChargesExport as { url: string };
        const csv = await fetch(`${origin(b)}${exported.url}`);
        const body = await csv.text();
        assert.equal(csv.status, 200, `the ticket issued on A downloads on B: ${body}`);
        assert.match(body, new RegExp(download.callId), 'the CSV holds the call charged');
        for (const [name, server] of [
          ['B', b],
          ['A', a],
        ] as const) {
          const again = await fetch(`${origin(server)}${exported.url}`);
          const text = await again.text();
          assert.equal(again.status, 401, `the used ticket downloads again on ${name}: ${text.slice(0, 200)}`);
          assert.match(text, /already used/);
        }
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    }));
});

