import { readFileSync } from 'node:fs';
import type { Config } from '../composition/config';
import type { EventStore } from '../ports/event-store';
import { openReadModels, progressBar, PROJECTION_NAMES } from '../projections';
import type { RatePlan } from '../domain/rating/rate-plan';
import { instantOption, parseCommand, synopsis, UsageError } from './args';
import { COMMANDS } from './commands';


const readModelsOf = (config: Config) => openReadModels({ kind: config.readDb, dataDir: config.dataDir, databaseUrl: config.readDatabaseUrl ?? undefined });

/** `webdial projections rebuild <name>|--all`: replay into fresh tables, swap them in; the server keeps answering. */
export const projectionsCommand = async (config: Config, args: string[], store: EventStore): Promise<number> => {
  const spec = COMMANDS['projections rebuild'];
  let target: string;
  try {
    const { values, positionals } = parseCommand(spec, args.slice(1));
    if (values.all === true && positionals.length > 0) throw new UsageError('name a projection or --all, not both', synopsis(spec));
    if (values.all !== true && positionals.length === 0) throw new UsageError(`name a projection (${PROJECTION_NAMES.join(', ')}) or --all`, synopsis(spec));
    target = values.all === true ? '--all' : positionals[0];
  } catch (e) {
    await store.close();
    throw e;
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
  const spec = COMMANDS['billing rerate'];
  const { values } = parseCommand(spec, args.slice(1));
  for (const required of ['merchant', 'from', 'to'])
    if (typeof values[required] !== 'string') throw new UsageError(`--${required} is required`, synopsis(spec));
  const merchantId = values.merchant as string;
  const from = instantOption(spec, values.from, 'from');
  const to = instantOption(spec, values.to, 'to');
  const plan = typeof values.plan === 'string' ? (JSON.parse(readFileSync(values.plan, 'utf8')) as RatePlan) : null;
  const dryRun = values['dry-run'] === true;
  const reads = await readModelsOf(config);
  try {
    const r = await reads.rerate({ merchantId, from, to, plan, dryRun });
    const cols = (...v: string[]) => v.map((x, i) => (i === 0 ? x.padEnd(24) : x.padStart(i === 1 ? 10 : 8))).join(' ');
    console.log(cols('call', 'talk s', 'old s', 'new s', 'old', 'new', 'diff'));
    for (const l of r.lines)
      console.log(
        cols(l.callId, (l.talkMs / 1000).toFixed(3), String(l.oldBillableSeconds), String(l.newBillableSeconds), String(l.oldAmountMinor), String(l.newAmountMinor), (l.diffMinor > 0 ? '+' : '') + l.diffMinor),
      );
    console.log(`${r.lines.length} call(s), total difference ${(r.totalDiffMinor > 0 ? '+' : '') + r.totalDiffMinor} minor units — ${r.applied ? 'applied' : 'dry run: nothing changed'}`);
    return 0;
  } finally {
    await reads.close();
  }
};
