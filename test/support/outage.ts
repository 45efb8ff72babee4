import assert from 'node:assert/strict';
import { GqlRequestError, gql } from '../../src/cli/client';
import { callView, toCall } from '../../src/projections/call-history/view';
import { rowOf } from '../../src/projections/engine/projection-of';
import { rateCall } from '../../src/domain/rating/rating';
import { talkMsBetween } from '../../src/domain/call/call';
import type { CallEvent, CallInitiated } from '../../src/domain/call/events';
import type { EventStore, StoredEvent } from '../../src/ports/event-store';
import { openReadModels } from '../../src/projections';
import { ADMIN_KEY } from './server';

/**
 * Outage drills against a running `webdial serve`: shoppers and gateways placing calls through
 * HTTP while a dependency is stopped, a readiness watcher, the server's own metrics, and the
 * checks that nothing acknowledged was lost and nothing was applied twice.
 */

export interface Shop {
  merchant: string;
  link: string;
  gateway: string;
  ports: number;
  gatewayKey: string;
  merchantKey: string;
}

/** A merchant with room for every worker's call at once, a gateway with `ports` ports, a rate plan. */
export const setUpShop = async (url: string, ports = 16): Promise<Shop> => {
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(url, q, v, ADMIN_KEY);
  const merchant = (await admin(`mutation { createMerchant(input: { name: "Outage", maxConcurrentCalls: 100 }) { id } }`)).createMerchant.id as string;
  const center = (
    await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+442070000000", timeZone: "Europe/London", capacity: 100, region: "eu" }) { id } }`, { m: merchant })
  ).addCallCenter.id as string;
  const gateway = (
    await admin(`mutation($p: [PortInput!]!) { createGateway(input: { name: "G", region: "eu", ports: $p }) { id } }`, {
      p: Array.from({ length: ports }, (_, i) => ({ number: i + 1, ani: `+4420700${String(1000 + i)}` })),
    })
  ).createGateway.id as string;
  const link = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m: merchant, c: center })).createLink.id as string;
  await admin(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "GBP", connectionFeeMinor: 7, ratePerMinuteMinor: 12, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m: merchant });
  const gatewayKey = (await admin(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key as string;
  const merchantKey = (await admin(`mutation($m: ID) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m: merchant })).createApiKey.key as string;
  return { merchant, link, gateway, ports, gatewayKey, merchantKey };
};

const _STEPS = ['download', 'initiate', 'ringing', 'answer', 'terminate'] as const;
export type Step = (typeof _STEPS)[number];
/** The call state each acknowledged step guarantees. */
const STATE_AFTER: Record<Step, string> = { download: 'DOWNLOADED', initiate: 'INITIATED', ringing: 'RINGING', answer: 'ANSWERED', terminate: 'TERMINATED' };
const STATE_ORDER = ['DOWNLOADED', 'INITIATED', 'RINGING', 'ANSWERED', 'TERMINATED'];

export interface LoadResult {
  /** callId → the last step the server acknowledged. */
  acked: Map<string, Step>;
  completed: number;
  /** Answers that said UNAVAILABLE (a dependency down), or no answer at all (connection refused). */
  unavailable: number;
  /** The slowest refused request: a mutation must fail fast, never hang. */
  slowestFailureMs: number;
  /** Error answers other than UNAVAILABLE: none is expected. */
  unexpected: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `workers` shoppers, each with its gateway, placing calls one after another through the public
 * API until stop(): download → initiate → ringing → answered → (talk) → terminated. A step refused
 * with UNAVAILABLE is sent again after 200 ms, as a widget or a gateway's webhook would be; a
 * repeated step that meets CONFLICT was applied the first time (the answer was lost with the
 * connection), so it counts as done.
 */
export const startLoad = (url: string, shop: Shop, workers = 8) => {
  const result: LoadResult = { acked: new Map(), completed: 0, unavailable: 0, slowestFailureMs: 0, unexpected: [] };
  let stopping = false;
  const send = async <T>(step: Step, run: () => Promise<T>): Promise<T | 'done'> => {
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      try {
        return await run();
      } catch (e) {
        result.slowestFailureMs = Math.max(result.slowestFailureMs, Date.now() - started);
        const code = e instanceof GqlRequestError ? e.code : 'NO_ANSWER';
        if (code === 'CONFLICT' && attempt > 1) return 'done';
        if (code !== 'UNAVAILABLE' && code !== 'NO_ANSWER' && !(code === 'HTTP_503')) {
          result.unexpected.push(`${step}: ${(e as Error).message}`);
          throw e;
        }
        result.unavailable++;
        await sleep(200);
      }
    }
  };
  const gw = (q: string, id: string) => gql(url, q, { id }, shop.gatewayKey);
  const worker = async (w: number) => {
    while (!stopping) {
      try {
        const d = await send('download', async () =>
          (await gql(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: shop.merchant, linkId: shop.link, pageUrl: `https://shop.example/p/${w}`, customerId: `shopper-${w}` } }))
            .recordDownload as { callId: string; callToken: string },
        );
        if (d === 'done') continue;
        result.acked.set(d.callId, 'download');
        await send('initiate', () => gql(url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken }));
        result.acked.set(d.callId, 'initiate');
        await send('ringing', () => gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, d.callId));
        result.acked.set(d.callId, 'ringing');
        await send('answer', () => gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, d.callId));
        result.acked.set(d.callId, 'answer');
        await sleep(Math.floor(Math.random() * 1500)); // talk: some calls bill a second or more
        await send('terminate', () => gw(`mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, sipStatus: 200, gatewayEventId: "t") { id } }`, d.callId));
        result.acked.set(d.callId, 'terminate');
        result.completed++;
      } catch {
        await sleep(200); // recorded in `unexpected`; the test fails on it
      }
    }
  };
  const running = Array.from({ length: workers }, (_, i) => worker(i));
  return {
    result,
    /** Lets every worker finish the call it is in, then resolves with what was acknowledged. */
    stop: async (): Promise<LoadResult> => {
      stopping = true;
      await Promise.all(running);
      return result;
    },
  };
};

export interface RedPeriod {
  ms: number;
  /** The reasons /readyz gave, the first time it answered not-ready in this period. */
  reasons: Record<string, string>;
}

/** Polls GET /readyz every `everyMs` and records each period it answered anything but 200. */
export const watchReadiness = (url: string, everyMs = 100) => {
  const readyz = url.replace(/\/graphql$/, '/readyz');
  const periods: RedPeriod[] = [];
  const degradedPeriods: RedPeriod[] = [];
  let redSince: number | null = null;
  let degradedSince: number | null = null;
  let reasons: Record<string, string> = {};
  let degradedBy: Record<string, string> = {};
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      let ok = false;
      let body: { reasons?: Record<string, string>; degraded?: Record<string, string> } = {};
      try {
        const r = await fetch(readyz, { signal: AbortSignal.timeout(5_000) });
        ok = r.status === 200;
        body = (await r.json()) as typeof body;
      } catch (e) {
        body = { reasons: { http: `no answer: ${(e as Error).message}` } };
      }
      const now = Date.now();
      if (!ok && redSince === null) {
        redSince = now;
        reasons = body.reasons ?? {};
      } else if (ok && redSince !== null) {
        periods.push({ ms: now - redSince, reasons });
        redSince = null;
      }
      const degraded = Object.keys(body.degraded ?? {}).length > 0;
      if (degraded && degradedSince === null) {
        degradedSince = now;
        degradedBy = body.degraded!;
      } else if (!degraded && degradedSince !== null) {
        degradedPeriods.push({ ms: now - degradedSince, reasons: degradedBy });
        degradedSince = null;
      }
      await sleep(everyMs);
    }
  })();
  const wait = async (done: () => boolean, what: () => string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(what());
      await sleep(20);
    }
  };
  return {
    periods,
    /** Periods /readyz listed a dependency the server works without (Redis) under `degraded`. */
    degradedPeriods,
    /** Resolves once /readyz lists something under `degraded`. */
    degraded: (timeoutMs = 20_000) => wait(() => degradedSince !== null || degradedPeriods.length > 0, () => `readiness listed nothing as degraded for ${timeoutMs} ms`, timeoutMs),
    /** Resolves once /readyz no longer lists anything as degraded, after having done so `n` times. */
    notDegradedAfter: (n: number, timeoutMs = 60_000) => wait(() => degradedPeriods.length >= n, () => `still degraded after ${timeoutMs} ms`, timeoutMs),
    /** Resolves once /readyz has answered 200 again after having been red at least `n` times. */
    greenAfter: async (n: number, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (periods.length < n) {
        if (Date.now() > deadline) throw new Error(`readiness was red ${periods.length} time(s) and not green again within ${timeoutMs} ms${redSince ? ` (red for ${Date.now() - redSince} ms)` : ''}`);
        await sleep(50);
      }
    },
    /** Resolves once /readyz answered not-ready. */
    red: async (timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (redSince === null && periods.length === 0) {
        if (Date.now() > deadline) throw new Error(`readiness stayed green for ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    stop: async () => {
      stopped = true;
      await loop;
      return periods;
    },
  };
};

/** The sum of a counter (all its label sets) in the server's GET /metrics; 0 when absent. */
export const metric = async (url: string, name: string, labels: Record<string, string> = {}): Promise<number> => {
  const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).some(([k, v]) => !(m[2] ?? '').includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
  }
  return sum;
};

const allEvents = async (store: EventStore): Promise<StoredEvent[]> => {
  const out: StoredEvent[] = [];
  for (let after: string | null = null; ; ) {
    const batch = await store.readAll({ after, limit: 1000 });
    out.push(...batch);
    if (batch.length < 1000) return out;
    after = batch[batch.length - 1]!.position;
  }
};

/**
 * What a failed check needs to be understood: the store's head and the read side's checkpoints and
 * watermarks, and for the first calls not read as stored their events' positions against the
 * versions the projections recorded for their streams.
 */
const explainProblems = async (readDatabaseUrl: string, events: StoredEvent[], byCall: Map<string, StoredEvent[]>, problems: string[]): Promise<string> => {
  const { Client } = await import('pg');
  const c = new Client({ connectionString: readDatabaseUrl });
  await c.connect();
  try {
    const lines = [`store: ${events.length} events, head ${events.at(-1)?.position}`];
    for (const table of ['projection_checkpoint', 'projection_watermark'])
      lines.push(`${table}: ${JSON.stringify((await c.query(`select * from ${table} order by 1, 2`)).rows)}`);
    for (const problem of problems.slice(0, 3)) {
      const callId = problem.slice(0, problem.indexOf(':'));
      const stream = byCall.get(callId) ?? [];
      lines.push(`${problem}\n  events: ${stream.map((e) => `${e.type}@${e.position} v${e.streamVersion}`).join(', ')}`);
      const versions = (await c.query(`select projection, version, blocked from projection_stream where stream_id = $1 order by 1`, [`call-${callId}`])).rows;
      lines.push(`  projection_stream: ${JSON.stringify(versions)}`);
      const row = (await c.query(`select state, merchant_id, last_position from ch_calls where id = $1`, [callId])).rows[0] ?? null;
      lines.push(`  ch_calls row: ${JSON.stringify(row)}; ch_events: ${(await c.query(`select count(*)::int as n from ch_events where call_id = $1`, [callId])).rows[0].n}`);
    }
    return lines.join('\n');
  } catch (e) {
    return `(could not read the read side: ${(e as Error).message})`;
  } finally {
    await c.end();
  }
};

export interface Verified {
  calls: number;
  events: number;
  billedMinor: number;
}

/**
 * After the outage, once the read side has caught up with the store:
 * - every step the server acknowledged is readable (the call's state is at least that step's),
 *   and every call reads as the fold of its own stream says;
 * - billing equals a fold of the store: the total of `billingSummary` is the sum of every call
 *   rated from its events, and every projection's rows (`dump()`) equal a fresh rebuild of them
 *   from the whole store, in a schema of their own (nothing lost, nothing applied twice);
 * - no port is left seized, no dead letter, no blocked stream.
 */
export const verifyAfterOutage = async (opts: { url: string; shop: Shop; store: EventStore; readDatabaseUrl: string; acked: Map<string, Step> }): Promise<Verified> => {
  const { url, shop, store } = opts;
  const live = await openReadModels({ kind: 'postgres', dataDir: '/nonexistent', databaseUrl: opts.readDatabaseUrl, logger: { warn: () => undefined, error: () => undefined } });
  const freshSchema = `fold_${Math.random().toString(36).slice(2, 10)}`;
  const fresh = await openReadModels({ kind: 'postgres', dataDir: '/nonexistent', databaseUrl: opts.readDatabaseUrl, schema: freshSchema, logger: { warn: () => undefined, error: () => undefined } });
  try {
    // The read side catches up with the store (the supervisor may still append a timeout: follow the head).
    let events: StoredEvent[] = [];
    for (let round = 0; ; round++) {
      const head = await store.headPosition();
      const deadline = Date.now() + 60_000;
      for (;;) {
        const cp = await live.lowestCheckpoint();
        if (head === null || (cp !== null && cp >= head)) break;
        if (Date.now() > deadline) throw new Error(`the read side did not reach the store's head ${head} within 60 s (at ${cp})`);
        await sleep(100);
      }
      events = await allEvents(store);
      if (events.at(-1)?.position === head || round >= 5) break;
    }

    // Every acknowledged step is readable, and each call reads as its stream folds.
    const byCall = new Map<string, StoredEvent[]>();
    for (const e of events) if (e.streamId.startsWith('call-')) byCall.set(e.streamId.slice(5), [...(byCall.get(e.streamId.slice(5)) ?? []), e]);
    let billed = 0;
    const problems: string[] = [];
    for (const [callId, step] of opts.acked) {
      const stream = byCall.get(callId);
      if (!stream) {
        problems.push(`${callId}: acknowledged ${step} but not in the store`);
        continue;
      }
      const view = toCall(rowOf(callView, stream.map((e) => ({ type: e.type, data: e.data }) as CallEvent))!);
      if (STATE_ORDER.indexOf(view.state) < STATE_ORDER.indexOf(STATE_AFTER[step])) problems.push(`${callId}: acknowledged ${step}, stored state ${view.state}`);
      const read = (await gql(url, `query($id: ID!) { call(id: $id) { state talkSeconds charge { amountMinor } } }`, { id: callId }, shop.merchantKey)).call as {
        state: string;
        talkSeconds: number | null;
        charge: { amountMinor: number } | null;
      } | null;
      const plan = (stream.find((e) => e.type === 'CallInitiated') as CallInitiated | undefined)?.data.ratePlan;
      const amount = plan && view.answeredAt && view.terminatedAt ? rateCall(plan, view.destination!, talkMsBetween(view.answeredAt, view.terminatedAt)).amountMinor : 0;
      billed += amount;
      if (!read || read.state !== view.state || (read.charge?.amountMinor ?? 0) !== amount)
        problems.push(`${callId}: read ${JSON.stringify(read)}, the store folds to ${view.state} charged ${amount}`);
    }
    if (problems.length > 0) console.log(`# read side after the outage, for the calls not read as stored:\n${await explainProblems(opts.readDatabaseUrl, events, byCall, problems)}`);
    assert.deepEqual(problems, [], `${problems.length} acknowledged call(s) not read as stored`);

    const summary = (await gql(url, `query($m: ID!) { billingSummary(merchantId: $m, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { calls amountMinor } }`, { m: shop.merchant }, shop.merchantKey))
      .billingSummary as { amountMinor: number };
    assert.equal(summary.amountMinor, billed, 'the billed total equals the sum of the calls rated from the store: nothing lost, nothing charged twice');

    // Every projection's rows equal a fresh fold of the whole store.
    for (let i = 0; i < events.length; i += 500) {
      const batch = events.slice(i, i + 500);
      await fresh.applyAll({ events: batch, source: 'direct', watermark: batch.at(-1)!.position });
    }
    assert.deepEqual(await live.dump(), await fresh.dump(), 'every projection equals a fresh rebuild from the event store');

    const ports = (await gql(url, `query($g: ID!) { gateway(id: $g) { ports { number busy callId } } }`, { g: shop.gateway }, ADMIN_KEY)).gateway.ports as Array<{ busy: boolean }>;
    assert.deepEqual(ports.filter((p) => p.busy), [], 'no port is left seized after the outage');
    assert.deepEqual(await live.deadLetters({}), [], 'no event was dead-lettered');
    assert.deepEqual(await live.blocked(), [], 'no stream was blocked');
    return { calls: opts.acked.size, events: events.length, billedMinor: billed };
  } finally {
    await live.close();
    await fresh.close();
    const { Client } = await import('pg');
    const c = new Client({ connectionString: opts.readDatabaseUrl });
    await c.connect();
    await c.query(`drop schema if exists ${freshSchema} cascade`).finally(() => c.end());
  }
};
