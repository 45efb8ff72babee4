import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gql, gqlRaw } from '../../src/cli/client';
import { createEventStore } from '../../src/adapters/eventstore';
import { ADMIN_KEY, eventually, startServer, tempDataDir, type ServerProcess } from '../support/server';
import { withPostgresDatabase } from '../support/postgres-db';

/**
 * Issue 5, concurrency: 200 simultaneous initiations against a gateway with 10 ports, through two
 * server processes on ONE event store (PostgreSQL, a fresh database; each process has its own data
 * directory, and with SQLite a second process on one data directory refuses to start, see
 * subscription-resume.e2e.ts). Exactly 10 calls seize a port and 190 are refused with NO_PORT; no port stream ever holds
 * two seizures without a release between them; after the 10 hang up every port is free again.
 *
 * The port's own stream, appended with an expected version, is the only thing that can make this
 * hold across processes: each process's in-memory index of busy ports is a hint that is stale while
 * the other process seizes.
 */

const PORTS = 10;
const CALLS = 200;

/** Environment shared by both processes: external media (nothing dials), no quarantine, no rate limit in the way. */
const COMMON_ENV = {
  WEBDIAL_MEDIA: 'external',
  WEBDIAL_ANI_QUARANTINE: '0',
  WEBDIAL_RATE_CLIENT_PER_MIN: '1000000',
  WEBDIAL_RATE_MERCHANT_PER_MIN: '10000000',
};

interface StoreSetup {
  /** Environment that points a process (server or CLI) at the one store (and shares the token secret: a call token issued by one process verifies on the other). */
  env: Record<string, string>;
  /** The data directory of each process. */
  dataDirs: [string, string];
}

interface PortEvent {
  type: string;
  data: { callId: string; port: number; gatewayId: string };
}

interface Outcome {
  index: number;
  via: 'A' | 'B';
  ok: boolean;
  state?: string;
  code?: string;
  message?: string;
  callId?: string;
  gatewayId?: string;
  port?: number;
  ani?: string;
  ms: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(0)} ms, p95 ${percentile(s, 95).toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`;
};

/** Runs `fn` over `items` with at most `limit` in flight. */
const pool = async <T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> => {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
};

/** Runs the webdial CLI on the store; resolves to its exit code and output. */
const cli = (args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/webdial.js', ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });

/** Accepts the CLI's `--json` output as one JSON array, an object with `events`, or one event per line. */
const parseEvents = (text: string): PortEvent[] | null => {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const v = JSON.parse(trimmed) as unknown;
    if (Array.isArray(v)) return v as PortEvent[];
    if (v && typeof v === 'object' && Array.isArray((v as { events?: unknown }).events)) return (v as { events: PortEvent[] }).events;
    if (v && typeof v === 'object' && 'type' in v) return [v as PortEvent];
  } catch {
    // not one document: try lines
  }
  try {
    return trimmed.split(/\r?\n/).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as PortEvent);
  } catch {
    return null;
  }
};

/** Reads every port stream of the gateway, in stream order, through the store adapter (one connection). */
const readPortStreams = async (setup: StoreSetup, gatewayId: string): Promise<Map<number, PortEvent[]>> => {
  const store = await createEventStore({ kind: 'postgres', dataDir: setup.dataDirs[0], databaseUrl: setup.env.DATABASE_URL });
  const streams = new Map<number, PortEvent[]>();
  try {
    for (let n = 1; n <= PORTS; n++) streams.set(n, (await store.readStream(`port-${gatewayId}_${n}`)).map((e) => ({ type: e.type, data: e.data as PortEvent['data'] })));
  } finally {
    await store.close();
  }
  return streams;
};

/** One port stream as the operator sees it: `webdial events read <stream> --json` (one JSON envelope a line). */
const readPortStreamWithCli = async (setup: StoreSetup, gatewayId: string, n: number): Promise<PortEvent[]> => {
  const r = await cli(['events', 'read', `port-${gatewayId}_${n}`, '--json'], { ...setup.env, WEBDIAL_DATA_DIR: setup.dataDirs[0] });
  assert.equal(r.code, 0, `webdial events read failed: ${r.stderr}`);
  const events = parseEvents(r.stdout);
  assert.ok(events, `webdial events read --json printed no JSON: ${r.stdout.slice(0, 200)}`);
  return events;
};

/**
 * Replays one port stream and fails on a second PortSeized before the PortReleased of the first, or a
 * release by a call that does not hold the port. Returns every seizing call and the holder at the end.
 */
const checkPortStream = (n: number, events: PortEvent[]): { seizedBy: string[]; holder: string | null } => {
  let holder: string | null = null;
  const seizedBy: string[] = [];
  events.forEach((e, i) => {
    assert.equal(e.data.port, n, `port ${n} event #${i + 1} names port ${e.data.port}`);
    if (e.type === 'PortSeized') {
      assert.equal(holder, null, `port ${n} seized twice: by ${holder} and, before its release, by ${e.data.callId} (event #${i + 1})`);
      holder = e.data.callId;
      seizedBy.push(e.data.callId);
    } else if (e.type === 'PortReleased') {
      assert.equal(e.data.callId, holder, `port ${n} released by ${e.data.callId} while held by ${holder} (event #${i + 1})`);
      holder = null;
    } else {
      assert.fail(`port ${n}: unexpected event ${e.type}`);
    }
  });
  return { seizedBy, holder };
};

/** The whole scenario against one store, with two processes A and B on it. */
const scenario = async (t: TestContext, setup: StoreSetup) => {
  let a: ServerProcess | null = null;
  let b: ServerProcess | null = null;
  try {
    const t0 = Date.now();
    // Progress on stdout as it happens (a TAP comment), so a slow phase on a loaded machine is visible.
    const mark = (what: string) => console.log(`port-concurrency ${setup.env.WEBDIAL_EVENT_STORE}: +${Date.now() - t0} ms ${what}`);
    a = await startServer({ ...COMMON_ENV, ...setup.env }, setup.dataDirs[0]);
    const admin = (q: string, v: Record<string, unknown> = {}) => gql(a!.url, q, v, ADMIN_KEY);

    // ---- configuration through A
    const { createMerchant } = await admin(`mutation { createMerchant(input: { name: "Port race shop" }) { id maxConcurrentCalls } }`);
    const merchantId: string = createMerchant.id;
    assert.equal(createMerchant.maxConcurrentCalls, null, 'the merchant has no concurrent-call limit');
    const { addCallCenter } = await admin(
      `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "Big center", phoneNumber: "+4930555000", timeZone: "Europe/Berlin", capacity: 1000, region: "eu-central" }) { id capacity } }`,
      { m: merchantId },
    );
    assert.equal(addCallCenter.capacity, 1000);
    const ports = Array.from({ length: PORTS }, (_, i) => ({ number: i + 1, ani: `+4930555${String(100 + i + 1)}` }));
    const { createGateway } = await admin(`mutation($p: [PortInput!]!) { createGateway(input: { name: "GW10", region: "eu-central", ports: $p }) { id ports { number } } }`, { p: ports });
    const gatewayId: string = createGateway.id;
    assert.equal(createGateway.ports.length, PORTS);
    const { createLink } = await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Call us", callCenterIds: [$c] }) { id } }`, { m: merchantId, c: addCallCenter.id });
    const linkId: string = createLink.id;
    await admin(
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 0, ratePerMinuteMinor: 5, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
      { m: merchantId },
    );
    const { createApiKey } = await admin(`mutation($m: ID) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m: merchantId });
    const merchantKey: string = createApiKey.key;

    // B starts after the configuration, on the same store: it catches up with the gateway before it
    // listens, so a NO_PORT from B cannot mean "B does not know the gateway yet".
    b = await startServer({ ...COMMON_ENV, ...setup.env }, setup.dataDirs[1]);
    const servers = { A: a, B: b } as const;
    const via = (i: number): 'A' | 'B' => (i % 2 === 0 ? 'A' : 'B');
    const setupMs = Date.now() - t0;
    mark('both servers up, configured');

    // ---- 200 downloads (split between the processes, 20 in flight)
    const tDownload = Date.now();
    const downloads = await pool(Array.from({ length: CALLS }, (_, i) => i), 20, async (i) => {
      const { recordDownload } = await gql(servers[via(i)].url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
        i: { merchantId, linkId, customerId: `cust-${i}`, pageUrl: `https://shop.example/p/${i}` },
      });
      return recordDownload as { callId: string; callToken: string };
    });
    const downloadMs = Date.now() - tDownload;
    mark('downloads done');
    assert.equal(new Set(downloads.map((d) => d.callId)).size, CALLS);

    // ---- 200 initiations at once, alternating A and B
    const tBurst = Date.now();
    const outcomes: Outcome[] = await Promise.all(
      downloads.map(async (d, i): Promise<Outcome> => {
        const start = Date.now();
        const r = await gqlRaw(
          servers[via(i)].url,
          `mutation($t: String!) { initiateCall(callToken: $t) { id state gatewayId port ani } }`,
          { t: d.callToken },
        );
        const ms = Date.now() - start;
        const call = (r.data as { initiateCall?: { id: string; state: string; gatewayId: string; port: number; ani: string } } | null | undefined)?.initiateCall;
        if (call) return { index: i, via: via(i), ok: true, state: call.state, callId: call.id, gatewayId: call.gatewayId, port: call.port, ani: call.ani, ms };
        return { index: i, via: via(i), ok: false, code: r.errors?.[0]?.extensions?.code, message: r.errors?.[0]?.message, callId: d.callId, ms };
      }),
    );
    const burstMs = Date.now() - tBurst;
    mark('burst done');

    const won = outcomes.filter((o) => o.ok);
    const lost = outcomes.filter((o) => !o.ok);
    const codes: Record<string, number> = {};
    for (const o of lost) codes[o.code ?? 'none'] = (codes[o.code ?? 'none'] ?? 0) + 1;
    const otherErrors = lost.filter((o) => o.code !== 'NO_PORT').slice(0, 3).map((o) => `${o.code}: ${o.message}`);
    t.diagnostic(`initiations: ${won.length} INITIATED (A ${won.filter((o) => o.via === 'A').length}, B ${won.filter((o) => o.via === 'B').length}), refusals ${JSON.stringify(codes)}`);

    assert.equal(won.length, PORTS, `exactly ${PORTS} initiations succeed; refusals ${JSON.stringify(codes)} ${otherErrors.join(' | ')}`);
    assert.equal(lost.length, CALLS - PORTS);
    assert.deepEqual(codes, { NO_PORT: CALLS - PORTS }, `every refusal is NO_PORT; others: ${otherErrors.join(' | ')}`);
    for (const o of won) {
      assert.equal(o.state, 'INITIATED');
      assert.equal(o.gatewayId, gatewayId);
    }
    assert.deepEqual(won.map((o) => o.port).sort((x, y) => x! - y!), ports.map((p) => p.number), 'the 10 calls hold the 10 ports, one each');
    assert.equal(new Set(won.map((o) => o.ani)).size, PORTS, 'and 10 distinct caller IDs');
    for (const o of won) assert.equal(o.ani, ports[o.port! - 1]!.ani, `call on port ${o.port} carries that port's ANI`);

    // ---- the port streams: every seizure is one of the 10 winners, never two at once on a port
    const held = await readPortStreams(setup, gatewayId);
    const seizedBy: string[] = [];
    for (const [n, events] of held) {
      const r = checkPortStream(n, events);
      seizedBy.push(...r.seizedBy);
      const winner = won.find((o) => o.port === n)!;
      assert.equal(r.holder, winner.callId, `port ${n} is held by the call that was told it got it`);
    }
    assert.deepEqual([...seizedBy].sort(), won.map((o) => o.callId!).sort(), 'exactly the 10 winners ever seized a port');

    mark('port streams checked');
    // ---- the refused calls ended with NO_PORT (read side, once it caught up)
    const lostIds = lost.map((o) => o.callId!).sort();
    const tReadBack = Date.now();
    await eventually(
      async () => {
        const { calls } = await gql(a!.url, `{ calls(first: 500, filter: { state: TERMINATED }) { edges { node { id terminationCause } } } }`, {}, merchantKey);
        const ended = (calls.edges as Array<{ node: { id: string; terminationCause: string } }>).map((e) => e.node);
        const noPort = ended.filter((c) => c.terminationCause === 'NO_PORT').map((c) => c.id).sort();
        if (noPort.length < lostIds.length) {
          const { calls: all } = await gql(a!.url, `{ calls(first: 500) { edges { node { state } } } }`, {}, merchantKey);
          const byState: Record<string, number> = {};
          for (const e of all.edges as Array<{ node: { state: string } }>) byState[e.node.state] = (byState[e.node.state] ?? 0) + 1;
          throw new Error(`${noPort.length} read as TERMINATED / NO_PORT so far; the read side has ${JSON.stringify(byState)}`);
        }
        assert.deepEqual(noPort, lostIds, 'exactly the refused calls ended with NO_PORT');
        assert.equal(ended.length, lostIds.length, 'and no other call ended');
        return true;
      },
      30_000,
      `the ${CALLS - PORTS} refused calls to read as TERMINATED / NO_PORT`,
    );

    const readBackMs = Date.now() - tReadBack;
    mark('refused calls read back');
    // ---- the 10 hang up (through the other process than the one that initiated half of the time)
    const tHangUp = Date.now();
    const hungUp = await Promise.all(
      won.map(async (o, k) => {
        const server = k % 2 === 0 ? a! : b!;
        const { hangUp } = await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state terminationCause terminatedBy } }`, { t: downloads[o.index]!.callToken });
        return hangUp as { state: string; terminationCause: string; terminatedBy: string };
      }),
    );
    for (const h of hungUp) assert.deepEqual(h, { state: 'TERMINATED', terminationCause: 'HANGUP', terminatedBy: 'CALLER' });

    // Every port reads as free on both processes once the projection has caught up.
    for (const server of [a, b]) {
      await eventually(
        async () => {
          const { gateway } = await gql(server.url, `query($id: ID!) { gateway(id: $id) { ports { number busy callId } } }`, { id: gatewayId }, ADMIN_KEY);
          return gateway && gateway.ports.length === PORTS && gateway.ports.every((p: { busy: boolean }) => !p.busy);
        },
        20_000,
        `every port of ${gatewayId} to read free`,
      );
    }
    const releaseMs = Date.now() - tHangUp;
    mark('ports read free');

    const released = await readPortStreams(setup, gatewayId);
    for (const [n, events] of released) {
      const r = checkPortStream(n, events);
      assert.equal(r.holder, null, `port ${n} is released in its stream`);
      assert.deepEqual(events.map((e) => e.type), ['PortSeized', 'PortReleased'], `port ${n}: one seizure, one release`);
    }
    // The operator's view of one port stream (the CLI) agrees.
    const viaCli = await readPortStreamWithCli(setup, gatewayId, 1);
    assert.deepEqual(viaCli.map((e) => [e.type, e.data.callId]), released.get(1)!.map((e) => [e.type, e.data.callId]));

    // A new call can seize a port again (no quarantine): release is real, not only in the read model.
    const { recordDownload } = await gql(b.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callToken } }`, { i: { merchantId, linkId, pageUrl: 'https://shop.example/again' } });
    const again = await gql(a.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: recordDownload.callToken });
    assert.equal(again.initiateCall.state, 'INITIATED');

    t.diagnostic(
      `timings: two servers up + configuration ${setupMs} ms; ${CALLS} downloads ${downloadMs} ms; ` +
        `${CALLS} simultaneous initiations ${burstMs} ms wall (winners ${stats(won.map((o) => o.ms))}; NO_PORT ${stats(lost.map((o) => o.ms))}); ` +
        `read side shows the ${CALLS - PORTS} NO_PORT calls ${readBackMs} ms later; ` +
        `hang-up of ${PORTS} until every port reads free on both processes ${releaseMs} ms`,
    );
  } catch (e) {
    // A failure in a child process shows only here: keep the end of each server's log.
    for (const [name, server] of [['A', a], ['B', b]] as const) {
      if (!server) continue;
      const file = join(server.dataDir, `server-${name}.log`);
      writeFileSync(file, server.output());
      console.log(`server ${name} output (whole log in ${file}), tail:\n${server.output().slice(-3000)}`);
    }
    throw e;
  } finally {
    await Promise.all([a?.stop(), b?.stop()]);
  }
};

test('PostgreSQL: 200 simultaneous initiations, 10 ports, two processes on one database', { timeout: 180_000 }, (t) =>
  withPostgresDatabase(t, 'webdial_ports', (db) => scenario(t, { env: db.env, dataDirs: [tempDataDir('webdial-ports-a-'), tempDataDir('webdial-ports-b-')] })),
);
