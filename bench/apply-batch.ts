/**
 * The read side's batch on its own (issue 21): the time of `readModels.applyAll(batch)` for batches
 * of 100 events of whole calls (download, initiate, port seize, ringing, answer, DTMF, terminate,
 * port release), interleaved as calls in flight at once deliver them, and the statements and
 * PostgreSQL round trips each batch costs (counted on pg's Client.query, which knex calls once per
 * statement, BEGIN and COMMIT included). Not a test: numbers for docs/performance.md §7.
 *   node dist/bench/apply-batch.js [postgres|sqlite] [batches=60] [batchSize=100] [busy=0]
 * `busy` (ms) stands for the rest of a server's work: a timer that holds the event loop that long
 * every 2 × busy ms (half a core), as the HTTP, GraphQL, event store and Kafka work do in the
 * pipeline benchmark's server. Each round trip to PostgreSQL then also waits for the loop.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { POSTGRES_URL } from '../test/support/services';
import { openReadModels } from '../src/projections';
import { FixtureStore, fullCall, gatewayCreated } from '../src/projections/testing/fixtures';
import type { StoredEvent } from '../src/ports/event-store';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Round trips to PostgreSQL: every Client.query (knex issues one per statement). */
let roundTrips = 0;
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
  roundTrips++;
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;

/** Events of `calls` whole calls, `inFlight` of them at a time, interleaved stage by stage (each stream in order). */
export const interleavedCalls = (store: FixtureStore, calls: number, inFlight: number, prefix: string, startMs: number): StoredEvent[] => {
  const scratch = new FixtureStore();
  const perCall: StoredEvent[][] = [];
  for (let i = 0; i < calls; i++)
    perCall.push(
      fullCall(scratch, {
        callId: `${prefix}-${i}`,
        merchantId: `m-${i % 5}`,
        gatewayId: 'gw-m',
        port: (i % 30) + 1,
        linkId: `l-${i % 7}`,
        at: new Date(startMs + i * 1_000).toISOString(),
        talkSeconds: (i * 37) % 900,
        dtmf: i % 3 ? ['*76'] : [],
      }),
    );
  // Round-robin over a window of calls in flight; then re-append through `store` for its versions and positions.
  const order: StoredEvent[] = [];
  const cursors = perCall.map(() => 0);
  for (let base = 0; base < calls; base += inFlight) {
    const window = perCall.slice(base, base + inFlight).map((_, j) => base + j);
    for (let more = true; more; ) {
      more = false;
      for (const i of window)
        if (cursors[i] < perCall[i].length) {
          order.push(perCall[i][cursors[i]++]);
          more = true;
        }
    }
  }
  return order.map((e) => store.append(e.streamId, { type: e.type, data: e.data } as never, e.merchantId));
};

const main = async () => {
  const kind = (process.argv[2] ?? 'postgres') as 'sqlite' | 'postgres';
  const batches = Number(process.argv[3] ?? 60);
  const size = Number(process.argv[4] ?? 100);
  const busy = Number(process.argv[5] ?? 0);
  const dir = mkdtempSync(join(tmpdir(), 'webdial-apply-'));
  const schema = `read_apply_${randomBytes(4).toString('hex')}`;
  const rm = await openReadModels({ kind, dataDir: dir, databaseUrl: POSTGRES_URL, schema, logger: { warn: () => {}, error: () => {} } });
  try {
    await Promise.all(rm.projections.map((p) => rm.expectSources(p.name, ['webdial.events/0'])));
    const store = new FixtureStore();
    gatewayCreated(store, 'gw-m', 30, '2026-11-01T00:00:00Z');
    // ~8 events per call; 30 calls in flight, as a server at 50 calls/s with calls of a few seconds.
    const events = interleavedCalls(store, Math.ceil(((batches + 10) * size) / 8) + 30, 30, 'c', Date.parse('2026-11-01T00:00:00Z'));
    const all = [...store.events.slice(0, 1), ...events];
    const hog =
      busy > 0
        ? setInterval(() => {
            const until = performance.now() + busy;
            while (performance.now() < until);
          }, busy)
        : null;
    const times: number[] = [];
    const trips: number[] = [];
    let statements = 0;
    for (let b = 0; b * size < all.length && b < batches + 10; b++) {
      const slice = all.slice(b * size, (b + 1) * size);
      if (slice.length < size) break;
      const before = roundTrips;
      const t = process.hrtime.bigint();
      const out = await rm.applyAll({ events: slice, source: 'webdial.events/0', watermark: slice[slice.length - 1].position });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (b < 10) continue; // warm-up: prepared plans, the pool's connections
      times.push(ms);
      trips.push(roundTrips - before);
      statements += [...out.values()].reduce((n, o) => n + o.statements, 0);
    }
    if (hog) clearInterval(hog);
    const result = {
      backend: kind,
      busyLoopMs: busy,
      batches: times.length,
      eventsPerBatch: size,
      applyAllMs: { p50: +pct(times, 50).toFixed(2), p99: +pct(times, 99).toFixed(2), mean: +(times.reduce((a, b) => a + b, 0) / times.length).toFixed(2) },
      roundTripsPerBatch: kind === 'postgres' ? +(trips.reduce((a, b) => a + b, 0) / trips.length).toFixed(1) : null,
      rowWritesPerBatch: +(statements / times.length).toFixed(1),
    };
    console.log(JSON.stringify(result));
  } finally {
    await rm.close();
    rmSync(dir, { recursive: true, force: true });
    if (kind === 'postgres') {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
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
