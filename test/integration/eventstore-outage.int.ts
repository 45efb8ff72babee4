import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { newEvent } from '../../src/adapters/eventstore/contract';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres';
import { DependencyUnavailableError } from '../../src/ports/dependency';
import type { StoredEvent } from '../../src/ports/event-store';
import { serviceMissing } from '../support/services';
import { privatePostgres, privatePostgresMissing, type PrivatePostgres } from '../support/private-postgres';

/**
 * The PostgreSQL event store while its server is killed and started again (a private cluster:
 * the shared one is never stopped): nothing it does crashes the process; calls fail with
 * DependencyUnavailableError while it is down; a live subscription pauses and then delivers what
 * was appended afterwards, woken by its LISTEN connection, which reconnects on its own.
 */

let pg: PrivatePostgres | null = null;
after(async () => {
  await pg?.destroy();
});

const until = async (done: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('PostgreSQL killed and started again: no crash, UNAVAILABLE meanwhile, the subscription resumes and LISTEN reconnects', async (t) => {
  const missing = privatePostgresMissing();
  if (missing) return serviceMissing(t, 'a private PostgreSQL cluster', missing);
  pg = await privatePostgres();
  const connectionErrors: string[] = [];
  // Polling every 30 s: only a NOTIFY on the re-opened LISTEN connection can deliver quickly.
  const reader = await PostgresEventStore.open(pg.url, { pollMs: 30_000, onConnectionError: (e, where) => void connectionErrors.push(`${where}: ${e.message}`) });
  const writer = await PostgresEventStore.open(pg.url); // "another process": its appends wake the reader only through NOTIFY
  try {
    const seen: StoredEvent[] = [];
    const sub = reader.subscribe({}, async (e) => void seen.push(e));
    await writer.append('call-out-1', [newEvent('Before')], 0);
    await until(() => seen.length === 1, 'the first event');

    await pg.stop();
    await assert.rejects(writer.append('call-out-1', [newEvent('During')], 1), (e) => e instanceof DependencyUnavailableError && e.dependency === 'eventStore' && /unavailable/.test(e.message));
    await assert.rejects(reader.ping(), DependencyUnavailableError);
    await assert.rejects(reader.readAll({}), DependencyUnavailableError);
    await new Promise((r) => setTimeout(r, 1_000));

    await pg.start();
    await until(() => reader.ping().then(() => true, () => false), 'the store answers again');
    // The reader's LISTEN connection is opened again with backoff (at most 5 s); its subscription's
    // reads succeed again. An append in the writer must now reach it well before the 30 s poll.
    await new Promise((r) => setTimeout(r, 6_000));
    const appendedAt = Date.now();
    await writer.append('call-out-1', [newEvent('After')], 1);
    await until(() => seen.length === 2, 'the event appended after the restart', 15_000);
    const wokeInMs = Date.now() - appendedAt;
    assert.deepEqual(seen.map((e) => e.type), ['Before', 'After'], 'every event once, in order; the refused append stored nothing');
    assert.ok(wokeInMs < 5_000, `woken by NOTIFY (${wokeInMs} ms), not by the 30 s poll`);
    assert.ok(connectionErrors.some((e) => e.startsWith('listen:')), `the lost LISTEN connection was reported: ${connectionErrors.join('; ')}`);
    console.log(`# event store outage: ${connectionErrors.length} lost connection(s) reported and survived; an event appended after the restart delivered in ${wokeInMs} ms`);
    await sub.stop();
  } finally {
    await reader.close();
    await writer.close();
  }
});
