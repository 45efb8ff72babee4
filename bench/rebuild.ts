import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventStore } from '../src/adapters/eventstore';
import { openReadModels, progressBar } from '../src/projections';
import { FixtureStore, fullCall, gatewayCreated } from '../src/projections/testing/fixtures';
import { round } from './stats';

/**
 * Projection rebuild rate: `events` stored events (whole calls: download, initiate, port seize,
 * ringing, answer, DTMF, terminate, port release) in the embedded SQLite store, then
 * `rebuild --all` of the four projections into fresh SQLite tables and the swap.
 */
/** `target` events of whole calls on one gateway of 64 ports and 20 merchants, in the store's order (the benchmarks' history). */
export const callHistory = (target: number) => {
  const fixtures = new FixtureStore();
  gatewayCreated(fixtures, 'gw-1', 64, '2026-01-01T00:00:00.000Z');
  for (let i = 0; fixtures.events.length < target; i++) {
    const at = new Date(Date.UTC(2026, 0, 1) + i * 7_000).toISOString();
    fullCall(fixtures, { callId: `c${i}`, merchantId: `m${i % 20}`, at, port: (i % 64) + 1, answered: i % 5 !== 0, talkSeconds: 30 + (i % 300), dtmf: i % 7 === 0 ? ['*', '2', '2'] : [] });
  }
  return fixtures.events.slice(0, target);
};

export const benchRebuild = async (opts: { events?: number } = {}) => {
  const target = opts.events ?? 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'webdial-rebuild-'));
  const store = await createEventStore({ kind: 'sqlite', dataDir: dir });
  const reads = await openReadModels({ kind: 'sqlite', dataDir: dir });
  try {
    // Synthesise the history in memory, then store it (batched per 500 events, expected version 'any').
    const events = callHistory(target);
    const load = progressBar('store history', events.length);
    const loadStart = process.hrtime.bigint();
    for (let i = 0; i < events.length; ) {
      const batch: Array<Promise<unknown>> = [];
      for (const end = Math.min(i + 500, events.length); i < end; i++) {
        const e = events[i]!;
        batch.push(store.append(e.streamId, [{ eventId: e.eventId, type: e.type, data: e.data, occurredAt: e.occurredAt, merchantId: e.merchantId, correlationId: e.correlationId, causationId: null }], 'any'));
      }
      await Promise.all(batch);
      load.tick(batch.length);
    }
    load.done();
    const loadSeconds = Number(process.hrtime.bigint() - loadStart) / 1e9;
    const total = (await store.stats()).events;
    const bar = progressBar('rebuild --all', total);
    const started = process.hrtime.bigint();
    const result = await reads.rebuild('all', (after, limit) => store.readAll({ after, limit }), total, (done, t) => bar.set(done, t));
    bar.done();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      events: total,
      projections: result.projections,
      storeLoadEventsPerSecond: round(total / loadSeconds, 0),
      rebuildSeconds: round(seconds, 1),
      rebuildEventsPerSecond: round(total / seconds, 0),
    };
  } finally {
    await reads.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

if (require.main === module) {
  benchRebuild({ events: Number(process.env.BENCH_EVENTS ?? 1_000_000) }).then((r) => console.log(JSON.stringify(r, null, 2)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
