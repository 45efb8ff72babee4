import { Arg, Ctx, Float, ID, Resolver, Root, Subscription } from 'type-graphql';
import { authorize, centerScope } from '../../app/auth';
import { DomainError } from '../../domain/shared/errors';
import type { StoredEvent } from '../../ports/event-store';
import { CALL_EVENT_TYPES } from '../../domain/call/events';
import { STATUS_AFTER, type CallEvent as DomainCallEvent } from '../../domain/call/events';
import { toGraphQLError } from '../errors';
import type { GraphQLContext } from '../context';
import { DateTimeScalar } from '../scalars';
import { CallContext, CallEvent, CustomerPush } from '../calls/types';
import { GatewayPort } from '../gateways/types';
import { storedToCallEvent } from './mapping';
import type { CallContextView } from '../../projections';

const CALL_TYPES = new Set<string>(CALL_EVENT_TYPES);
const READERS = ['MERCHANT', 'CRM', 'ANALYST', 'AGENT'] as const;

/** Runs the guard when the subscription starts, so a refused one fails with the contract's code. */
const guarded = <T>(fn: () => AsyncIterable<T>): AsyncIterable<T> => {
  try {
    return fn();
  } catch (e) {
    throw toGraphQLError(e);
  }
};

/** The same for a guard that must read first (an AGENT key's call center is checked on the call). */
const guardedAsync = async <T>(fn: () => Promise<AsyncIterable<T>>): Promise<AsyncIterable<T>> => {
  try {
    return await fn();
  } catch (e) {
    throw toGraphQLError(e);
  }
};

/** Maps a call's event to what the caller's widget is shown, or undefined when it shows nothing. */
export const customerPushOf = (e: StoredEvent): CustomerPush | undefined => {
  const state = STATUS_AFTER[e.type as DomainCallEvent['type']];
  const base = { state: null, url: null, volumePercent: null, channelId: null, text: null, at: e.occurredAt };
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
  }
  if (e.type === 'ChannelMessageSent') {
    const d = e.data as { channelId: string; text: string; from: string };
    if (d.from === 'AGENT') return { ...base, kind: 'CHAT_MESSAGE', channelId: d.channelId, text: d.text };
  }
  return undefined;
};

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => CallEvent, {
    subscribe: ({ args, context }) =>
      guardedAsync(async () => {
        const ctx = context as GraphQLContext;
        const { merchantId, callId, after } = args as { merchantId: string; callId?: string | null; after?: string | null };
        authorize(ctx.principal, READERS, merchantId);
        const center = centerScope(ctx.principal);
        if (center !== null) {
          // An AGENT key follows one call of its own center at a time.
          if (!callId) throw new DomainError('BAD_USER_INPUT', 'an AGENT key subscribes to one call: give callId', { field: 'callId' });
          const call = await ctx.services.calls.reader.view(callId);
          if (call.merchantId !== merchantId || call.callCenterId !== center) throw new DomainError('FORBIDDEN', 'this key is bound to another call center');
        }
        return ctx.services.hub.iterate(
          (e) => CALL_TYPES.has(e.type) && e.merchantId === merchantId && (!callId || (e.data as { callId: string }).callId === callId),
          // Read once here: an event whose data cannot be read (malformed) is skipped by the hub, not sent as an error.
          (e) => (storedToCallEvent(e), e),
          after ?? null,
        );
      }),
  })
  callEvents(
    @Root() event: StoredEvent,
    @Arg('merchantId', () => ID) _merchantId: string,
    @Arg('callId', () => ID, { nullable: true }) _callId: string | null,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): CallEvent {
    return storedToCallEvent(event);
  }

  @Subscription(() => CallContext, {
    subscribe: ({ args, context }) =>
      guarded(() => {
        const ctx = context as GraphQLContext;
        const { merchantId } = args as { merchantId: string; callCenterId?: string | null };
        authorize(ctx.principal, ['CRM', 'MERCHANT', 'AGENT'], merchantId);
        // An AGENT key gets the pops of its own center, whatever it asks for.
        const center = centerScope(ctx.principal);
        if (center !== null && args.callCenterId && args.callCenterId !== center) throw new DomainError('FORBIDDEN', 'this key is bound to another call center');
        const callCenterId = center ?? (args.callCenterId as string | null | undefined) ?? null;
        return ctx.services.screenPops.follow(merchantId, callCenterId);
      }),
  })
  screenPops(
    @Root() pop: CallContextView,
    @Arg('merchantId', () => ID) _merchantId: string,
    @Arg('callCenterId', () => ID, { nullable: true }) _callCenterId: string | null,
  ): CallContext {
    return pop;
  }

  @Subscription(() => CustomerPush, {
    subscribe: ({ args, context }) =>
      guarded(() => {
        const ctx = context as GraphQLContext;
        const { callId } = ctx.services.tokens.verify((args as { callToken: string }).callToken, ctx.services.clock.now());
        const stream = `call-${callId}`;
        return ctx.services.hub.iterate((e) => e.streamId === stream, customerPushOf, null);
      }),
  })
  customerSession(@Root() push: CustomerPush, @Arg('callToken', () => String) _callToken: string): CustomerPush {
    return push;
  }

  @Subscription(() => CallEvent, {
    subscribe: ({ args, context }) =>
      guarded(() => {
        const ctx = context as GraphQLContext;
        const { merchantId, from, to, speed } = args as { merchantId?: string | null; from: string; to?: string | null; speed?: number | null };
        authorize(ctx.principal, ['ANALYST'], merchantId ?? (ctx.principal.kind === 'key' && ctx.principal.role !== 'ADMIN' ? ctx.principal.merchantId : null));
        const scope = ctx.principal.kind === 'key' && ctx.principal.role !== 'ADMIN' ? ctx.principal.merchantId : merchantId ?? null;
        return ctx.services.replay.replay({ merchantId: scope, from, to: to ?? null, speed: speed ?? null });
      }),
  })
  replayCallEvents(
    @Root() event: StoredEvent,
    @Arg('merchantId', () => ID, { nullable: true }) _merchantId: string | null,
    @Arg('from', () => DateTimeScalar) _from: string,
    @Arg('to', () => DateTimeScalar, { nullable: true }) _to: string | null,
    @Arg('speed', () => Float, { nullable: true }) _speed: number | null,
  ): CallEvent {
    return storedToCallEvent(event);
  }

  @Subscription(() => GatewayPort, {
    subscribe: ({ args, context }) =>
      guarded(() => {
        const ctx = context as GraphQLContext;
        authorize(ctx.principal, []);
        const { gatewayId } = args as { gatewayId: string };
        return ctx.services.hub.iterate(
          (e) => (e.type === 'PortSeized' || e.type === 'PortReleased') && (e.data as { gatewayId: string }).gatewayId === gatewayId,
          (e) => e,
          null,
        );
      }),
  })
  gatewayPortChanges(@Root() event: StoredEvent, @Arg('gatewayId', () => ID) _gatewayId: string): GatewayPort {
    const d = event.data as { gatewayId: string; port: number; ani: string; callId: string };
    const busy = event.type === 'PortSeized';
    return { gatewayId: d.gatewayId, number: d.port, ani: d.ani, busy, callId: busy ? d.callId : null };
  }
}
