import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planTrunk, type ListedTrunk } from './outbound-trunk';

const wanted = { name: 'webdial', address: 'sip.carrier.example:5060', numbers: ['+15559990001', '+15559990002'] };
const listed = (sipTrunkId: string, over: Partial<ListedTrunk> = {}): ListedTrunk => ({ sipTrunkId, name: 'webdial', address: wanted.address, numbers: [...wanted.numbers], authUsername: '', ...over });

describe('the outbound trunk of a deployment (issue 22)', () => {
  it('given no trunk with our name, then create one', () => {
    assert.deepEqual(planTrunk([], wanted), { kind: 'create' });
    assert.deepEqual(planTrunk([listed('ST_a', { name: 'someone-else' })], wanted), { kind: 'create' });
  });
  it('given our trunk as configured (numbers in any order), then reuse it', () => {
    assert.deepEqual(planTrunk([listed('ST_a', { numbers: ['+15559990002', '+15559990001'] })], wanted), { kind: 'reuse', sipTrunkId: 'ST_a' });
  });
  it('given our trunk with another address, numbers or user, then update it rather than create another', () => {
    for (const over of [{ address: 'old.example:5060' }, { numbers: ['+15559990001'] }, { authUsername: 'u' }])
      assert.deepEqual(planTrunk([listed('ST_a', over)], wanted), { kind: 'update', sipTrunkId: 'ST_a' }, JSON.stringify(over));
  });
  it('given several trunks with our name (two processes raced), then every process picks the smallest id', () => {
    const trunks = [listed('ST_c'), listed('ST_a'), listed('ST_b')];
    assert.deepEqual(planTrunk(trunks, wanted), { kind: 'reuse', sipTrunkId: 'ST_a' });
    assert.deepEqual(planTrunk([...trunks].reverse(), wanted), { kind: 'reuse', sipTrunkId: 'ST_a' });
  });
});
