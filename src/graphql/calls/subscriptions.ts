import { Arg, Authorized, Float, ID, Resolver, Root, Subscription, UseMiddleware } from 'type-graphql';
import { centerScope } from '../../app/auth';
import { DomainError } from '../../domain/shared/errors';
import type { StoredEvent } from '../../ports/event-store';
import type { QueuePlace } from '../../app/calls/queue-view';
import { STATUS_AFTER, type CallEvent as DomainCallEvent } from '../../domain/call/events';
import type { CallContextView } from '../../projections';
import { parseMediaSettingArgument } from '../../domain/call/media-settings';
import { feedCallIdOf, isCallFeedEvent } from '../../domain/call-feed';
import type { CallbackEvent } from '../../domain/callback/callback';
import type { CallbackStatusT } from '../callbacks/types';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { agentOf } from '../console/resolver';
import { DateTimeScalar } from '../scalars';
import { READERS } from '../enums';
import { CallContext, CallEvent, CustomerPush } from './types';

/**
 * A stored event of a call's feed (src/domain/call-feed.ts: the call's own, and its queues', transfers'
 * and callbacks' events) as the contract's CallEvent.
 */
export const storedToCallEvent = (e: StoredEvent): CallEvent => ({
  eventId: e.eventId,
  callId: callIdOf(e),
  merchantId: e.merchantId ?? '',
  type: e.type,
  position: e.position,
  occurredAt: e.occurredAt,
  data: e.data,
});

/** The call a feed event names; an event that names none (unreadable data) is not sent, and the hub says so. */
const callIdOf = (e: StoredEvent): string => {
  const callId = feedCallIdOf(e.type, e.data);
  if (callId === null) throw new TypeError(`${e.type} names no call`);
  return callId;
};

/** Where a callback stands after each of its events, as the widget's CALLBACK push says it. */
const CALLBACK_STATE_AFTER: Record<CallbackEvent['type'], CallbackStatusT> = {
  CallbackBooked: 'PENDING',
  CallbackAttemptStarted: 'ATTEMPTING',
  CallbackBrowserRung: 'ATTEMPTING',
  CallbackAttemptFailed: 'PENDING',
  CallbackCompleted: 'DONE',
  CallbackFailed: 'FAILED',
  CallbackCancelled: 'CANCELLED',
};

/** Maps a call's event (or a callback's booked from it) to what the caller's widget is shown, or undefined when it shows nothing. */
export const customerPushOf = (e: StoredEvent): CustomerPush | undefined => {
  const state = STATUS_AFTER[e.type as DomainCallEvent['type']];
  const base = { state: null, url: null, volumePercent: null, channelId: null, text: null, at: e.occurredAt };
  if (e.type in CALLBACK_STATE_AFTER) {
    const d = e.data as { callbackId: string; ringsUntil?: string };
    const ringing = e.type === 'CallbackBrowserRung';
    return { ...base, kind: 'CALLBACK', callbackId: d.callbackId, callbackState: CALLBACK_STATE_AFTER[e.type as CallbackEvent['type']], ringing, ringsUntil: ringing ? (d.ringsUntil ?? null) : null };
  }
  if (e.type === 'CallTerminated') {
    const d = e.data as Extract<DomainCallEvent, { type: 'CallTerminated' }>['data'];
    return { ...base, kind: 'CALL_STATE', state: 'TERMINATED', cause: d.cause, sipStatus: d.sipStatus };
  }
  if (state) return { ...base, kind: 'CALL_STATE', state };
  if (e.type === 'DtmfCommandRecognized') {
    const d = e.data as Extract<DomainCallEvent, { type: 'DtmfCommandRecognized' }>['data'];
    if (!d.accepted) return undefined;
    if (d.action === 'PUSH_PAGE') return { ...base, kind: 'PAGE', url: d.argument };
    if (d.action === 'VOLUME') return { ...base, kind: 'VOLUME', volumePercent: Number(d.argument) };
    if (d.action === 'OPEN_CHANNEL') return { ...base, kind: 'CHANNEL_OPENED', channelId: d.argument };
    if (d.action === 'MEDIA_SETTING') {
      const change = parseMediaSettingArgument(d.argument);
      return change === null ? undefined : { ...base, kind: 'MEDIA_SETTING', setting: change.setting, enabled: change.enabled };
    }
  }
  if (e.type === 'ChannelMessageSent') {
    const d = e.data as { channelId: string; text: string; from: string };
    if (d.from === 'AGENT') return { ...base, kind: 'CHAT_MESSAGE', channelId: d.channelId, text: d.text };
  }
  return undefined;
};

/** A waiting call's place as a push (QUEUE_POSITION), stamped when it is sent. */
export const queuePushOf =
  (now: () => Date) =>
  (p: QueuePlace): CustomerPush => ({
    kind: 'QUEUE_POSITION',
    state: null,
    url: null,
    volumePercent: null,
    channelId: null,
    text: null,
    position: p.position,
    estimatedWaitSeconds: p.estimatedWaitSeconds,
    at: now().toISOString(),
  });

/**
 * The call subscriptions. `@Authorized` guards `subscribe` too (role, and the merchant named by
 * `merchantId`), so a refused subscription never starts; what depends on data (an AGENT key's call
 * center, a call token) is checked in `subscribe`.
 */
@Resolver()
@UseMiddleware(MapErrors)
export class CallSubscriptionResolver {
  @Subscription(() => CallEvent, {
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const { merchantId, callId, after } = args as { merchantId: string; callId?: string | null; after?: string | null };
      const center = centerScope(ctx.principal);
      if (center !== null) {
        // An AGENT key follows one call of its own center at a time.
        if (!callId) throw new DomainError('BAD_USER_INPUT', 'an AGENT key subscribes to one call: give callId', { field: 'callId' });
        // Its center on the call: the holder's, or an open transfer's target (issue 25: AgentService.callFor).
        const call = await ctx.services.people.agents.callFor(callId, agentOf(ctx.principal));
        if (call.merchantId !== merchantId) throw new DomainError('FORBIDDEN', 'this key is bound to another call center');
      }
      return ctx.services.hub.iterate(
        (e) => isCallFeedEvent(e.type) && e.merchantId === merchantId && (!callId || feedCallIdOf(e.type, e.data) === callId),
        // Read once here: an event whose data cannot be read (malformed) is skipped by the hub, not sent as an error.
        (e) => (storedToCallEvent(e), e),
        after ?? null,
      );
    },
  })
  @Authorized(...READERS)
  callEvents(
    @Root() event: StoredEvent,
    @Arg('merchantId', () => ID) _merchantId: string,
    @Arg('callId', () => ID, { nullable: true }) _callId: string | null,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): CallEvent {
    return storedToCallEvent(event);
  }

  @Subscription(() => CallContext, {
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const { merchantId, callCenterId } = args as { merchantId: string; callCenterId?: string | null };
      // An AGENT key gets the pops of its own center, whatever it asks for.
      const center = centerScope(ctx.principal);
      if (center !== null && callCenterId && callCenterId !== center) throw new DomainError('FORBIDDEN', 'this key is bound to another call center');
      return ctx.services.screenPops.follow(merchantId, center ?? callCenterId ?? null);
    },
  })
  @Authorized('CRM', 'MERCHANT', 'AGENT')
  screenPops(
    @Root() pop: CallContextView,
    @Arg('merchantId', () => ID) _merchantId: string,
    @Arg('callCenterId', () => ID, { nullable: true }) _callCenterId: string | null,
  ): CallContext {
    return pop;
  }

  // Public: the call token is the caller's only credential.
  @Subscription(() => CustomerPush, {
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const { callId } = ctx.services.tokens.verify((args as { callToken: string }).callToken, ctx.services.clock.now());
      // The call's own events, and its place while it waits in a queue (issue 25).
      return ctx.services.queue.session(callId, customerPushOf, queuePushOf(() => ctx.services.clock.now()));
    },
  })
  customerSession(@Root() push: CustomerPush, @Arg('callToken', () => String) _callToken: string): CustomerPush {
    return push;
  }

  @Subscription(() => CallEvent, {
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const { merchantId, from, to, speed } = args as { merchantId?: string | null; from: string; to?: string | null; speed?: number | null };
      // A key other than ADMIN replays its own merchant's events (naming another merchant was refused by the auth checker).
      const scope = ctx.principal.kind === 'key' && ctx.principal.role !== 'ADMIN' ? ctx.principal.merchantId : merchantId ?? null;
      return ctx.services.replay.replay({ merchantId: scope, from, to: to ?? null, speed: speed ?? null });
    },
  })
  @Authorized('ANALYST')
  replayCallEvents(
    @Root() event: StoredEvent,
    @Arg('merchantId', () => ID, { nullable: true }) _merchantId: string | null,
    @Arg('from', () => DateTimeScalar) _from: string,
    @Arg('to', () => DateTimeScalar, { nullable: true }) _to: string | null,
    @Arg('speed', () => Float, { nullable: true }) _speed: number | null,
  ): CallEvent {
    return storedToCallEvent(event);
  }
}
