import { readFileSync } from 'node:fs';
import type { Config } from '../composition/config';
import type { EventStore } from '../ports/event-store';
import { openReadModels, PROJECTION_NAMES } from '../projections';
import { progressBar } from '../projections/progress';
import type { RatePlan } from '../domain/rating/rate-plan';

const flag = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const readModelsOf = (config: Config) => openReadModels({ kind: config.readDb, dataDir: config.dataDir, databaseUrl: config.readDatabaseUrl ?? undefined });

/** `webdial projections rebuild <name>|--all`: replay into fresh tables, swap them in; the server keeps answering. */
export const projectionsCommand = async (config: Config, args: string[], store: EventStore): Promise<number> => {
  const [sub, target] = args;
  if (sub !== 'rebuild' || !target) {
    console.error(`usage: webdial projections rebuild <${PROJECTION_NAMES.join('|')}>|--all`);
    await store.close();
    return 1;
  }
  const names = target === '--all' ? 'all' : [target];
  const reads = await readModelsOf(config);
  try {
    const total = (await store.stats()).events;
    const bar = progressBar(`rebuild ${target === '--all' ? 'all projections' : target}`, total);
    const result = await reads.rebuild(names, (after, limit) => store.readAll({ after, limit }), total, (done, t) => bar.set(done, t));
    bar.done();
    console.log(`rebuilt ${result.projections.join(', ')} from ${result.events} events in ${result.seconds.toFixed(1)} s (${result.caughtUpInSwap} caught up during the swap, ${result.rerates} re-ratings replayed)`);
    return 0;
  } finally {
    await reads.close();
    await store.close();
  }
};

/** `webdial billing rerate --merchant M --from --to [--plan file] [--dry-run]`. */
export const billingCommand = async (config: Config, args: string[]): Promise<number> => {
  const [sub] = args;
  const merchantId = flag(args, '--merchant');
  const from = flag(args, '--from');
  const to = flag(args, '--to');
  if (sub !== 'rerate' || !merchantId || !from || !to) {
    console.error('usage: webdial billing rerate --merchant M --from ISO --to ISO [--plan file.json] [--dry-run]');
    return 1;
  }
  const planFile = flag(args, '--plan');
  const plan = planFile ? (JSON.parse(readFileSync(planFile, 'utf8')) as RatePlan) : null;
  const dryRun = args.includes('--dry-run');
  const reads = await readModelsOf(config);
  try {
    const r = await reads.rerate({ merchantId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), plan, dryRun });
    console.log(`${'call'.padEnd(24)} ${'old'.padStart(10)} ${'new'.padStart(10)} ${'diff'.padStart(10)}`);
    for (const l of r.lines) console.log(`${l.callId.padEnd(24)} ${String(l.oldAmountMinor).padStart(10)} ${String(l.newAmountMinor).padStart(10)} ${(l.diffMinor > 0 ? '+' : '') + l.diffMinor}`.replace(/(\S+)$/, (d) => d.padStart(10)));
    console.log(`${r.lines.length} call(s), total difference ${(r.totalDiffMinor > 0 ? '+' : '') + r.totalDiffMinor} minor units — ${r.applied ? 'applied' : 'dry run: nothing changed'}`);
    return 0;
  } finally {
    await reads.close();
  }
};
