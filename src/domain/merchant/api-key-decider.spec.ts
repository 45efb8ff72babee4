import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiKeyDecider, assertApiKeyScope } from './api-key-decider';
import type { ApiKeyCommand, ApiKeyEvent, Role } from './api-key';
import { specFor, stateAfter } from '../shared/spec';

const given = specFor(apiKeyDecider);
const AT = '2026-11-23T10:00:00.000Z';
const HASH = 'a'.repeat(64);
const issue = (role: Role, merchantId: string | null, keyHash = HASH): ApiKeyCommand => ({ type: 'IssueApiKey', data: { keyId: 'k1', keyHash, role, merchantId, at: AT } });
const issued = (role: Role, merchantId: string | null): ApiKeyEvent => ({ type: 'ApiKeyIssued', data: { keyId: 'k1', keyHash: HASH, role, merchantId, at: AT } });
const revoke: ApiKeyCommand = { type: 'RevokeApiKey', data: { keyId: 'k1', at: AT } };
const revoked: ApiKeyEvent = { type: 'ApiKeyRevoked', data: { keyId: 'k1', at: AT } };

describe('api key decider', () => {
  for (const role of ['MERCHANT', 'CRM', 'ANALYST'] as const) {
    it(`${role} bound to a merchant → ApiKeyIssued`, () => given([]).when(issue(role, 'm1')).then([issued(role, 'm1')]));
    it(`${role} without a merchant → BAD_USER_INPUT`, () => given([]).when(issue(role, null)).thenThrows('BAD_USER_INPUT', /merchantId is required/));
  }
  it('ADMIN without a merchant → ApiKeyIssued', () => given([]).when(issue('ADMIN', null)).then([issued('ADMIN', null)]));
  it('ADMIN bound to a merchant → BAD_USER_INPUT', () => given([]).when(issue('ADMIN', 'm1')).thenThrows('BAD_USER_INPUT'));
  it('GATEWAY with or without a merchant', () => {
    given([]).when(issue('GATEWAY', null)).then([issued('GATEWAY', null)]);
    given([]).when(issue('GATEWAY', 'm1')).then([issued('GATEWAY', 'm1')]);
  });
  it('an unknown role → BAD_USER_INPUT', () => given([]).when(issue('ROOT' as Role, null)).thenThrows('BAD_USER_INPUT', /role/));
  it('a hash that is not SHA-256 hex → BAD_USER_INPUT', () => given([]).when(issue('ADMIN', null, 'secret')).thenThrows('BAD_USER_INPUT', /keyHash/));
  it('the same key id twice → CONFLICT', () => given([issued('CRM', 'm1')]).when(issue('CRM', 'm1')).thenThrows('CONFLICT'));
  it('revoke → ApiKeyRevoked', () => given([issued('CRM', 'm1')]).when(revoke).then([revoked]));
  it('revoking twice is a no-op', () => given([issued('CRM', 'm1'), revoked]).when(revoke).then([]));
  it('revoking an unknown key → NOT_FOUND', () => given([]).when(revoke).thenThrows('NOT_FOUND'));
  it('a revoked key is terminal', () => {
    const s = stateAfter(apiKeyDecider, [issued('CRM', 'm1'), revoked]);
    assert.equal(s.status, 'Revoked');
    assert.equal(apiKeyDecider.isTerminal?.(s), true);
  });
  it('assertApiKeyScope is the createApiKey rule on its own', () => {
    assert.doesNotThrow(() => assertApiKeyScope('GATEWAY', null));
    assert.throws(() => assertApiKeyScope('ANALYST', null), /ANALYST key must be bound/);
  });
});
