import { GraphQLError } from 'graphql';
import { DomainError } from '../domain/shared/errors';
import { WrongExpectedVersionError } from '../ports/event-store';
import { isConnectionError, unavailableDependency } from '../ports/dependency';

/**
 * The request was refused as a whole (bad input, no or a wrong key, too many requests): HTTP says so
 * too, so a proxy, a log or a client that reads only the status sees it. Business outcomes (NO_ROUTE,
 * CONFLICT, …) stay 200 with the code in the body, as GraphQL over HTTP has it.
 */
const HTTP_STATUS: Partial<Record<DomainError['code'], number>> = { BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, RATE_LIMITED: 429 };

/**
 * The one place where errors become the contract's `extensions.code`. Domain errors keep their code;
 * a version conflict that survived the handler's retries is a CONFLICT; a dependency that cannot be
 * reached (a database down, a lost connection) is UNAVAILABLE, naming it; anything else is an
 * internal error whose details stay in the log.
 */
export const toGraphQLError = (e: unknown): GraphQLError => {
  if (e instanceof GraphQLError) return e;
  if (e instanceof DomainError) {
    const status = HTTP_STATUS[e.code];
    return new GraphQLError(e.message, { extensions: { code: e.code, ...e.details, ...(status ? { http: { status } } : {}) } });
  }
  if (e instanceof WrongExpectedVersionError) return new GraphQLError('the resource changed concurrently; try again', { extensions: { code: 'CONFLICT' } });
  if (isConnectionError(e)) {
    // A database or the broker is away: say so (HTTP 503), and that trying again is the remedy.
    const dependency = unavailableDependency(e);
    const message = dependency ? (e as Error).message : `a service webdial depends on is unavailable (${(e as Error).message}); try again shortly`;
    return new GraphQLError(message, { extensions: { code: 'UNAVAILABLE', ...(dependency ? { dependency } : {}), http: { status: 503 } }, originalError: e as Error });
  }
  return new GraphQLError('internal error', { extensions: { code: 'INTERNAL_SERVER_ERROR' }, originalError: e as Error });
};
