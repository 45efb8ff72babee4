/**
 * Measures the read side on one backend (not a test; numbers for the report and the bench):
 *   node dist/bench/read-side.js sqlite|postgres [calls=1000]
 * - live apply: events/s through all four projections, one transaction per event and projection
 *   (what a consumer does), sequential; and again with applyBatch, 100 events per transaction;
 * - rebuild: events/s replaying the same events into fresh tables and swapping them in;
 * - query latency: p50/p99 of listCalls(first 50), billingSummary(groupBy DAY) and getCalls(50 ids).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POSTGRES_URL } from '../test/support/services';
import { openReadModels, type ReadModels } from '../src/projections';
import { FixtureStore, fullCall, gatewayCreated } from '../src/projections/testing/fixtures';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const timeQuery = async (n: number, f: () => Promise<unknown>) => {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await f();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { p50: +pct(ms, 50).toFixed(2), p99: +pct(ms, 99).toFixed(2) };
};

const main = async () => {
  const kind = (process.argv[2] ?? 'sqlite') as 'sqlite' | 'postgres';
  const calls = Number(process.argv[3] ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), 'webdial-measure-'));
  const schema = `read_measure_${randomBytes(4).toString('hex')}`;
  const rm: ReadModels = await openReadModels({ kind, dataDir: dir, databaseUrl: POSTGRES_URL, schema, logger: { warn: () => {}, error: () => {} } });
  try {
    const store = new FixtureStore();
    gatewayCreated(store, 'gw-m', 30, '2026-11-01T00:00:00Z');
    for (let i = 0; i < calls; i++)
      fullCall(store, {
        callId: `c-${i}`,
        merchantId: `m-${i % 5}`,
        gatewayId: 'gw-m',
        port: (i % 30) + 1,
        linkId: `l-${i % 7}`,
        at: new Date(Date.parse('2026-11-01T00:00:00Z') + i * 97_000).toISOString(),
        talkSeconds: (i * 37) % 900,
        dtmf: i % 3 ? ['*76'] : [],
      });
    const events = store.events;
    let t = Date.now();
    for (const e of events) for (const p of rm.projections) await rm.apply(p.name, e);
    const liveSecs = (Date.now() - t) / 1000;
    // The same number of new calls again, delivered in batches of 100 (one transaction per batch and projection).
    const firstBatched = store.events.length;
    for (let i = 0; i < calls; i++)
      fullCall(store, { callId: `cb-${i}`, merchantId: `m-${i % 5}`, gatewayId: 'gw-m', port: (i % 30) + 1, at: new Date(Date.parse('2026-11-10T00:00:00Z') + i * 97_000).toISOString(), talkSeconds: (i * 37) % 900 });
    const batched = store.events.slice(firstBatched);
    t = Date.now();
    for (let i = 0; i < batched.length; i += 100) for (const p of rm.projections) await rm.applyBatch(p.name, batched.slice(i, i + 100));
    const batchSecs = (Date.now() - t) / 1000;
    t = Date.now();
    const r = await rm.rebuild('all', store.readAll, store.events.length, () => undefined);
    const rebuildSecs = (Date.now() - t) / 1000;
    const ids = Array.from({ length: 50 }, (_, i) => `c-${i * 3}`);
    const result = {
      backend: kind,
      calls,
      events: firstBatched,
      liveApply: { seconds: liveSecs, eventsPerSecond: Math.round(firstBatched / liveSecs), projections: 4 },
      liveApplyBatch100: { events: batched.length, seconds: batchSecs, eventsPerSecond: Math.round(batched.length / batchSecs) },
      rebuild: { seconds: rebuildSecs, eventsPerSecond: Math.round(r.events / rebuildSecs) },
      queriesMs: {
        listCalls50: await timeQuery(200, () => rm.queries.listCalls({ merchantId: 'm-1' }, 50)),
        billingSummaryDay: await timeQuery(200, () => rm.queries.billingSummary('m-1', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', 'DAY')),
        getCalls50: await timeQuery(200, () => rm.queries.getCalls(ids)),
      },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await rm.close();
    rmSync(dir, { recursive: true, force: true });
    if (kind === 'postgres') {
      const { Client } = await import('pg');
      const c = new Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`drop schema if exists "${schema}" cascade`);
      await c.end();
    }
  }
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
