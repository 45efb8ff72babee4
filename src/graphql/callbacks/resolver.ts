import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import type { CallbackWhen as DomainWhen } from '../../domain/callback/callback';
import { DomainError } from '../../domain/shared/errors';
import type { CallbackListView } from '../../projections';
import type { GraphQLContext } from '../context';
import { MapErrors, RateLimited } from '../middleware';
import { Callback, CallbackPage, CallbackStatus, CallbackWhenInput, type CallbackStatusT } from './types';
import { CallbackAnswer } from './answer';

/** Ids a widget sends are bounded before anything is read (an unknown one is NOT_FOUND). */
const boundedId = (id: string, field: string): string => {
  if (typeof id !== 'string' || id.length < 1 || id.length > 64) throw new DomainError('BAD_USER_INPUT', `${field} is 1 to 64 characters`, { field });
  return id;
};

/** "+33612345678" → "+*******5678": the widget's answers never echo a whole number back. */
export const maskNumber = (n: string | null): string | null => (n === null ? null : `+${'*'.repeat(Math.max(0, n.length - 5))}${n.slice(-4)}`);

const toCallback = (v: CallbackListView, masked: boolean): Callback => ({
  id: v.id,
  callCenterId: v.callCenterId,
  state: v.status,
  when: { kind: v.whenKind, at: v.whenKind === 'AT' ? v.dueAt : null },
  dueAt: v.dueAt,
  attempts: v.attempts,
  maxAttempts: v.maxAttempts,
  nextAttemptAt: v.nextAttemptAt,
  targetKind: v.targetKind,
  number: masked ? maskNumber(v.number) : v.number,
  lastOutcome: v.lastOutcome,
  originCallId: v.originCallId,
  callId: v.callId,
  bookedAt: v.bookedAt,
  updatedAt: v.updatedAt,
});

const whenOf = (w: CallbackWhenInput): DomainWhen => {
  if (w.kind === 'AT') {
    if (!w.at) throw new DomainError('BAD_USER_INPUT', 'an AT callback needs `at`', { field: 'when.at', reason: 'CALLBACK_TIME_INVALID' });
    return { kind: 'AT', at: w.at };
  }
  if (w.at) throw new DomainError('BAD_USER_INPUT', '`at` is for AT callbacks only', { field: 'when.at' });
  return { kind: w.kind };
};

/**
 * Callbacks (issue 25): the widget books and cancels with its call token (public, in the widget's
 * budget per client address); the merchant lists, cancels and sets the countries it calls back.
 */
@Resolver()
@UseMiddleware(MapErrors)
export class CallbackResolver {
  @Mutation(() => Callback, {
    description:
      'The shopper asks to be called back (issue 25), from the click of `callToken`: to `phoneNumber` (E.164, not premium-rate, inside the merchant\'s callback prefixes) or back to this browser (`toBrowser: true`), NOW, when an agent is free or AT an instant in the center\'s hours. To this browser: the page must stay open with `customerSession(callToken)` subscribed (the same click\'s token, also after its call ended): when an agent takes a try, a CALLBACK push with `ringing: true` arrives, and the widget answers with answerCallback (or declineCallback) before `ringsUntil` (the ringing timeout); a page closed or away lets the try end NO_ANSWER (retried 5 minutes later, 3 tries). At most 3 bookings per number and 5 per client address an hour (a browser callback counts for the client only) (RATE_LIMITED, reason CALLBACK_RATE_LIMITED, retryAfterSeconds). Refusals carry `extensions.reason`; nothing is booked. The answer masks the number.',
  })
  @RateLimited('widget-per-client')
  async requestCallback(
    @Arg('callToken', () => String) callToken: string,
    @Arg('when', () => CallbackWhenInput) when: CallbackWhenInput,
    @Arg('phoneNumber', () => String, { nullable: true }) phoneNumber: string | null,
    @Arg('toBrowser', () => Boolean, { nullable: true }) toBrowser: boolean | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Callback> {
    const phone = phoneNumber ?? null;
    if ((phone === null) === (toBrowser !== true)) throw new DomainError('BAD_USER_INPUT', 'give phoneNumber or toBrowser: true (one of them)', { field: 'phoneNumber' });
    if (phone !== null && phone.length > 32) throw new DomainError('BAD_USER_INPUT', 'the callback number must be an E.164 number like +33123456789', { field: 'number', reason: 'CALLBACK_NUMBER_INVALID' });
    const to = phone !== null ? { phoneNumber: phone } : { browser: true as const };
    const booked = await ctx.services.calls.callbacks.request(callToken, { when: whenOf(when), to }, ctx.clientAddress, ctx.correlationId);
    return toCallback(booked, true);
  }

  @Mutation(() => Callback, { description: 'The shopper cancels a callback booked from the same click (`callToken`). Cancelling it again changes nothing; a DONE or FAILED one: CONFLICT (CALLBACK_CLOSED).' })
  @RateLimited('widget-per-client')
  async cancelCallback(@Arg('callToken', () => String) callToken: string, @Arg('callbackId', () => ID) callbackId: string, @Ctx() ctx: GraphQLContext): Promise<Callback> {
    return toCallback(await ctx.services.calls.callbacks.cancelByShopper(callToken, callbackId, ctx.correlationId), true);
  }

  @Mutation(() => CallbackAnswer, {
    description:
      "The shopper answers a callback ringing this browser (a CALLBACK push with ringing: true on the click's customerSession), with the click's `callToken`: the try is ANSWERED (the callback DONE) and the answer holds what the widget needs to talk: the try's call, a call token for it (hangUp, chat, media reports) and its media room with a join token. Only while that try rings (the agent on the line, before ringsUntil): otherwise CONFLICT, reason CALLBACK_NOT_RINGING; another click's callback or an unknown id: NOT_FOUND; an id over 64 characters: BAD_USER_INPUT. A refusal changes nothing.",
  })
  @RateLimited('widget-per-client')
  async answerCallback(@Arg('callToken', () => String) callToken: string, @Arg('callbackId', () => ID) callbackId: string, @Ctx() ctx: GraphQLContext): Promise<CallbackAnswer> {
    const a = await ctx.services.calls.callbacks.answerInBrowser(callToken, boundedId(callbackId, 'callbackId'), ctx.correlationId);
    return { callback: toCallback(a.callback, true), callId: a.callId, callToken: a.callToken, media: a.media };
  }

  @Mutation(() => Callback, {
    description:
      "The shopper declines a callback ringing this browser: the try fails NO_ANSWER (the next is due 5 minutes later, FAILED after the third; cancelCallback stops them) and its call ends REJECTED by the CALLER. Refused like answerCallback (CALLBACK_NOT_RINGING, NOT_FOUND, BAD_USER_INPUT), changing nothing.",
  })
  @RateLimited('widget-per-client')
  async declineCallback(@Arg('callToken', () => String) callToken: string, @Arg('callbackId', () => ID) callbackId: string, @Ctx() ctx: GraphQLContext): Promise<Callback> {
    return toCallback(await ctx.services.calls.callbacks.declineInBrowser(callToken, boundedId(callbackId, 'callbackId'), ctx.correlationId), true);
  }

  @Mutation(() => Callback, { description: "The merchant cancels one of its callbacks (MERCHANT of that merchant, or ADMIN; another merchant's: NOT_FOUND)." })
  @Authorized('MERCHANT')
  async cancelMerchantCallback(@Arg('merchantId', () => ID) merchantId: string, @Arg('callbackId', () => ID) callbackId: string, @Ctx() ctx: GraphQLContext): Promise<Callback> {
    return toCallback(await ctx.services.calls.callbacks.cancelByMerchant(merchantId, callbackId, ctx.correlationId), false);
  }

  @Query(() => CallbackPage, { description: "A merchant's callbacks, newest booking first (the dashboard's list; read side): `status` narrows them, `first` 1…100 (default 20)." })
  @Authorized('MERCHANT')
  async callbacks(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('status', () => CallbackStatus, { nullable: true }) status: CallbackStatusT | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallbackPage> {
    const page = await ctx.services.reads.callbacks(merchantId, { status: status ?? null, first: first ?? 20, after: after ?? null });
    return { items: page.items.map((v) => toCallback(v, false)), endCursor: page.endCursor };
  }
}
