/**
 * API keys: one stream per key (`apikey-<id>`). Only the SHA-256 of the secret is stored.
 * Revoking is final and idempotent (revoking twice decides []).
 */
import type { Decider } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, conflict, notFound } from '../shared/errors';
import { assertNonEmpty } from '../shared/validation';
import type { ApiKeyCommand, ApiKeyEvent, Role } from './api-key';

export type ApiKeyState =
  | { status: 'Absent' }
  | { status: 'Active'; keyId: string; keyHash: string; role: Role; merchantId: string | null; callCenterId: string | null }
  | { status: 'Revoked'; keyId: string; keyHash: string; role: Role; merchantId: string | null; callCenterId: string | null; revokedAt: string };

const ROLES: readonly Role[] = ['ADMIN', 'MERCHANT', 'CRM', 'ANALYST', 'GATEWAY', 'AGENT'];

/** Roles that act across merchants (operators and media gateways); every other key is bound to one merchant. */
export const UNBOUND_ROLES: readonly Role[] = ['ADMIN', 'GATEWAY'];

/**
 * The createApiKey rule: MERCHANT, CRM, ANALYST and AGENT keys must name their merchant (BAD_USER_INPUT
 * otherwise), and an AGENT key its call center too (only an AGENT key names one); ADMIN and GATEWAY keys may omit it. An ADMIN key bound to a merchant would be a
 * contradiction (it sees everything), so it is refused too.
 */
export const assertApiKeyScope = (role: Role, merchantId: string | null, callCenterId: string | null = null): void => {
  if (!ROLES.includes(role)) throw badInput(`role must be one of ${ROLES.join(', ')}, got "${role}"`, { field: 'role' });
  if (role === 'AGENT' && callCenterId === null) throw badInput('an AGENT key must be bound to a call center: callCenterId is required', { field: 'callCenterId' });
  if (role !== 'AGENT' && callCenterId !== null) throw badInput(`a ${role} key is not bound to a call center: omit callCenterId`, { field: 'callCenterId' });
  if (callCenterId !== null) assertNonEmpty(callCenterId, 'callCenterId');
  if (merchantId === null && !UNBOUND_ROLES.includes(role))
    throw badInput(`a ${role} key must be bound to a merchant: merchantId is required`, { field: 'merchantId' });
  if (merchantId !== null) assertNonEmpty(merchantId, 'merchantId');
  if (role === 'ADMIN' && merchantId !== null) throw badInput('an ADMIN key is not bound to a merchant: omit merchantId', { field: 'merchantId' });
};

const decide = (command: ApiKeyCommand, state: ApiKeyState): ApiKeyEvent[] => {
  switch (command.type) {
    case 'IssueApiKey': {
      const d = command.data;
      assertNonEmpty(d.keyId, 'keyId');
      if (!/^[0-9a-f]{64}$/.test(d.keyHash)) throw badInput('keyHash must be a hex SHA-256 digest', { field: 'keyHash' });
      assertApiKeyScope(d.role, d.merchantId, d.callCenterId);
      if (state.status !== 'Absent') throw conflict(`api key ${d.keyId} already exists`);
      return [{ type: 'ApiKeyIssued', data: { ...d } }];
    }
    case 'RevokeApiKey': {
      const d = command.data;
      if (state.status === 'Absent') throw notFound('api key', d.keyId);
      if (state.status === 'Revoked') return [];
      return [{ type: 'ApiKeyRevoked', data: { ...d } }];
    }
    default:
      return unreachable(command);
  }
};

const evolve = (state: ApiKeyState, event: ApiKeyEvent): ApiKeyState => {
  switch (event.type) {
    case 'ApiKeyIssued': {
      const { at: _at, ...d } = event.data;
      return { status: 'Active', ...d };
    }
    case 'ApiKeyRevoked':
      return state.status === 'Active' ? { ...state, status: 'Revoked', revokedAt: event.data.at } : state;
    default:
      return unreachable(event);
  }
};

export const apiKeyDecider: Decider<ApiKeyState, ApiKeyCommand, ApiKeyEvent> = {
  name: 'apikey@1',
  decide,
  evolve,
  initialState: { status: 'Absent' },
  isTerminal: (s) => s.status === 'Revoked',
};
