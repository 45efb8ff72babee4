import { createMethodMiddlewareDecorator, type AuthChecker, type MiddlewareFn, type ResolverData } from 'type-graphql';
import { authorize } from '../app/auth';
import type { Role } from '../domain/merchant/api-key';
import type { RateRule } from '../ports/rate-limit';
import type { GraphQLContext } from './context';
import { toGraphQLError } from './errors';

/**
 * The cross-cutting rules of the GraphQL layer, declared on the operation and applied here, once:
 * - `@Authorized(...roles)` → {@link authChecker}: the key's role, and its merchant where the
 *   operation names one (`merchantId`, or `input.merchantId`);
 * - `@UseMiddleware(MapErrors)` on every resolver class → {@link MapErrors}: domain errors become the
 *   contract's `extensions.code` (errors.ts);
 * - `@RateLimited(rule)` → the rate-limit port, before the resolver runs.
 * No resolver places a limit, a role check or an error wrapper by hand.
 */

/** The merchant an operation names in its arguments, which a non-admin key must be bound to. */
const namedMerchant = (args: Record<string, unknown>): string | null => {
  if (typeof args.merchantId === 'string') return args.merchantId;
  const input = args.input as { merchantId?: unknown } | null | undefined;
  return typeof input?.merchantId === 'string' ? input.merchantId : null;
};

/**
 * type-graphql's auth checker: `@Authorized('MERCHANT', 'CRM')` lets ADMIN and those roles in;
 * `@Authorized('ADMIN')` only ADMIN. Refusals carry the contract's codes (UNAUTHENTICATED, FORBIDDEN).
 * It runs before subscriptions' `subscribe` too, so a refused subscription never starts.
 */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context, args }, roles) => {
  try {
    authorize(context.principal, roles, namedMerchant(args));
  } catch (e) {
    throw toGraphQLError(e);
  }
  return true;
};

/** Maps whatever a resolver throws to the contract's error (a class-level middleware on every resolver). */
export const MapErrors: MiddlewareFn<GraphQLContext> = async (_data, next) => {
  try {
    return (await next()) as unknown;
  } catch (e) {
    throw toGraphQLError(e);
  }
};

/** What a rate rule counts per: the client's address unless said otherwise. */
type KeyOf = (data: ResolverData<GraphQLContext>) => string | null;
const byClient: KeyOf = ({ context }) => context.clientAddress;

/**
 * Counts one hit of `rule` before the resolver runs; past the limit the operation is refused with
 * RATE_LIMITED (and retryAfterSeconds) and nothing runs. `keyOf` returning null skips the count.
 */
export const RateLimited = (rule: RateRule, keyOf: KeyOf = byClient) =>
  createMethodMiddlewareDecorator<GraphQLContext>(async (data, next) => {
    const key = keyOf(data);
    if (key !== null) {
      try {
        await data.context.services.limiter.hit(rule, key);
      } catch (e) {
        throw toGraphQLError(e);
      }
    }
    return (await next()) as unknown;
  });
