import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallTokens } from './call-token';
import { DomainError } from '../domain/shared/errors';

const tokens = new CallTokens(Buffer.from('0123456789abcdef0123456789abcdef'), 60);
const now = new Date('2026-11-23T10:00:00Z');

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as DomainError).code;
  }
  return 'no error';
};

test('a token verifies for its own call until it expires', () => {
  const t = tokens.issue('c_1', 'm_1', now);
  assert.deepEqual(tokens.verify(t, new Date(now.getTime() + 59_000)), { callId: 'c_1', merchantId: 'm_1', exp: now.getTime() / 1000 + 60 });
  assert.equal(code(() => tokens.verify(t, new Date(now.getTime() + 60_000))), 'UNAUTHENTICATED');
});

test('a forged, re-targeted or foreign token is refused', () => {
  const t = tokens.issue('c_1', 'm_1', now);
  const [v, payload, mac] = t.split('.');
  const retargeted = Buffer.from(JSON.stringify({ c: 'c_2', m: 'm_1', e: 9e9 })).toString('base64url');
  assert.equal(code(() => tokens.verify(`${v}.${retargeted}.${mac}`, now)), 'UNAUTHENTICATED');
  assert.equal(code(() => tokens.verify(`${v}.${payload}.x${mac!.slice(1)}`, now)), 'UNAUTHENTICATED');
  const other = new CallTokens(Buffer.from('another-secret-another-secret-xx'), 60);
  assert.equal(code(() => tokens.verify(other.issue('c_1', 'm_1', now), now)), 'UNAUTHENTICATED');
  assert.equal(code(() => tokens.verify('garbage', now)), 'UNAUTHENTICATED');
});
