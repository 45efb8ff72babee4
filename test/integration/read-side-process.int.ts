import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BusSubscription, EventBatch, SubscribeOptions } from '../../src/ports/bus';
import { openReadModels, type BatchOutcome } from '../../src/projections';
import { FixtureStore, fullCall } from '../../src/projections/testing/fixtures';
import { projectionsProcess, recordUndecodable, settled } from '../../src/app/read-side';

/** A bus that hands over what the test delivers, and remembers how it was subscribed. */
const handBus = () => {
  let handler: ((b: EventBatch) => Promise<void>) | null = null;
  const subscribed: Array<{ group: string; options: SubscribeOptions | undefined }> = [];
  return {
    subscribed,
    sources: async () => ['memory'],
    subscribe: async (group: string, _topics: unknown, h: (b: EventBatch) => Promise<void>, options?: SubscribeOptions): Promise<BusSubscription> => {
      handler = h;
      subscribed.push({ group, options });
      return { stop: async () => undefined } as BusSubscription;
    },
    deliver: (b: EventBatch) => handler!(b),
  };
};

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

describe('the read side as a process (projectionsProcess, settled, recordUndecodable)', () => {
  it('a shared cluster group from the lowest checkpoint; each batch applied to every projection, the outcomes observed; settled once all caught up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'read-side-'));
    const readModels = await openReadModels({ kind: 'sqlite', dataDir: dir, logger: quiet as never });
    try {
      const bus = handBus();
      const observed: Array<{ outcomes: ReadonlyMap<string, BatchOutcome>; events: number }> = [];
      const process = await projectionsProcess({
        bus: bus as never,
        readModels,
        group: 'p.webdial.projections',
        concurrency: 1,
        observer: { applied: (outcomes, batch) => void observed.push({ outcomes, events: batch.events.length }), retry: () => undefined },
      });
      assert.equal(process.scope, 'cluster');
      assert.equal(process.sharedGroup, true, 'every instance joins the one group');
      const running = await process.start(null);
      assert.deepEqual(
        bus.subscribed.map(({ group, options }) => ({ group, fromBeginning: options?.fromBeginning, afterPosition: options?.afterPosition, concurrency: options?.concurrency })),
        [{ group: 'p.webdial.projections', fromBeginning: true, afterPosition: null, concurrency: 1 }],
      );

      const fixtures = new FixtureStore();
      const events = fullCall(fixtures, { callId: 'c-1', merchantId: 'm-1', at: '2026-12-01T10:00:00.000Z', talkSeconds: 30 });
      const head = events.at(-1)!.position;
      const store = { headPosition: async () => head };
      await assert.rejects(settled(store, readModels, 50), /projections did not reach/);
      await bus.deliver({ source: 'memory', events, watermark: head });
      await settled(store, readModels, 1000);
      assert.equal((await readModels.queries.getCall('c-1'))?.state, 'TERMINATED');
      assert.equal(observed.length, 1);
      assert.equal(observed[0]!.events, events.length);
      assert.deepEqual([...observed[0]!.outcomes.keys()].sort(), readModels.projections.map((p) => p.name).sort());
      await running.stop();
    } finally {
      await readModels.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an undecodable message is recorded once the read database answers, tried again meanwhile; a stopping server gives up', async () => {
    let failures = 2;
    const recorded: string[] = [];
    const errors: number[] = [];
    const readModels = {
      recordUndecodable: async (_group: string, origin: string) => {
        if (failures-- > 0) throw new Error('database away');
        recorded.push(origin);
      },
    };
    await recordUndecodable(readModels, { group: 'g', origin: 't/0@7', error: 'bad', payload: null }, { stopping: () => false, onError: (_e, attempt) => void errors.push(attempt) });
    assert.deepEqual(recorded, ['t/0@7']);
    assert.deepEqual(errors, [1, 2]);
    let tries = 0;
    await recordUndecodable({ recordUndecodable: async () => void tries++ }, { group: 'g', origin: 'x', error: 'e', payload: null }, { stopping: () => true, onError: () => undefined });
    assert.equal(tries, 0, 'nothing tried once the server stops');
  });
});
