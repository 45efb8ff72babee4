import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredEvent } from '../../ports/event-store';
import { pollingSubscription, Wakeups } from './common';

const event = (n: number): StoredEvent => ({
  eventId: `e${n}`,
  type: 'T',
  streamId: 'call-1',
  streamVersion: n,
  position: String(n).padStart(5, '0'),
  occurredAt: '2026-12-01T00:00:00.000Z',
  recordedAt: '2026-12-01T00:00:00.000Z',
  merchantId: null,
  correlationId: 'c',
  causationId: null,
  schemaVersion: 1,
  data: {},
});

describe('pollingSubscription while the store is away', () => {
  it('a failed read is reported and read again from the same position; the subscription goes on', async () => {
    const stored = [event(1), event(2), event(3)];
    let failing = 0;
    const asked: Array<string | null> = [];
    const readAll = async (after: string | null, limit: number) => {
      asked.push(after);
      if (after === '00001' && failing < 2) {
        failing++;
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      }
      return stored.filter((e) => after === null || e.position > after).slice(0, after === null ? 1 : limit);
    };
    const errors: Array<[string, number]> = [];
    const seen: string[] = [];
    const sub = pollingSubscription({ onError: (e, attempt) => errors.push([(e as Error).message, attempt]) }, async (e) => void seen.push(e.position), {
      readAll,
      wakeups: new Wakeups(),
      pollMs: 10,
      batchSize: 1,
    });
    const deadline = Date.now() + 5_000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await sub.stop();
    await sub.done;
    assert.deepEqual(seen, ['00001', '00002', '00003'], 'every event once, in order, across the failures');
    assert.deepEqual(errors, [['connect ECONNREFUSED 127.0.0.1:5432', 1], ['connect ECONNREFUSED 127.0.0.1:5432', 2]]);
    assert.deepEqual(asked.slice(0, 4), [null, '00001', '00001', '00001'], 'read again after the last delivered event');
  });

  it('stop() ends a subscription that is waiting out a failure at once', async () => {
    const sub = pollingSubscription({}, async () => undefined, {
      readAll: async () => {
        throw new Error('Connection terminated unexpectedly');
      },
      wakeups: new Wakeups(),
    });
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    await sub.stop();
    await sub.done;
    assert.ok(Date.now() - started < 200, 'no wait for the backoff');
  });

  it('a handler error still ends it', async () => {
    const sub = pollingSubscription({}, async () => {
      throw new Error('handler broke');
    }, { readAll: async () => [event(1)], wakeups: new Wakeups() });
    await assert.rejects(sub.done, /handler broke/);
  });
});
