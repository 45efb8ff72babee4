import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newEvent } from '../../src/adapters/eventstore/contract';
import { KurrentDbEventStore } from '../../src/adapters/eventstore/kurrentdb';
import { DependencyUnavailableError } from '../../src/ports/dependency';
import type { StoredEvent } from '../../src/ports/event-store';
import { KurrentDbDouble } from '../support/kurrentdb-double';

/**
 * The KurrentDB event store while its node goes away and comes back on the same port with its data (the
 * wire-level double; a real node cannot be stopped from here): nothing crashes the process; calls fail with
 * DependencyUnavailableError while it is down, as every adapter's do; a live subscription reports the
 * lost stream, resubscribes from its last position, and delivers what was appended afterwards, once.
 */

const until = async (done: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('KurrentDB node gone and back: no crash, UNAVAILABLE meanwhile, the subscription resumes from its position', async () => {
  const double = await KurrentDbDouble.start();
  const reader = await KurrentDbEventStore.open(double.url, { streamPrefix: 'out:' });
  const writer = await KurrentDbEventStore.open(double.url, { streamPrefix: 'out:' });
  const lost: unknown[] = [];
  try {
    const seen: StoredEvent[] = [];
    const sub = reader.subscribe({ onError: (e) => void lost.push(e) }, async (e) => void seen.push(e));
    await writer.append('call-out-1', [newEvent('Before')], 0);
    await until(() => seen.length === 1, 'the first event');

    await double.stop();
    const unavailable = (e: unknown) => e instanceof DependencyUnavailableError && e.dependency === 'eventStore' && /unavailable/.test(e.message);
    await assert.rejects(writer.append('call-out-1', [newEvent('During')], 1), unavailable);
    await assert.rejects(reader.ping(), unavailable);
    await assert.rejects(reader.readAll({}), unavailable);
    await assert.rejects(reader.readStream('call-out-1'), unavailable);
    await until(() => lost.length > 0, 'the subscription reported the lost stream');

    await double.restart();
    await until(() => reader.ping().then(() => true, () => false), 'the store answers again');
    await writer.append('call-out-1', [newEvent('After')], 1);
    await until(() => seen.length === 2, 'the event appended after the restart', 15_000);
    await new Promise((r) => setTimeout(r, 300)); // a repeat would arrive now
    assert.deepEqual(seen.map((e) => e.type), ['Before', 'After'], 'every event once, in order; the refused append stored nothing');
    console.log(`# kurrentdb outage: ${lost.length} lost subscription(s) reported and resumed`);
    await sub.stop();
  } finally {
    await reader.close();
    await writer.close();
    await double.stop();
  }
});
