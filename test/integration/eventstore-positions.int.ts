import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { newEvent } from '../../src/adapters/eventstore/contract';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres';
import type { StoredEvent } from '../../src/ports/event-store';
import { serviceMissing } from '../support/services';
import { privatePostgres, privatePostgresMissing, type PrivatePostgres } from '../support/private-postgres';

/**
 * PostgreSQL positions are (transaction id, sequence). Transaction ids grow a digit every power of
 * ten, and every query must order them as numbers, never as their text: "9996" sorts after "10004".
 * A fresh private cluster starts near xid 730; a procedure that commits in a loop takes it past
 * 10,000 between two appends. The head, the stats, readAll and a subscription must all put the
 * second append last. (headPosition once sorted by its text alias, and a server on a cluster past
 * a power of ten saw a head stuck behind the store: readiness, "from now" and the outage drills'
 * catch-up check were all wrong.)
 */

let pg: PrivatePostgres | null = null;
after(async () => {
  await pg?.destroy();
});

/** Commits empty transactions until the cluster's next transaction id is at least `target`. */
const burnTransactionIdsTo = async (url: string, target: number): Promise<number> => {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE OR REPLACE PROCEDURE burn_xids(target bigint) LANGUAGE plpgsql AS $$
      BEGIN
        WHILE pg_current_xact_id()::text::bigint < target LOOP
          COMMIT;
        END LOOP;
      END $$`);
    await c.query('CALL burn_xids($1)', [target]);
    return Number((await c.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x);
  } finally {
    await c.end();
  }
};

test('positions stay in order when transaction ids gain a digit: head, stats, readAll and a subscription end with the newest append', async (t) => {
  const missing = privatePostgresMissing();
  if (missing) return serviceMissing(t, 'a private PostgreSQL cluster', missing);
  pg = await privatePostgres();
  const store = await PostgresEventStore.open(pg.url, { pollMs: 100 });
  try {
    const seen: StoredEvent[] = [];
    const sub = store.subscribe({}, async (e) => void seen.push(e));
    const first = (await store.append('call-digits-1', [newEvent('Below')], 0)).events[0]!;
    const xidBetween = await burnTransactionIdsTo(pg.url, 10_050);
    assert.ok(xidBetween >= 10_050, `the cluster's transaction ids passed 10,000 (now ${xidBetween})`);
    const second = (await store.append('call-digits-2', [newEvent('Above')], 0)).events[0]!;
    assert.ok(second.position > first.position, `the later append's position ${second.position} sorts after ${first.position}`);

    assert.equal(await store.headPosition(), second.position, 'the head is the newest append');
    assert.equal((await store.stats()).lastPosition, second.position, 'stats name the newest append last');
    assert.deepEqual(
      (await store.readAll({})).map((e) => e.type),
      ['Below', 'Above'],
      'readAll in append order',
    );
    assert.deepEqual(
      (await store.readAll({ after: first.position })).map((e) => e.type),
      ['Above'],
      'after the first position: only the second append',
    );
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen.map((e) => e.type), ['Below', 'Above'], 'the subscription delivers both, in order');
    await sub.stop();
  } finally {
    await store.close();
  }
});
