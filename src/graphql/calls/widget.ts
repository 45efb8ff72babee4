import { Arg, Ctx, ID, Mutation, Resolver, UseMiddleware } from 'type-graphql';
import { authorize } from '../../app/auth';
import { DomainError } from '../../domain/shared/errors';
import type { GraphQLContext } from '../context';
import { MapErrors, RateLimited } from '../middleware';
import { agentOf } from '../console/resolver';
import { Call, CallerMediaSettingsInput, Download, DownloadInput, MediaJoin } from './types';

/**
 * The widget's operations: public (no key), scoped by the call token the download hands out. The
 * operations after the download (join, initiate, hang up, chat) share one budget per client address:
 * a few per call, so five times the download budget.
 */
@Resolver()
@UseMiddleware(MapErrors)
export class WidgetResolver {
  @Mutation(() => Download)
  @RateLimited('download-per-client')
  @RateLimited('download-per-merchant', ({ args }) => (args.input as { merchantId: string }).merchantId)
  recordDownload(@Arg('input', () => DownloadInput) input: DownloadInput, @Ctx() ctx: GraphQLContext): Promise<Download> {
    return ctx.services.calls.downloads.record(
      {
        merchantId: input.merchantId,
        linkId: input.linkId,
        customerId: input.customerId ?? null,
        sessionId: input.sessionId ?? null,
        pageUrl: input.pageUrl,
        referrer: input.referrer ?? null,
        context: input.context ?? null,
        callerRegion: input.callerRegion ?? null,
      },
      ctx.correlationId,
      ctx.origin ?? null,
    );
  }

  @Mutation(() => MediaJoin, {
    description:
      "The caller's join of the call's media room (LiveKit: url, room and a microphone-only token; the simulator: nulls). Once per call: a second join with the same call token is refused with CONFLICT.",
  })
  @RateLimited('widget-per-client')
  joinMedia(@Arg('callToken', () => String) callToken: string, @Ctx() ctx: GraphQLContext): Promise<MediaJoin> {
    return ctx.services.calls.downloads.joinMedia(callToken, ctx.correlationId);
  }

  @Mutation(() => Call)
  @RateLimited('widget-per-client')
  initiateCall(@Arg('callToken', () => String) callToken: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return ctx.services.calls.initiation.initiate(callToken, ctx.correlationId);
  }

  @Mutation(() => Call)
  @RateLimited('widget-per-client')
  hangUp(@Arg('callToken', () => String) callToken: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return ctx.services.calls.caller.hangUp(callToken, ctx.correlationId);
  }

  @Mutation(() => Boolean, {
    description:
      "The caller's widget reports what its browser applied to the microphone (after an agent's MEDIA_SETTING command, or the caller's own choice in its menu): recorded as CallerMediaSettingsApplied, shown to the agent. The call token names the call; the same report twice records nothing new; after the end: CONFLICT.",
  })
  @RateLimited('widget-per-client')
  async reportMediaSettings(
    @Arg('callToken', () => String) callToken: string,
    @Arg('input', () => CallerMediaSettingsInput) input: CallerMediaSettingsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    await ctx.services.calls.caller.reportMediaSettings(
      callToken,
      {
        settings: {
          echoCancellation: input.echoCancellation ?? null,
          noiseSuppression: input.noiseSuppression ?? null,
          autoGainControl: input.autoGainControl ?? null,
          echoSuppression: input.echoSuppression,
        },
        requested: (input.requested ?? []).map((r) => ({ setting: r.setting, enabled: r.enabled })),
        choice: input.choice ?? null,
        note: input.note ?? null,
      },
      ctx.correlationId,
    );
    return true;
  }

  // Two callers in one operation: the caller (callToken, public, counted in the widget budget) and the
  // agent side (callId with a key: who may send depends on which argument came, so it is checked here).
  @Mutation(() => Boolean, {
    description:
      'Chat on a channel the agent opened with DTMF #NN#. The caller passes its callToken (no key); the agent side passes callId with a GATEWAY key or a MERCHANT/CRM key of that merchant. The other side receives it (customerSession CHAT_MESSAGE / callEvents ChannelMessageSent).',
  })
  @RateLimited('widget-per-client', ({ args, context }) => (args.callToken !== null && args.callToken !== undefined ? context.clientAddress : null))
  async sendChannelMessage(
    @Arg('channelId', () => String) channelId: string,
    @Arg('text', () => String) text: string,
    @Arg('callToken', () => String, { nullable: true }) callToken: string | null,
    @Arg('callId', () => ID, { nullable: true }) callId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    // An empty token is a (malformed) caller token, not the agent form.
    if (callToken !== null && callToken !== undefined) {
      await ctx.services.calls.caller.sendChannelMessage({ caller: callToken }, channelId, text, ctx.correlationId);
      return true;
    }
    if (!callId) throw new DomainError('BAD_USER_INPUT', 'give callToken (caller) or callId (agent)', { field: 'callId' });
    authorize(ctx.principal, ['GATEWAY', 'MERCHANT', 'CRM', 'AGENT']);
    if (ctx.principal.kind === 'key' && ctx.principal.role === 'MERCHANT')
      authorize(ctx.principal, ['MERCHANT'], await ctx.services.calls.reader.merchantOf(callId));
    // The console (CRM of the merchant, AGENT of the call's center): the same scope as its buttons.
    else if (ctx.principal.kind === 'key' && ctx.principal.role !== 'GATEWAY') await ctx.services.people.agents.callFor(callId, agentOf(ctx.principal));
    await ctx.services.calls.caller.sendChannelMessage({ agentCallId: callId }, channelId, text, ctx.correlationId);
    return true;
  }
}
