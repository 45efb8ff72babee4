import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { eventsCommand } from './events';
import { newEvent } from '../adapters/eventstore/contract';
import { SqliteEventStore } from '../adapters/eventstore/sqlite';

// `webdial events` against a real SQLite store (the CLI test lives here: src/cli is shared).

const capture = () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out, text: () => text, lines: () => text.split('\n').filter(Boolean) };
};

test('webdial events: read, stats, tail --from, --json, usage errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'webdial-cli-'));
  const store = new SqliteEventStore(join(dir, 'events.sqlite'), { pollMs: 20 });
  try {
    const r = await store.append('call-42', [newEvent('CallDownloaded', { callId: '42', pageUrl: 'https://shop.example/' + 'x'.repeat(100) }), newEvent('CallInitiated', { callId: '42' })], 0);
    await store.append('merchant-1', [newEvent('MerchantCreated', { name: 'Shop' })], 0);

    const read = capture();
    assert.equal(await eventsCommand(['read', 'call-42'], store, read.out), 0);
    const [head, first, second] = read.lines();
    assert.match(head!, /^POSITION\s+TIME\s+STREAM@VERSION\s+TYPE\s+DATA$/);
    assert.equal(read.lines().length, 3);
    assert.ok(first!.startsWith(r.events[0]!.position));
    assert.match(first!, /call-42@1\s+CallDownloaded\s+\{"callId":"42"/);
    assert.ok(first!.endsWith('…'), 'long data is shortened');
    assert.equal(first!.indexOf('CallDownloaded'), second!.indexOf('CallInitiated'), 'columns are aligned');

    const readJson = capture();
    assert.equal(await eventsCommand(['read', 'call-42', '--json'], store, readJson.out), 0);
    assert.deepEqual(readJson.lines().map((l) => JSON.parse(l)), r.events);

    const stats = capture();
    assert.equal(await eventsCommand(['stats', '--json'], store, stats.out), 0);
    assert.deepEqual(JSON.parse(stats.lines()[0]!), { store: 'sqlite', events: 3, streams: 2, lastPosition: '00000000000000000003' });
    const statsText = capture();
    await eventsCommand(['stats'], store, statsText.out);
    assert.match(statsText.text(), /events\s+3\n/);

    // tail from the first event: catch-up (2 events), then a live one, then Ctrl-C.
    const tail = capture();
    const stop = new AbortController();
    const running = eventsCommand(['tail', '--from', r.events[0]!.position, '--json'], store, tail.out, { signal: stop.signal });
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && tail.lines().length < n; i++) await new Promise((res) => setTimeout(res, 10));
    };
    await waitFor(2);
    await store.append('call-42', [newEvent('CallRinging', { callId: '42' })], 2);
    await waitFor(3);
    stop.abort();
    assert.equal(await running, 0);
    assert.deepEqual(tail.lines().map((l) => JSON.parse(l).type), ['CallInitiated', 'MerchantCreated', 'CallRinging']);

    const bad = capture();
    assert.equal(await eventsCommand(['tail', '--from', 'nonsense'], store, bad.out), 2);
    assert.match(bad.text(), /not a SQLite event store position/);
    assert.equal(await eventsCommand(['read'], store, capture().out), 2);
    assert.equal(await eventsCommand(['frobnicate'], store, capture().out), 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
