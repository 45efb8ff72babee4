import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchEmbedded } from './e2e';
import { machine } from './stats';

/**
 * `npm run bench`: every benchmark in one run, printed and saved as JSON under bench/results/.
 *   BENCH_ONLY=embedded,pipeline,rebuild,eventstore,kafka,fanout   run a subset
 *   BENCH_REBUILD_EVENTS=N                  stored events for the rebuild benchmark (default 1,000,000)
 *   BENCH_QUICK=1                           smaller workloads (a smoke run)
 */
const main = async () => {
  const only = new Set((process.env.BENCH_ONLY ?? 'embedded,pipeline,rebuild,eventstore,kafka,fanout').split(',').map((s) => s.trim()));
  const quick = process.env.BENCH_QUICK === '1';
  const results: Record<string, unknown> = { at: new Date().toISOString(), machine: machine() };
  mkdirSync(join('bench', 'results'), { recursive: true });
  const file = join('bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  // Saved after every section, so a long run that is stopped keeps what it measured.
  const save = () => writeFileSync(file, JSON.stringify(results, null, 2));
  if (only.has('embedded')) {
    console.log('\n## embedded stack: full calls through GraphQL (SQLite store, in-process bus, SQLite read models)');
    const r = await benchEmbedded({ calls: quick ? 200 : Number(process.env.BENCH_CALLS ?? 2000), concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32) });
    console.log(`  ${r.callsPerSecond} calls/s (${r.calls} calls, ${r.concurrency} concurrent, ${r.seconds} s); per call p50 ${r.callMs.p50} ms, p99 ${r.callMs.p99} ms; by quarter ${r.quarterCallsPerSecond.join(' / ')} calls/s; server CPU ${r.serverCpuMsPerCall} ms per call`);
    console.log(`  append → projection row: p50 ${r.appendToProjectionMs.p50} ms, p99 ${r.appendToProjectionMs.p99} ms (${r.appendToProjectionMs.samples} samples)`);
    results.embedded = r;
    save();
  }
  if (only.has('pipeline')) {
    console.log('\n## integration stack: the same calls through PostgreSQL store, Kafka, PostgreSQL read models');
    const { benchPipeline } = require('./pipeline') as typeof import('./pipeline');
    const r = await benchPipeline({ calls: quick ? 80 : 400 });
    console.log(`  ${r.callsPerSecond} calls/s, ${r.eventsPerSecond} events/s end to end (${r.calls} calls, ${r.concurrency} concurrent)`);
    console.log(`  append → projection row: p50 ${r.appendToProjectionMs.p50} ms, p99 ${r.appendToProjectionMs.p99} ms (${r.appendToProjectionMs.samples} samples)`);
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
    if (name === 'kafka') {
      // A private broker: the benchmark never disturbs a broker someone else is using.
      const { privateBroker } = require('../src/adapters/bus/kafka/test-broker') as typeof import('../src/adapters/bus/kafka/test-broker');
      const broker = await privateBroker();
      try {
        results[name] = await mod[fn]!({ quick, brokers: broker.brokers });
      } finally {
        await broker.destroy();
      }
    } else results[name] = await mod[fn]!({ quick });
    save();
  }
  save();
  console.log(`\nsaved ${file}`);
};

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
