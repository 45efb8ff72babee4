/** Percentile of a sample (nearest rank), in the sample's unit. */
export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export const machine = () => {
  const os = require('node:os') as typeof import('node:os');
  return { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGiB: round(os.totalmem() / 2 ** 30, 1) };
};
