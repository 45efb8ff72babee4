import * as projections from '../src/projections';
import { percentile, round } from './stats';

/**
 * The read side's transactions timed inside the benchmark's server (not a test): every
 * `applyAll(batch)` the projections' consumer runs, from call to commit, with its events. Installed
 * by wrapping `openReadModels` on the module's exports (the composition root looks it up at call
 * time), so that the same bench measures any revision of src/ without touching it.
 */
export const applyAllSamples: Array<{ ms: number; events: number; waitedMs: number[] }> = [];

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
        const now = Date.now();
        const t = process.hrtime.bigint();
        const out = await applyAll(batch);
        // How long each event waited between its append and the start of the transaction that applies it.
        const waitedMs = batch.events.map((e) => Math.max(0, now - Date.parse(e.recordedAt)));
        applyAllSamples.push({ ms: Number(process.hrtime.bigint() - t) / 1e6, events: batch.events.length, waitedMs });
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
  const waited = s.flatMap((x) => x.waitedMs);
  return {
    transactions: s.length,
    eventsPerTransaction: round(s.reduce((n, x) => n + x.events, 0) / s.length, 1),
    ms: { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), mean: round(ms.reduce((a, b) => a + b, 0) / ms.length) },
    // Append → the start of the transaction that applies the event: the part of the lag before the read side's own work.
    appendToApplyStartMs: { p50: round(percentile(waited, 50)), p99: round(percentile(waited, 99)) },
  };
};
