import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription, UseMiddleware } from 'type-graphql';
import { authorize, centerScope, merchantScope, type Principal } from '../../app/auth';
import type { Agent } from '../../app/agent-service';
import { DomainError } from '../../domain/shared/errors';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { DtmfAction, type DtmfActionT } from '../enums';
import { Call, MediaJoin, QueuedCall } from '../calls/types';
import { AgentCommand, CallTransfer, TransferColleague } from './types';
import type { TransferView } from '../../domain/transfer/transfer';

/** The most calls one `queue` answer lists. */
const MAX_QUEUE_FIRST = 50;

/**
 * Who may read a center's queue, and how much: an AGENT key of that center, a MERCHANT or CRM key of
 * the center's merchant (read side; an unknown center is NOT_FOUND), ADMIN; `first` 1…MAX_QUEUE_FIRST.
 */
const checkQueueReader = async (ctx: GraphQLContext, callCenterId: string, first: number): Promise<void> => {
  if (!(Number.isInteger(first) && first >= 1 && first <= MAX_QUEUE_FIRST))
    throw new DomainError('BAD_USER_INPUT', `first must be 1…${MAX_QUEUE_FIRST}`, { field: 'first' });
  authorize(ctx.principal, ['MERCHANT', 'CRM', 'AGENT'], await ctx.services.admin.callCenterOwner(callCenterId));
  const center = centerScope(ctx.principal);
  if (center !== null && center !== callCenterId) throw new DomainError('FORBIDDEN', 'this key is bound to another call center');
};

/** A transfer as the API's CallTransfer. */
const transferOf = (t: TransferView): CallTransfer => ({
  callId: t.callId,
  transferId: t.transferId,
  mode: t.mode,
  status: t.status,
  fromCallCenterId: t.from.callCenterId,
  fromAgent: t.from.agent,
  toCallCenterId: t.to.callCenterId,
  toAgent: t.to.agent,
  startedAt: t.startedAt,
  endedAt: t.endedAt,
  cancelReason: t.cancelReason,
});

/** The console's roles: a CRM key (every center of its merchant) or an AGENT key (one center); ADMIN too. */
const CONSOLE = ['CRM', 'AGENT'] as const;

/**
 * The console user behind a key (its role already checked by `@Authorized`): its id is what events
 * record as the agent. Which calls it may touch is the agent service's rule (merchant, center).
 */
export const agentOf = (principal: Principal): Agent => {
  if (principal.kind !== 'key') throw new DomainError('UNAUTHENTICATED', 'an API key is required');
  return { id: principal.keyId, merchantId: merchantScope(principal), callCenterId: centerScope(principal) };
};

/** The agent console's operations. */
@Resolver()
@UseMiddleware(MapErrors)
export class AgentResolver {
  @Mutation(() => Call, {
    description:
      'The agent answers a call that rings in the console (a BROWSER call center: PC-to-PC). CRM key of the merchant, or AGENT key of the call\'s center. The first agent takes the call; another gets CONFLICT; a PSTN call (answered on the phone) or an ended call is a CONFLICT too.',
  })
  @Authorized(...CONSOLE)
  answerCall(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return ctx.services.people.agents.answer(callId, agentOf(ctx.principal), ctx.correlationId);
  }

  @Mutation(() => Call, { description: 'The agent ends the call from the console (terminatedBy CALLEE, cause HANGUP). Idempotent.' })
  @Authorized(...CONSOLE)
  agentHangUp(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return ctx.services.people.agents.hangUp(callId, agentOf(ctx.principal), ctx.correlationId);
  }

  @Mutation(() => AgentCommand, {
    description:
      'A console button: the command DTMF would give (PUSH_PAGE with a URL, VOLUME with "+20"/"-20", OPEN_CHANNEL with a two-digit channel), recorded as DtmfCommandRecognized (source AGENT) and pushed to the caller like DTMF. A page outside the merchant\'s allowedOrigins is recorded as refused (accepted false). Only while the call is ANSWERED: CONFLICT otherwise.',
  })
  @Authorized(...CONSOLE)
  async agentCommand(
    @Arg('callId', () => ID) callId: string,
    @Arg('action', () => DtmfAction) action: DtmfActionT,
    @Arg('argument', () => String, { nullable: true }) argument: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AgentCommand> {
    const r = await ctx.services.people.agents.command(callId, agentOf(ctx.principal), action, argument ?? null, ctx.correlationId);
    return { callId: r.callId, action: r.action, argument: r.argument, sequence: r.sequence, accepted: r.accepted, reason: r.reason, at: r.at };
  }

  @Query(() => MediaJoin, {
    description: "What the console needs to join a live call's media room (LiveKit: url, room and an agent token). In simulator or external mode there is no room: provider names the mode, the rest is null.",
  })
  @Authorized(...CONSOLE)
  agentMediaJoin(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<MediaJoin> {
    return ctx.services.people.agents.mediaJoin(callId, agentOf(ctx.principal));
  }

  @Query(() => [QueuedCall], {
    description:
      "The calls waiting in a call center's queue (issue 25), the next first: at most `first` (1…50, default 20). AGENT key of that center, MERCHANT or CRM key of the center's merchant, ADMIN. From this instance's fold of the queues: a hint that may lag the store by a moment. A center where no call ever waited answers [].",
    complexity: ({ args, childComplexity }) => 1 + Math.min(Number(args.first ?? 20), MAX_QUEUE_FIRST) * Math.max(1, childComplexity),
  })
  @Authorized('MERCHANT', 'CRM', 'AGENT')
  async queue(
    @Arg('callCenterId', () => ID) callCenterId: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<QueuedCall[]> {
    await checkQueueReader(ctx, callCenterId, first);
    return (await ctx.services.queue.waiting(callCenterId, first)).calls;
  }

  @Subscription(() => [QueuedCall], {
    description:
      "A call center's queue as it changes (issue 25; the console's Queue card): the waiting calls now (the next first, at most `first`, 1…50, default 20), then the list again after each join, dispatch, abandoned or timed-out wait of that center (a list the same as the last is not sent again; [] when none waits). Who may: as `queue`. From this instance's fold of the queues.",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const { callCenterId, first } = args as { callCenterId: string; first: number };
      await checkQueueReader(ctx, callCenterId, first);
      return ctx.services.queue.watch(callCenterId, first);
    },
  })
  @Authorized('MERCHANT', 'CRM', 'AGENT')
  queueChanges(
    @Root() calls: QueuedCall[],
    @Arg('callCenterId', () => ID) _callCenterId: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) _first: number,
  ): QueuedCall[] {
    return calls;
  }

  // ---- transfer (issue 25) ------------------------------------------------------------------------
  @Mutation(() => CallTransfer, {
    description:
      "BLIND transfer: the agent who holds the call offers it to another call center of the merchant. A browser center: a screen pop in its consoles; an agent there takes it with completeTransfer, and the first agent leaves the call's room. A PSTN center: its number is dialled into the call (a gateway port at its region, whose caller ID finds the call: callContextByAni); its answer completes the transfer (toAgent null: its phone holds the call, and its hang-up ends it), its failure cancels it (TARGET_BUSY, TARGET_NO_ANSWER, TARGET_FAILED, NO_PORT) and the call stays with the first agent. Only a browser call is transferred; once a PSTN center's phone holds it (a transfer to it), a key of that center or a CRM key hands it on blind, and the phone leaves when the new holder has it. Refusals (extensions.reason): TRANSFER_OTHER_MERCHANT (FORBIDDEN), TRANSFER_NOT_CALL_AGENT, TRANSFER_CALL_NOT_ANSWERED, TRANSFER_IN_PROGRESS, TRANSFER_PSTN_UNSUPPORTED (CONFLICT: a call on a phone line of its own: a PSTN or inbound call), TRANSFER_SAME_CENTER (BAD_USER_INPUT), TRANSFER_LIMIT. The same click again answers the open transfer.",
  })
  @Authorized(...CONSOLE)
  async transferCall(@Arg('callId', () => ID) callId: string, @Arg('toCallCenterId', () => ID) toCallCenterId: string, @Ctx() ctx: GraphQLContext): Promise<CallTransfer> {
    return transferOf(await ctx.services.people.transfers.start(callId, agentOf(ctx.principal), { mode: 'BLIND', callCenterId: toCallCenterId }, ctx.correlationId));
  }

  @Mutation(() => CallTransfer, {
    description:
      "WARM transfer, its start: the caller is put on hold (hears no one) while the named colleague (an AGENT key id of the merchant: transferColleagues) joins the call's room from the console and the two agents talk; then completeTransfer (the caller hears the colleague, the first agent leaves) or cancelTransfer. Refusals as transferCall's, and TRANSFER_TO_SELF; TRANSFER_PSTN_UNSUPPORTED also for a colleague of a PSTN center, or a call a PSTN center's phone holds.",
  })
  @Authorized(...CONSOLE)
  async consultTransfer(@Arg('callId', () => ID) callId: string, @Arg('toAgent', () => ID) toAgent: string, @Ctx() ctx: GraphQLContext): Promise<CallTransfer> {
    return transferOf(await ctx.services.people.transfers.start(callId, agentOf(ctx.principal), { mode: 'WARM', agent: toAgent }, ctx.correlationId));
  }

  @Mutation(() => CallTransfer, {
    description:
      "Completes a transfer: BLIND, an agent of the target center takes the call (TRANSFER_NOT_TARGET for another); WARM, either agent (a BLIND transfer to a PSTN center is completed by its phone's answer: TRANSFER_NOT_TARGET here). The agent who handed over is removed from the call's room; from now on the new agent holds the call (its commands, its hang-up, its leaving ends the call). Idempotent; a cancelled transfer is TRANSFER_CLOSED, an unknown one TRANSFER_UNKNOWN (NOT_FOUND).",
  })
  @Authorized(...CONSOLE)
  async completeTransfer(@Arg('callId', () => ID) callId: string, @Arg('transferId', () => ID) transferId: string, @Ctx() ctx: GraphQLContext): Promise<CallTransfer> {
    return transferOf(await ctx.services.people.transfers.complete(callId, transferId, agentOf(ctx.principal), ctx.correlationId));
  }

  @Mutation(() => CallTransfer, {
    description:
      'Cancels an open transfer: by the agent who started it (AGENT_CANCELLED) or declined by its target (TARGET_UNAVAILABLE). WARM: the colleague leaves the room and the caller hears the first agent again; BLIND to a PSTN center: its ringing phone is hung up. Idempotent; a completed transfer is TRANSFER_CLOSED.',
  })
  @Authorized(...CONSOLE)
  async cancelTransfer(@Arg('callId', () => ID) callId: string, @Arg('transferId', () => ID) transferId: string, @Ctx() ctx: GraphQLContext): Promise<CallTransfer> {
    return transferOf(await ctx.services.people.transfers.cancel(callId, transferId, agentOf(ctx.principal), ctx.correlationId));
  }

  @Query(() => [CallTransfer], { description: "A call's transfers, oldest first (at most 10). A key that may see the call: CRM of its merchant, AGENT of a center on the call." })
  @Authorized(...CONSOLE)
  async callTransfers(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<CallTransfer[]> {
    return (await ctx.services.people.transfers.list(callId, agentOf(ctx.principal))).map(transferOf);
  }

  @Query(() => [TransferColleague], {
    description: "The colleagues a warm transfer of this call may go to: the merchant's AGENT keys (not revoked, at most 500), the asking key excepted. From the read side.",
    complexity: 50,
  })
  @Authorized(...CONSOLE)
  async transferColleagues(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<TransferColleague[]> {
    const agent = agentOf(ctx.principal);
    const call = await ctx.services.people.agents.callFor(callId, agent);
    const keys = await ctx.services.reads.apiKeys(call.merchantId);
    return keys.filter((k) => k.role === 'AGENT' && k.revokedAt === null && k.callCenterId !== null && k.id !== agent.id).map((k) => ({ agent: k.id, callCenterId: k.callCenterId! }));
  }
}
