import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from './ids';

test('uuidv7 has version 7, the RFC variant, and sorts by time', () => {
  const a = uuidv7(1_700_000_000_000);
  const b = uuidv7(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
});

test('uuidv7 stays monotonic within one millisecond', () => {
  const ids = Array.from({ length: 100 }, () => uuidv7(1_700_000_000_123));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});
