import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/composition/logger';
import { startWebdial, type Webdial } from '../src/composition/app';
import { gql } from '../src/cli/client';
import { callStreamId } from '../src/domain/shared/streams';
import { progressBar } from '../src/projections';
import { ADMIN, benchConfig, setUpBench, type BenchSetup } from './e2e';
import { percentile, round } from './stats';

/** What one round measured (see benchQueue). */
interface Round {
  /** initiateCall of a shopper who joins the queue: the mutation's time, as the widget waits for it. */
  joinMs: number[];
  /** An agent's call ends (reportTerminated sent) → the queue's head is INITIATED at the center. */
  dispatchMs: number[];
  /** Of which the reportTerminated round trip (the call's end, its slot and port freed: the answer). */
  endMs: number[];
  /** The heads served, in order, against the order they joined. */
  inOrder: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = (xs: number[]) => ({ samples: xs.length, p50: round(percentile(xs, 50)), p99: round(percentile(xs, 99)), max: round(Math.max(...xs)) });

/**
 * The queue of a call center (issue 25), through the public API on the embedded stack: a center of
 * `capacity` agents, all busy; `waiting` shoppers click and join its queue; then the agents' calls end
 * one at a time, and each freed slot is measured until the queue's head is INITIATED there (the
 * dispatcher is the `queue-dispatcher` cluster process of this single instance); the served call is
 * answered and takes the slot. `rounds` such rounds grow the queue's stream (a join and a dispatch per
 * shopper) and the calls' history; the last rounds run after a restart, on that history: the figure
 * is whether a dispatch costs more with a longer queue history (it should not: the stream cache
 * and its snapshots, src/app/stream-cache.ts).
 */
export const benchQueue = async (opts: { capacity?: number; waiting?: number; rounds?: number } = {}) => {
  const capacity = opts.capacity ?? 4;
  const waiting = opts.waiting ?? 50;
  const rounds = opts.rounds ?? 20;
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-queue-'));
  const config = benchConfig(dataDir);
  const logger = createLogger('warn');
  let app: Webdial = await startWebdial(config, logger);
  try {
    const setup = await setUpBench(app, capacity * 2 + 2, capacity);
    await gql(app.url, `mutation($m: ID!, $l: ID!) { setLinkQueuePolicy(merchantId: $m, linkId: $l, maxWaitSeconds: 3600, maxLength: 1000) { id } }`, { m: setup.merchantId, l: setup.linkId }, ADMIN);
    const before: Round[] = [];
    const bar = progressBar(`  ${rounds} rounds of ${waiting} queued shoppers at a center of ${capacity}`, rounds);
    for (let i = 0; i < rounds - 1; i++) {
      before.push(await queueRound(app, setup, capacity, waiting));
      bar.set(i + 1);
    }
    // The last round after a restart: the dispatcher folds the queue's long stream from its snapshot.
    await app.stop();
    const restartedAt = Date.now();
    app = await startWebdial(config, logger);
    const restartSeconds = (Date.now() - restartedAt) / 1000;
    const afterRestart = await queueRound(app, setup, capacity, waiting);
    bar.set(rounds);
    bar.done();
    const queueEvents = (await app.store.readStream(`queue-${setup.callCenterId}`)).length;
    const first = before[0]!;
    return {
      capacity,
      waiting,
      rounds,
      queueStreamEvents: queueEvents,
      inOrder: [...before, afterRestart].every((r) => r.inOrder),
      firstRound: { joinMs: stats(first.joinMs), dispatchMs: stats(first.dispatchMs) },
      lastRoundBeforeRestart: { joinMs: stats(before.at(-1)!.joinMs), dispatchMs: stats(before.at(-1)!.dispatchMs) },
      allRounds: { joinMs: stats(before.flatMap((r) => r.joinMs)), dispatchMs: stats(before.flatMap((r) => r.dispatchMs)), endMs: stats(before.flatMap((r) => r.endMs)) },
      afterRestart: { restartSeconds: round(restartSeconds, 2), joinMs: stats(afterRestart.joinMs), dispatchMs: stats(afterRestart.dispatchMs) },
      dispatchP50ByRound: before.map((r) => round(percentile(r.dispatchMs, 50))),
    };
  } finally {
    await app.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
};

/** One round: the center filled, `waiting` shoppers queued, then served one freed slot at a time. */
const queueRound = async (app: Webdial, setup: BenchSetup, capacity: number, waiting: number): Promise<Round> => {
  const gw = (q: string, id: string) => gql(app.url, q, { id }, setup.gatewayKey);
  const click = async () => {
    const d = (await gql(app.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: setup.merchantId, linkId: setup.linkId, pageUrl: 'https://shop.example/p' } })).recordDownload;
    const started = performance.now();
    const r = (await gql(app.url, `mutation($t: String!) { initiateCall(callToken: $t) { id state queue { position } } }`, { t: d.callToken })).initiateCall;
    return { callId: d.callId as string, ms: performance.now() - started, queued: r.queue !== null };
  };
  const answer = async (callId: string) => {
    await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, callId);
    await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, callId);
  };
  const end = (callId: string) => gw(`mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, gatewayEventId: "t") { id } }`, callId);
  const initiated = async (callId: string) => {
    for (;;) {
      const events = await app.store.readStream(callStreamId(callId));
      if (events.some((e) => e.type === 'CallInitiated')) return;
      if (events.some((e) => e.type === 'CallTerminated')) throw new Error(`queued call ${callId} ended instead of being served`);
      await sleep(1);
    }
  };

  const active: string[] = [];
  for (let i = 0; i < capacity; i++) {
    const c = await click();
    if (c.queued) throw new Error('the center was not free at the start of a round');
    await answer(c.callId);
    active.push(c.callId);
  }
  const queued: string[] = [];
  const joinMs: number[] = [];
  for (let i = 0; i < waiting; i++) {
    const c = await click();
    if (!c.queued) throw new Error(`shopper ${i + 1} was not queued`);
    queued.push(c.callId);
    joinMs.push(c.ms);
  }
  const dispatchMs: number[] = [];
  const endMs: number[] = [];
  const served: string[] = [];
  for (let i = 0; i < waiting; i++) {
    const started = performance.now();
    await end(active.shift()!);
    endMs.push(performance.now() - started);
    // The head is the oldest still waiting; which call was served is read from the stream, not assumed.
    const head = queued[i]!;
    await initiated(head);
    dispatchMs.push(performance.now() - started);
    served.push(head);
    await answer(head);
    active.push(head);
  }
  for (const callId of active.splice(0)) await end(callId);
  await app.settle(60_000);
  const dispatched = (await app.store.readStream(`queue-${setup.callCenterId}`)).filter((e) => e.type === 'QueueCallDispatched').slice(-waiting).map((e) => (e.data as { callId: string }).callId);
  return { joinMs, dispatchMs, endMs, inOrder: JSON.stringify(dispatched) === JSON.stringify(served) };
};

if (require.main === module) {
  benchQueue({ rounds: Number(process.env.BENCH_QUEUE_ROUNDS ?? 20) }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
