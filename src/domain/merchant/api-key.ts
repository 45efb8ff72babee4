import type { DomainEvent } from '../shared/decider';

/**
 * AGENT (issue 12): a person at the agent console, bound to one merchant AND one of its call centers:
 * it sees and acts on that center's calls only (screen pops, answer, console commands, chat).
 */
export type Role = 'ADMIN' | 'MERCHANT' | 'CRM' | 'ANALYST' | 'GATEWAY' | 'AGENT';

/** Keys are stored hashed (SHA-256 of the secret); the secret is shown once, at issue. */
export type ApiKeyIssued = DomainEvent<
  'ApiKeyIssued',
  { keyId: string; keyHash: string; role: Role; merchantId: string | null; /** Schema 2: the center of an AGENT key, else null. */ callCenterId: string | null; at: string }
>;
export type ApiKeyRevoked = DomainEvent<'ApiKeyRevoked', { keyId: string; at: string }>;
export type ApiKeyEvent = ApiKeyIssued | ApiKeyRevoked;

export type IssueApiKey = {
  type: 'IssueApiKey';
  data: { keyId: string; keyHash: string; role: Role; merchantId: string | null; callCenterId: string | null; at: string };
};
export type RevokeApiKey = { type: 'RevokeApiKey'; data: { keyId: string; at: string } };
export type ApiKeyCommand = IssueApiKey | RevokeApiKey;
