import type { CallProgressSink } from '../../src/ports/media';

/** A CallProgressSink that records each report as `[kind, ...arguments]` into `into`, in order. */
export const recordingProgressSink = (into: unknown[][]): CallProgressSink => ({
  ringing: async (...a) => void into.push(['ringing', ...a]),
  answered: async (...a) => void into.push(['answered', ...a]),
  dtmf: async (...a) => void into.push(['dtmf', ...a]),
  terminated: async (...a) => void into.push(['terminated', ...a]),
});
