import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiKeyDecider, assertApiKeyScope } from './api-key-decider';
import type { ApiKeyCommand, ApiKeyEvent, Role } from './api-key';
import { specFor, stateAfter } from '../shared/spec';

const given = specFor(apiKeyDecider);
const AT = '2026-11-23T10:00:00.000Z';
const HASH = 'a'.repeat(64);
const issue = (role: Role, merchantId: string | null, keyHash = HASH, callCenterId: string | null = null): ApiKeyCommand => ({
  type: 'IssueApiKey',
  data: { keyId: 'k1', keyHash, role, merchantId, callCenterId, at: AT },
});
const issued = (role: Role, merchantId: string | null, callCenterId: string | null = null): ApiKeyEvent => ({
  type: 'ApiKeyIssued',
  data: { keyId: 'k1', keyHash: HASH, role, merchantId, callCenterId, at: AT },
});
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
  it('AGENT bound to a merchant and one of its call centers → ApiKeyIssued', () =>
    given([]).when(issue('AGENT', 'm1', HASH, 'cc1')).then([issued('AGENT', 'm1', 'cc1')]));
  it('AGENT without a call center → BAD_USER_INPUT', () => given([]).when(issue('AGENT', 'm1')).thenThrows('BAD_USER_INPUT', /callCenterId is required/));
  it('AGENT without a merchant → BAD_USER_INPUT', () => given([]).when(issue('AGENT', null, HASH, 'cc1')).thenThrows('BAD_USER_INPUT', /merchantId is required/));
  for (const role of ['ADMIN', 'MERCHANT', 'CRM', 'ANALYST', 'GATEWAY'] as const)
    it(`${role} bound to a call center → BAD_USER_INPUT (only AGENT keys name one)`, () =>
      given([]).when(issue(role, role === 'ADMIN' || role === 'GATEWAY' ? null : 'm1', HASH, 'cc1')).thenThrows('BAD_USER_INPUT', /callCenterId/));
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
