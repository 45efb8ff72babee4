/**
 * Domain error codes. They are the contract's `extensions.code` values and are mapped once,
 * in src/graphql/errors.ts. `WRONG_EXPECTED_VERSION` is internal: the command handler retries it.
 */
export type DomainErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'RATE_LIMITED'
  | 'NO_ROUTE'
  | 'NO_PORT'
  | 'LIMIT_EXCEEDED'
  /** A read that asked for a store position (read your writes) the read side did not reach in time. */
  | 'TIMEOUT';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new DomainError('BAD_USER_INPUT', message, details);
export const notFound = (what: string, id: string) => new DomainError('NOT_FOUND', `${what} ${id} not found`, { id });
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new DomainError('CONFLICT', message, details);
/** A refusal with its stable reason beside the code: `details.reason`, the contract's `extensions.reason` (e.g. QUEUE_FULL). */
export const refusal = (code: DomainErrorCode, reason: string, message: string, details: Record<string, unknown> = {}) =>
  new DomainError(code, message, { ...details, reason });
