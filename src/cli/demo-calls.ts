import { gql, GqlRequestError } from './client';
import { progressBar } from '../projections';
import type { DemoSeed } from '../composition/demo';

export interface DemoCallsSummary {
  calls: number;
  byOutcome: Record<string, number>;
  billedMinor: number;
  currency: string;
  seconds: number;
}

const DOWNLOAD = `mutation($input: DownloadInput!) { recordDownload(input: $input) { callId callToken } }`;
const INITIATE = `mutation($t: String!) { initiateCall(callToken: $t) { id state } }`;
const CALL = `query($id: ID!) { call(id: $id) { state terminationCause } }`;
const BILLING = `query($m: ID!, $from: DateTime!, $to: DateTime!) { billingSummary(merchantId: $m, from: $from, to: $to) { currency amountMinor calls } }`;

/**
 * Drives `count` simulated calls through the public API of a running server, `concurrency` at a
 * time: download as the widget, initiate, then wait until the simulated call center ends the call.
 */
export const demoCalls = async (url: string, seed: DemoSeed, count: number, concurrency: number, log: (s: string) => void = console.log): Promise<DemoCallsSummary> => {
  const started = new Date();
  const bar = progressBar('calls', count);
  const byOutcome: Record<string, number> = {};
  const note = (k: string) => (byOutcome[k] = (byOutcome[k] ?? 0) + 1);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        const { recordDownload } = await gql<{ recordDownload: { callId: string; callToken: string } }>(url, DOWNLOAD, {
          input: { merchantId: seed.merchantId, linkId: seed.linkId, customerId: `demo-customer-${i}`, pageUrl: `https://shop.example/product/${i % 7}`, referrer: 'https://search.example/', context: { cart: i % 3 } },
        });
        const callId = recordDownload.callId;
        await gql(url, INITIATE, { t: recordDownload.callToken });
        for (;;) {
          await new Promise((r) => setTimeout(r, 200));
          const { call } = await gql<{ call: { state: string; terminationCause: string | null } | null }>(url, CALL, { id: callId }, seed.keys.merchant);
          if (call?.state === 'TERMINATED') {
            note(`TERMINATED/${call.terminationCause}`);
            break;
          }
        }
      } catch (e) {
        note(e instanceof GqlRequestError ? `REFUSED/${e.code}` : `ERROR/${(e as Error).message.slice(0, 40)}`);
      }
      bar.tick();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  bar.done();
  const { billingSummary } = await gql<{ billingSummary: { amountMinor: number; currency: string; calls: number } }>(url, BILLING, { m: seed.merchantId, from: new Date(started.getTime() - 1000).toISOString(), to: new Date(Date.now() + 1000).toISOString() }, seed.keys.merchant);
  const summary = { calls: count, byOutcome, billedMinor: billingSummary.amountMinor, currency: billingSummary.currency, seconds: (Date.now() - started.getTime()) / 1000 };
  log(`\n${count} calls in ${summary.seconds.toFixed(1)} s`);
  for (const [k, v] of Object.entries(byOutcome).sort()) log(`  ${k.padEnd(28)} ${v}`);
  log(`  total billed: ${(summary.billedMinor / 100).toFixed(2)} ${summary.currency} (${summary.billedMinor} minor units, ${billingSummary.calls} charged calls)`);
  return summary;
};
