import { gql } from '../src/cli/client';
import { percentile, round } from './stats';

/** What a load run needs: the server, the keys and ids it set up, and how many calls to place. */
export interface LoadSpec {
  url: string;
  gatewayKey: string;
  merchantId: string;
  linkId: string;
  calls: number;
  concurrency: number;
  /**
   * Paced: call i starts no earlier than i / ratePerSecond seconds after the first (an open-loop
   * arrival rate, as shoppers arrive), with `concurrency` calls at most in progress. Default: as
   * fast as `concurrency` callers go (closed loop).
   */
  ratePerSecond?: number;
}

export interface LoadResult {
  calls: number;
  concurrency: number;
  seconds: number;
  callsPerSecond: number;
  /** One full call: download → initiate → ringing → answer → terminate, as a shopper and its gateway see it. */
  callMs: { p50: number; p99: number; max: number };
  /** Rate over each quarter of the run, in order: a rate that falls as history grows shows here. */
  quarterCallsPerSecond: number[];
  errors: number;
}

/**
 * Places full calls through the public GraphQL API over HTTP, `concurrency` at a time, the way the
 * widget and a gateway do: five mutations per call. Runs in a process of its own (see e2e.ts), so
 * that the server's CPU profile holds the server alone.
 */
export const placeCalls = async (spec: LoadSpec): Promise<LoadResult> => {
  const { url, gatewayKey: gw } = spec;
  const durations: number[] = [];
  const finishedAt: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < spec.calls) {
      const i = next++;
      if (spec.ratePerSecond) {
        const due = started + (i * 1000) / spec.ratePerSecond - performance.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
      }
      const t0 = performance.now();
      try {
        const d = (await gql(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: spec.merchantId, linkId: spec.linkId, pageUrl: 'https://shop.example/p' } })).recordDownload;
        await gql(url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken });
        await gql(url, `mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, { id: d.callId }, gw);
        await gql(url, `mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: d.callId }, gw);
        await gql(url, `mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, gatewayEventId: "t") { id } }`, { id: d.callId }, gw);
      } catch (e) {
        errors++;
        if (errors <= 3) console.error(`load: call failed: ${(e as Error).message}`);
      }
      const t1 = performance.now();
      durations.push(t1 - t0);
      finishedAt.push(t1 - started);
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  finishedAt.sort((a, b) => a - b);
  const quarter = Math.floor(finishedAt.length / 4);
  const quarters = [0, 1, 2, 3].map((q) => {
    const from = q === 0 ? 0 : finishedAt[q * quarter - 1]!;
    const to = finishedAt[Math.min(finishedAt.length, (q + 1) * quarter) - 1]!;
    return round((quarter * 1000) / Math.max(1, to - from), 1);
  });
  return {
    calls: spec.calls,
    concurrency: spec.concurrency,
    seconds: round(seconds, 2),
    callsPerSecond: round(spec.calls / seconds, 1),
    callMs: { p50: round(percentile(durations, 50)), p99: round(percentile(durations, 99)), max: round(Math.max(...durations)) },
    quarterCallsPerSecond: quarters,
    errors,
  };
};

// As a child process: the spec as JSON in argv[2], the result as one JSON line on stdout.
if (require.main === module) {
  placeCalls(JSON.parse(process.argv[2]!) as LoadSpec).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
