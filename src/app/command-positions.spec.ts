import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slotDecider } from '../domain/capacity/slot';
import type { Handle, HandleResult, Load } from './command-handler';
import { withLoadPositions, withPositions } from './command-positions';
import { scopePosition, withPositionScope } from './consistency';

const result = (position: string | null): HandleResult<never, never> => ({ state: undefined as never, events: [], stored: [], version: 1, position, answer: undefined });
const meta = { correlationId: 'c', causationId: null, merchantId: null };

describe('withPositions: read your own writes as a wrapper', () => {
  it('notes the position of the state a command answered with, the highest in the scope winning', async () => {
    const positions = ['0002', null, '0001'];
    const core = (async () => result(positions.shift() ?? null)) as unknown as Handle;
    const handle = withPositions(core);
    await withPositionScope(async () => {
      await handle(slotDecider, 'slot-a', { type: 'FreeSlot' } as never, meta);
      assert.equal(scopePosition(), '0002');
      await handle(slotDecider, 'slot-a', { type: 'FreeSlot' } as never, meta);
      await handle(slotDecider, 'slot-a', { type: 'FreeSlot' } as never, meta);
      assert.equal(scopePosition(), '0002', 'neither null nor an older position lowers it');
    });
  });

  it('a refused command notes nothing', async () => {
    const handle = withPositions((async () => Promise.reject(new Error('refused'))) as unknown as Handle);
    await withPositionScope(async () => {
      await assert.rejects(handle(slotDecider, 'slot-a', { type: 'FreeSlot' } as never, meta));
      assert.equal(scopePosition(), null);
    });
  });

  it('a load notes the position of the state it returns, and passes atLeast on', async () => {
    const asked: Array<number | undefined> = [];
    const load = withLoadPositions((async (_f: unknown, _s: string, atLeast?: number) => (asked.push(atLeast), { state: null, version: 3, position: '0007' })) as unknown as Load);
    await withPositionScope(async () => {
      await load(slotDecider, 'slot-a', 3);
      assert.equal(scopePosition(), '0007');
    });
    assert.deepEqual(asked, [3]);
  });
});
