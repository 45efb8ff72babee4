import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ANY,
  BACKWARDS,
  END,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamDeletedError,
  streamNameFilter,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { KurrentDbDouble } from '../support/kurrentdb-double';

/*
 * The double's own rules, pinned through the official client (its gRPC half for appends and
 * subscriptions, its native bridge for reads), each against the KurrentDB source it comes from (see the
 * comments in test/support/kurrentdb-double.ts). With KURRENTDB_URL set, the same cases run against that
 * real server, which is how a rule here is checked against the real thing.
 */
const realServer = process.env.KURRENTDB_URL;
const BATCH_APPEND = '/event_store.client.streams.Streams/BatchAppend';

describe(`KurrentDB protocol rules (${realServer ? 'real server at KURRENTDB_URL' : 'wire-level double'})`, () => {
  let double: KurrentDbDouble | null = null;
  let client: KurrentDBClient;
  let n = 0;
  /** A stream name no other case (or earlier run on a real server) uses. */
  const stream = (what: string) => `rules-${what}-${process.pid}-${Date.now()}-${++n}`;
  const ev = (type = 'Happened', data: Record<string, unknown> = {}) => jsonEvent({ type, data });
  const drain = async (it: AsyncIterable<ResolvedEvent>) => {
    const out: ResolvedEvent[] = [];
    for await (const e of it) out.push(e);
    return out;
  };

  before(async () => {
    if (!realServer) double = await KurrentDbDouble.start();
    client = KurrentDBClient.connectionString(realServer ?? double!.url);
  });
  after(async () => {
    await client.dispose();
    await double?.stop();
  });

  test('positions: commit = prepare = the event\'s own log offset; an append answers with its last event\'s; $all is in that order', async () => {
    const s = stream('pos');
    const r = await client.appendToStream(s, [ev('A'), ev('B'), ev('C')], { streamState: NO_STREAM });
    assert.equal(r.nextExpectedRevision, 2n);
    const read = await drain(client.readStream(s));
    const positions = read.map((e) => e.event!.position!);
    for (const p of positions) assert.equal(p.commit, p.prepare, 'implicit transactions: every prepare commits itself');
    assert.ok(positions[0]!.commit > 0n, 'a node is never empty: system records come first');
    assert.ok(positions[0]!.commit < positions[1]!.commit && positions[1]!.commit < positions[2]!.commit);
    assert.deepEqual(r.position, positions[2], 'the append reports the CommitIndexed position: its last prepare');
    const all = await drain(client.readAll({ fromPosition: positions[0]!, maxCount: 3 }));
    assert.deepEqual(all.map((e) => e.event!.id), read.map((e) => e.event!.id), 'forwards from a position includes it');
    const back = await drain(client.readAll({ fromPosition: positions[2]!, direction: BACKWARDS, maxCount: 2 }));
    assert.deepEqual(back.map((e) => e.event!.type), ['B', 'A'], 'backwards from a position excludes it');
    const head = await drain(client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 }));
    assert.deepEqual(head[0]!.event!.position, positions[2]);
  });

  for (const path of ['BatchAppend', 'Append'] as const) {
    test(`expected revisions through Streams.${path}: any, no_stream, stream_exists, exact; wrong ones carry both sides`, async () => {
      // The client uses BatchAppend when the server lists it, except with per-call credentials: then Append.
      const opts = path === 'Append' ? { credentials: { username: 'admin', password: 'changeit' } } : {};
      const before = double?.writes[path] ?? 0;
      const s = stream(`ev-${path}`);
      const wrong = async (streamState: typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS | bigint, expected: unknown, actual: unknown) =>
        assert.rejects(client.appendToStream(s, ev('Bad'), { ...opts, streamState }), (e: unknown) => {
          assert.ok(e instanceof WrongExpectedVersionError, String(e));
          assert.equal(e.streamName, s);
          assert.equal(e.expectedState, expected);
          assert.equal(e.actualState, actual);
          return true;
        });
      await wrong(STREAM_EXISTS, 'stream_exists', 'no_stream');
      await wrong(0n, 0n, 'no_stream');
      assert.equal((await client.appendToStream(s, [ev(), ev()], { ...opts, streamState: NO_STREAM })).nextExpectedRevision, 1n);
      await wrong(NO_STREAM, 'no_stream', 1n);
      await wrong(0n, 0n, 1n);
      await wrong(5n, 5n, 1n);
      assert.equal((await client.appendToStream(s, ev(), { ...opts, streamState: 1n })).nextExpectedRevision, 2n);
      assert.equal((await client.appendToStream(s, ev(), { ...opts, streamState: STREAM_EXISTS })).nextExpectedRevision, 3n);
      assert.equal((await client.appendToStream(s, ev(), { ...opts, streamState: ANY })).nextExpectedRevision, 4n);
      assert.deepEqual((await drain(client.readStream(s))).map((e) => e.event!.type), ['Happened', 'Happened', 'Happened', 'Happened', 'Happened']);
      if (double) assert.equal(double.writes[path] - before, 9, `all nine writes went through ${path}`);
    });
  }

  test('idempotent appends: the same event ids at the same expected revision succeed again and write nothing', async () => {
    const s = stream('idem');
    const batch = [jsonEvent({ type: 'A', data: {} }), jsonEvent({ type: 'B', data: {} })];
    const first = await client.appendToStream(s, batch, { streamState: NO_STREAM });
    const again = await client.appendToStream(s, batch, { streamState: NO_STREAM });
    assert.equal(again.nextExpectedRevision, first.nextExpectedRevision);
    const anyAgain = await client.appendToStream(s, batch, { streamState: ANY });
    assert.equal(anyAgain.nextExpectedRevision, 1n);
    assert.equal((await drain(client.readStream(s))).length, 2);
  });

  test('stream not found and stream deleted: a read of a missing stream says not found; a tombstone refuses appends and reads', async () => {
    await assert.rejects(drain(client.readStream(stream('missing'))), StreamNotFoundError);
    const s = stream('tomb');
    await client.appendToStream(s, ev());
    await client.tombstoneStream(s);
    await assert.rejects(client.appendToStream(s, ev(), { streamState: ANY }), StreamDeletedError);
    await assert.rejects(client.appendToStream(s, ev(), { streamState: ANY, credentials: { username: 'admin', password: 'changeit' } }), StreamDeletedError);
    await assert.rejects(drain(client.readStream(s)), StreamDeletedError);
    const tomb = (await drain(client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 })))[0]!;
    assert.equal(tomb.event!.streamId, s);
    assert.equal(tomb.event!.type, '$streamDeleted');
  });

  test('$maxCount: a stream read returns only the newest N events; $all still holds the rest until a scavenge', async () => {
    const s = stream('max');
    await client.setStreamMetadata(s, { maxCount: 2 });
    for (let i = 0; i < 5; i++) await client.appendToStream(s, ev('E', { i }));
    assert.deepEqual((await drain(client.readStream(s))).map((e) => (e.event!.data as { i: number }).i), [3, 4]);
    assert.deepEqual((await drain(client.readStream(s, { fromRevision: END, direction: BACKWARDS }))).map((e) => e.event!.revision), [4n, 3n]);
    const all = await drain(client.readAll({ fromPosition: START, filter: streamNameFilter({ prefixes: [s] }) }));
    assert.equal(all.filter((e) => e.event!.streamId === s).length, 5);
    assert.deepEqual((await client.getStreamMetadata(s)).metadata, { maxCount: 2 });
  });

  test('catch-up subscriptions: strictly after the start, caught-up once, then live in commit order', async () => {
    const s = stream('sub');
    const first = await client.appendToStream(s, [ev('E', { i: 0 }), ev('E', { i: 1 }), ev('E', { i: 2 })]);
    const fromRevision = client.subscribeToStream(s, { fromRevision: 0n });
    let caughtUp = 0;
    fromRevision.on('caughtUp', () => caughtUp++);
    const got: number[] = [];
    setTimeout(() => void client.appendToStream(s, ev('E', { i: 3 })), 100);
    for await (const e of fromRevision) {
      got.push((e.event!.data as { i: number }).i);
      if (got.length === 3) break;
    }
    assert.deepEqual(got, [1, 2, 3], 'from revision 0: revisions 1.. (0 excluded), then the live one');
    assert.equal(caughtUp, 1);

    const all = client.subscribeToAll({ fromPosition: first.position!, filter: streamNameFilter({ prefixes: [s] }) });
    const positions: bigint[] = [];
    for await (const e of all) {
      positions.push(e.event!.position!.commit);
      if (positions.length === 1) break; // revision 3 only: the start position (revision 2) is excluded
    }
    const read = await drain(client.readStream(s, { fromRevision: 3n }));
    assert.deepEqual(positions, [read[0]!.event!.position!.commit]);

    // A start past the end is no error: the subscription goes live and skips everything up to it.
    const far = read[0]!.event!.position!.commit + 1_000_000n;
    const ahead = client.subscribeToAll({ fromPosition: { commit: far, prepare: far }, filter: streamNameFilter({ prefixes: [s] }) });
    const live = new Promise<boolean>((resolve) => ahead.once('caughtUp', () => resolve(true)));
    const delivered: ResolvedEvent[] = [];
    ahead.on('data', (e: ResolvedEvent) => delivered.push(e));
    assert.equal(await live, true);
    await client.appendToStream(s, ev('E', { i: 4 }));
    await new Promise((r) => setTimeout(r, 300));
    await ahead.unsubscribe();
    assert.deepEqual(delivered, [], 'an event before the start position is not delivered');
  });

  test('what the client calls: ServerFeatures (both halves, once per connection), then Streams.Read and BatchAppend; no gossip for a single node', { skip: realServer ? 'counts RPCs on the double' : false }, async () => {
    const fresh = await KurrentDbDouble.start();
    const c = KurrentDBClient.connectionString(fresh.url);
    try {
      await c.appendToStream('calls-1', ev());
      await drain(c.readStream('calls-1'));
      await drain(c.readAll({ maxCount: 1 }));
      assert.deepEqual(Object.fromEntries(fresh.calls), {
        '/event_store.client.server_features.ServerFeatures/GetSupportedMethods': 2,
        [BATCH_APPEND]: 1,
        '/event_store.client.streams.Streams/Read': 2,
      });
    } finally {
      await c.dispose();
      await fresh.stop();
    }
  });
});
