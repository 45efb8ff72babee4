import type { DomainEvent } from '../shared/decider';

export type Role = 'ADMIN' | 'MERCHANT' | 'CRM' | 'ANALYST' | 'GATEWAY';

/** Keys are stored hashed (SHA-256 of the secret); the secret is shown once, at issue. */
export type ApiKeyIssued = DomainEvent<
  'ApiKeyIssued',
  { keyId: string; keyHash: string; role: Role; merchantId: string | null; at: string }
>;
export type ApiKeyRevoked = DomainEvent<'ApiKeyRevoked', { keyId: string; at: string }>;
export type ApiKeyEvent = ApiKeyIssued | ApiKeyRevoked;

export type IssueApiKey = {
  type: 'IssueApiKey';
  data: { keyId: string; keyHash: string; role: Role; merchantId: string | null; at: string };
};
export type RevokeApiKey = { type: 'RevokeApiKey'; data: { keyId: string; at: string } };
export type ApiKeyCommand = IssueApiKey | RevokeApiKey;
