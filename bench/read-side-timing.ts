import * as projections from '../src/projections';
import { percentile, round } from './stats';

/**
 * The read side's transactions timed inside the benchmark's server (not a test): every
 * `applyAll(batch)` the projections' consumer runs, from call to commit, with its events. Installed
 * by wrapping `openReadModels` on the module's exports (the composition root looks it up at call
 * time), so that the same bench measures any revision of src/ without touching it.
 */
export const applyAllSamples: Array<{ ms: number; events: number }> = [];

let installed = false;
export const timeReadSide = (): void => {
  if (installed) return;
  installed = true;
  const open = projections.openReadModels;
  (projections as { openReadModels: typeof open }).openReadModels = async (config) => {
    const rm = await open(config);
    const applyAll = rm.applyAll.bind(rm);
    return {
      ...rm,
      applyAll: async (batch) => {
        const t = process.hrtime.bigint();
        const out = await applyAll(batch);
        applyAllSamples.push({ ms: Number(process.hrtime.bigint() - t) / 1e6, events: batch.events.length });
        return out;
      },
    };
  };
};

/** The applyAll transactions since sample `from` that carried events: count, events each, ms p50/p99/mean. */
export const readSideApplySince = (from: number) => {
  const s = applyAllSamples.slice(from).filter((x) => x.events > 0);
  if (s.length === 0) return null;
  const ms = s.map((x) => x.ms);
  return {
    transactions: s.length,
    eventsPerTransaction: round(s.reduce((n, x) => n + x.events, 0) / s.length, 1),
    ms: { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), mean: round(ms.reduce((a, b) => a + b, 0) / ms.length) },
  };
};
