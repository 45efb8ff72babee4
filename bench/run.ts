import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchEmbedded, benchHistory } from './e2e';
import { profiled } from './profile';
import { machine } from './stats';

/**
 * `npm run bench`: every benchmark in one run, printed and saved as JSON under bench/results/.
 *   BENCH_ONLY=embedded,history,pipeline,rebuild,restart,eventstore,kafka,fanout,webhooks,tracing,queue   run a subset
 *   BENCH_QUEUE_ROUNDS=N                    rounds of the queue benchmark (default 20; 50 shoppers queued each)
 *   BENCH_RESTART_EVENTS=10000,100000     stored events of the restart benchmark (default 10k, 100k and 1M)
 *   BENCH_REBUILD_EVENTS=N                  stored events for the rebuild benchmark (default 1,000,000)
 *   BENCH_QUICK=1                           smaller workloads (a smoke run)
 *   BENCH_HISTORY_CALLS=N                   completed calls seeded for the history benchmark (default 100,000)
 *   BENCH_PIPELINE_RATE=N                   the pipeline's paced run: calls per second (default 50, for 30 s)
 *   npm run bench -- --profile              also profile each section (V8 sampling profiler): a .cpuprofile
 *                                           per section in bench/results/profiles/ and the top frames printed
 */
const main = async () => {
  const only = new Set((process.env.BENCH_ONLY ?? 'embedded,history,pipeline,rebuild,restart,eventstore,kafka,fanout,webhooks,tracing,queue').split(',').map((s) => s.trim()));
  const quick = process.env.BENCH_QUICK === '1';
  const profile = process.argv.includes('--profile');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  /** Runs a section, under the profiler with --profile; its summary is saved with the results. */
  const section = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    if (!profile) return work();
    const p = await profiled(`${name}-${stamp}`, join('bench', 'results', 'profiles'), work);
    (results.profiles as Record<string, unknown>)[name] = { file: p.profile, byArea: p.summary.byArea.slice(0, 12), topFrames: p.summary.topFrames.slice(0, 15) };
    return p.result;
  };
  const results: Record<string, unknown> = { at: new Date().toISOString(), machine: machine(), profiles: {} };
  mkdirSync(join('bench', 'results'), { recursive: true });
  const file = join('bench', 'results', `bench-${stamp}.json`);
  // Saved after every section, so a long run that is stopped keeps what it measured.
  const save = () => writeFileSync(file, JSON.stringify(results, null, 2));
  if (only.has('embedded')) {
    console.log('\n## embedded stack: full calls through GraphQL (SQLite store, in-process bus, SQLite read models)');
    const r = await section('embedded', () => benchEmbedded({ calls: quick ? 200 : Number(process.env.BENCH_CALLS ?? 2000), concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32) }));
    console.log(`  ${r.callsPerSecond} calls/s (${r.calls} calls, ${r.concurrency} concurrent, ${r.seconds} s); per call p50 ${r.callMs.p50} ms, p99 ${r.callMs.p99} ms; by quarter ${r.quarterCallsPerSecond.join(' / ')} calls/s; server CPU ${r.serverCpuMsPerCall} ms per call`);
    console.log(`  append → projection row: p50 ${r.appendToProjectionMs.p50} ms, p99 ${r.appendToProjectionMs.p99} ms (${r.appendToProjectionMs.samples} samples)`);
    results.embedded = r;
    save();
  }
  if (only.has('history')) {
    const historyCalls = Number(process.env.BENCH_HISTORY_CALLS ?? (quick ? 5_000 : 100_000));
    const runs: Record<string, unknown> = {};
    for (const [label, env] of [
      ['sqlite', {}],
      ['postgres', { WEBDIAL_EVENT_STORE: 'postgres', WEBDIAL_READ_DB: 'postgres' }],
    ] as const) {
      console.log(`\n## history (${label}): ${historyCalls} completed calls on one merchant, center and port, then the same calls again`);
      let db: { env: Record<string, string>; drop(): Promise<void> } | null = null;
      if (label === 'postgres') {
        const { freshDatabase } = require('./pipeline') as typeof import('./pipeline');
        db = await freshDatabase().catch((e: Error) => {
          console.log(`  PostgreSQL not available: ${e.message}`);
          return null;
        });
        if (!db) continue;
      }
      try {
        const r = await section(`history-${label}`, () => benchHistory({ historyCalls, calls: quick ? 200 : 1000, env: { ...env, ...(db?.env ?? {}), LOG_LEVEL: 'error' }, label }));
        console.log(`  empty store: ${r.empty.callsPerSecond} calls/s, ${r.empty.serverCpuMsPerCall} ms CPU per call; after ${r.historyCalls} calls (${r.historyEvents} events, slot and port streams of ${r.longestStreams.port}): ${r.afterHistory.callsPerSecond} calls/s, ${r.afterHistory.serverCpuMsPerCall} ms CPU per call`);
        console.log(`  rate ratio ${r.rateRatio} (CPU ratio ${r.cpuRatio}); seeding ${r.seedSeconds} s, restart ${r.restartSeconds} s, read side catch-up ${r.readSideCatchUpSeconds} s`);
        runs[label] = r;
      } finally {
        await db?.drop();
      }
    }
    results.history = runs;
    save();
  }
  if (only.has('restart')) {
    const sizes = (process.env.BENCH_RESTART_EVENTS ?? (quick ? '10000' : '10000,100000,1000000')).split(',').map(Number);
    const { benchRestart } = require('./restart') as typeof import('./restart');
    const { freshDatabase } = require('./pipeline') as typeof import('./pipeline');
    const runs: unknown[] = [];
    for (const store of ['sqlite', 'postgres'] as const)
      for (const events of sizes) {
        console.log(`\n## restart (${store}): ${events} events stored; the server started, stopped cleanly, restarted, killed -9, restarted`);
        const db = store === 'postgres' ? await freshDatabase().catch((e: Error) => (console.log(`  PostgreSQL not available: ${e.message}`), null)) : null;
        if (store === 'postgres' && !db) continue;
        try {
          const r = await section(`restart-${store}-${events}`, () => benchRestart({ events, store, env: db?.env }));
          console.log(`  ready after: first start ${r.firstStartSeconds} s (no snapshot), clean restart ${r.cleanRestartSeconds} s, restart after kill -9 ${r.killRestartSeconds} s`);
          runs.push(r);
        } finally {
          await db?.drop();
        }
        results.restart = runs;
        save();
      }
  }
  if (only.has('pipeline')) {
    console.log('\n## integration stack: the same calls through PostgreSQL store, Kafka, PostgreSQL read models');
    const { benchPipeline } = require('./pipeline') as typeof import('./pipeline');
    const rate = Number(process.env.BENCH_PIPELINE_RATE ?? 50);
    const r = await section('pipeline', () => benchPipeline({ calls: quick ? 200 : 2000, paced: { calls: Math.round(rate * (quick ? 10 : 30)), ratePerSecond: rate } }));
    console.log(`  ${r.callsPerSecond} calls/s, ${r.eventsPerSecond} events/s end to end (${r.calls} calls, ${r.concurrency} concurrent); server CPU ${r.serverCpuMsPerCall} ms per call`);
    console.log(`  append → projection row: p50 ${r.appendToProjectionMs.p50} ms, p99 ${r.appendToProjectionMs.p99} ms (${r.appendToProjectionMs.samples} samples); ${r.readSideBatchesPerCall} read-side batches per call, ${r.eventsPerReadSideBatch} events each`);
    const tx = (a: typeof r.readSideApply) => (a ? `; read-side transactions with events: ${a.transactions}, ${a.eventsPerTransaction} events each, p50 ${a.ms.p50} ms, p99 ${a.ms.p99} ms; append → its transaction's start p50 ${a.appendToApplyStartMs.p50} ms, p99 ${a.appendToApplyStartMs.p99} ms` : '');
    console.log(`  black box${tx(r.readSideApply)}`);
    if ('paced' in r && r.paced) console.log(`  paced${tx(r.paced.readSideApply)}`);
    if ('paced' in r && r.paced) {
      const p = r.paced;
      console.log(`  paced at ${rate} calls/s (${p.calls} calls, reached ${p.callsPerSecond} calls/s): append → projection row p50 ${p.appendToProjectionMs.p50} ms, p99 ${p.appendToProjectionMs.p99} ms, max ${p.appendToProjectionMs.max} ms; per call p99 ${p.callMs.p99} ms`);
    }
    results.pipeline = r;
    save();
  }
  if (only.has('rebuild')) {
    const events = Number(process.env.BENCH_REBUILD_EVENTS ?? (quick ? 20_000 : 1_000_000));
    console.log(`\n## projection rebuild from ${events} stored events (SQLite store and read models)`);
    const { benchRebuild } = require('./rebuild') as typeof import('./rebuild');
    const r = await benchRebuild({ events });
    console.log(`  rebuild --all: ${r.rebuildEventsPerSecond} events/s (${r.events} events in ${r.rebuildSeconds} s)`);
    results.rebuild = r;
    save();
  }
  if (only.has('webhooks')) {
    console.log('\n## webhooks: delivery latency, embedded stack, a local receiver over HTTP');
    const { benchWebhooks } = require('./webhooks') as typeof import('./webhooks');
    const r = await benchWebhooks({ calls: quick ? 40 : 200 });
    console.log(`  ${r.deliveries}/${r.expected} deliveries (${r.repeats} repeats) in ${r.seconds} s, ${r.deliveriesPerSecond} deliveries/s`);
    console.log(`  event → received: p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms (${r.latencyMs.samples} samples)`);
    results.webhooks = r;
    save();
  }
  if (only.has('queue')) {
    console.log('\n## queue (issue 25): a full center, shoppers queued, each freed slot until the head is INITIATED; embedded stack');
    const { benchQueue } = require('./queue') as typeof import('./queue');
    const r = await section('queue', () => benchQueue({ rounds: Number(process.env.BENCH_QUEUE_ROUNDS ?? (quick ? 4 : 20)) }));
    console.log(`  ${r.rounds} rounds × ${r.waiting} queued at a center of ${r.capacity}: served in join order ${r.inOrder}; queue stream ${r.queueStreamEvents} events`);
    console.log(`  join (initiateCall, queued): p50 ${r.allRounds.joinMs.p50} ms, p99 ${r.allRounds.joinMs.p99} ms; slot freed → head INITIATED: p50 ${r.allRounds.dispatchMs.p50} ms, p99 ${r.allRounds.dispatchMs.p99} ms (of which reportTerminated's round trip p50 ${r.allRounds.endMs.p50} ms)`);
    console.log(`  dispatch p50 by round: ${r.dispatchP50ByRound.join(' / ')} ms; after a restart on that history (${r.afterRestart.restartSeconds} s): p50 ${r.afterRestart.dispatchMs.p50} ms, p99 ${r.afterRestart.dispatchMs.p99} ms`);
    results.queue = r;
    save();
  }
  if (only.has('tracing')) {
    console.log('\n## tracing: the cost of OpenTelemetry spans, off and on');
    const { benchTracing } = require('./tracing') as typeof import('./tracing');
    const r = await benchTracing({ quick });
    const h = r.helpersOffNsPerCall;
    console.log(`  off, per call: direct ${h.direct} ns, inSpan ${h.inSpan} ns, tracedBatch ${h.tracedBatch} ns`);
    console.log(`  embedded full calls: ${r.embeddedCallsPerSecond.tracingOff} calls/s off, ${r.embeddedCallsPerSecond.tracingOn} calls/s on (every span recorded)`);
    results.tracing = r;
    save();
  }
  for (const [name, modulePath, fn] of [
    ['eventstore', './eventstore', 'benchEventStores'],
    ['kafka', './kafka', 'benchKafka'],
    ['fanout', './fanout', 'benchFanout'],
  ] as const) {
    if (!only.has(name)) continue;
    let mod: Record<string, (o: object) => Promise<unknown>>;
    try {
      mod = require(modulePath);
    } catch (e) {
      console.log(`\n## ${name}: not available (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    console.log(`\n## ${name}`);
    try {
      if (name === 'kafka') {
        // A private broker: the benchmark never disturbs a broker someone else is using.
        const { privateBroker } = require('../test/support/kafka-broker') as typeof import('../test/support/kafka-broker');
        const broker = await privateBroker();
        try {
          results[name] = await mod[fn]!({ quick, brokers: broker.brokers });
        } finally {
          await broker.destroy();
        }
      } else results[name] = await section(name, () => mod[fn]!({ quick }));
    } catch (e) {
      // One section failing (a broker that did not keep up) must not lose the sections after it.
      console.log(`  ${name} failed: ${(e as Error).message}`);
      results[name] = { failed: (e as Error).message };
    }
    save();
  }
  save();
  console.log(`\nsaved ${file}`);
};

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
