import type { Clock } from '../ports/clock';
import type { MediaGateway, MediaJoin } from '../ports/media';
import type { AgentMedia } from '../ports/agent-media';
import type { DtmfAction } from '../domain/merchant/events';
import type { CallEvent } from '../domain/call/events';
import { callDecider } from '../domain/call/call';
import { DomainError, notFound } from '../domain/shared/errors';
import { callStreamId } from '../domain/shared/streams';
import type { CommandHandler, CommandMetadata } from './command-handler';
import type { CallReader } from './calls/reader';
import type { GatewayReports } from './calls/reports';
import type { AdminService } from './admin-service';
import type { CallView } from '../projections/call-history/view';
import type { CallHolders } from './calls/holders';

/** Who is at the console: the key's id (its identity in events) and the scope it is bound to. */
export interface Agent {
  /** The API key id: CallAnswered.answeredBy and DtmfCommandRecognized.agent. */
  id: string;
  /** The merchant the key is bound to; null for ADMIN. */
  merchantId: string | null;
  /** The call center of an AGENT key; null for CRM and ADMIN keys (every center of the merchant). */
  callCenterId: string | null;
}

/** A console command as recorded: the DtmfCommandRecognized it decided (accepted or refused, with why). */
export type AgentCommandRecord = Extract<CallEvent, { type: 'DtmfCommandRecognized' }>['data'];

/**
 * The agent console's use cases (issue 12): take a browser (PC-to-PC) call, give the commands DTMF
 * gives (push a page, volume, open chat) with buttons, hang up, and get the media join for the call's
 * room. Every change goes through the generic command handler and the call decider; the scope checks
 * here are the only rules of their own: a key sees its merchant's calls, an AGENT key only its center's.
 */
export class AgentService {
  constructor(
    private readonly handler: CommandHandler,
    private readonly calls: CallReader,
    private readonly reports: GatewayReports,
    private readonly admin: AdminService,
    private readonly media: MediaGateway,
    private readonly agentMedia: AgentMedia,
    private readonly clock: Clock,
    /** Issue 25: who holds a call after a transfer (whose console may act on it, whose leaving ends it). */
    private readonly holders: CallHolders,
  ) {}

  /**
   * The call, as stored, when the agent may act on it: NOT_FOUND when there is no such call,
   * FORBIDDEN when it is another merchant's or (AGENT key) another call center's.
   */
  async callFor(callId: string, agent: Agent): Promise<CallView> {
    const view = await this.calls.view(callId);
    if (agent.merchantId !== null && view.merchantId !== agent.merchantId) throw new DomainError('FORBIDDEN', 'this key is bound to another merchant');
    // An AGENT key: its center must be on the call, the holder's or an open transfer's target (issue 25).
    if (agent.callCenterId !== null && (view.callCenterId === null || !(await this.holders.centers(callId, view.callCenterId)).includes(agent.callCenterId)))
      throw new DomainError('FORBIDDEN', 'this key is bound to another call center');
    return view;
  }

  /** Whether the agent may act on the call now ({@link callFor} without the error): false for a call it may not see or that does not exist. */
  async onCall(callId: string, agent: Agent): Promise<boolean> {
    return this.callFor(callId, agent).then(
      () => true,
      (e: unknown) => {
        if (e instanceof DomainError) return false;
        throw e;
      },
    );
  }

  /** Takes a browser call that rings in the console. The first agent wins; the others get a CONFLICT. */
  async answer(callId: string, agent: Agent, correlationId: string): Promise<CallView> {
    const call = await this.callFor(callId, agent);
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'AnswerCall', data: { callId, gatewayEventId: null, answeredBy: agent.id, at: this.now() } },
      this.meta(call.merchantId, correlationId),
    );
    return this.calls.view(callId);
  }

  /**
   * The agent ends the call from the console: recorded as the callee's hang-up (terminatedBy CALLEE),
   * through the same path as a gateway's report, so the port and capacity are released the same way.
   * An AGENT key of a center the call is only offered to (an open transfer's target) may take or
   * decline it, not end it: FORBIDDEN until it holds it (issue 25).
   */
  async hangUp(callId: string, agent: Agent, correlationId: string): Promise<CallView> {
    const call = await this.callFor(callId, agent);
    if (call.state === 'TERMINATED') return call;
    if (agent.callCenterId !== null && call.callCenterId !== null && (await this.holders.holder(callId, { callCenterId: call.callCenterId, agent: null })).callCenterId !== agent.callCenterId)
      throw new DomainError('FORBIDDEN', "the call is offered to this key's call center, not held by it: take it (completeTransfer) before ending it");
    await this.endAsCallee(callId, `console-hangup:${agent.id}`, correlationId);
    return this.calls.view(callId);
  }

  /**
   * The console of `agentId` left the call's media room (LiveKit's participant_left webhook: the page
   * was closed, the network was lost for good, or it left the room): the call ends as that agent's
   * hang-up would (HANGUP by CALLEE) and its room is deleted. Returns false, changing nothing, when the
   * call has ended already (a hang-up empties the room too) or another agent holds it: answered it (or
   * nobody did: a console that joined without taking the call), or took it by a transfer (issue 25:
   * the agent who handed it over leaves, or is removed, without ending it). NOT_FOUND for a call this deployment never had.
   */
  async leftRoom(callId: string, agentId: string, correlationId: string): Promise<boolean> {
    const { state } = await this.handler.load(callDecider, callStreamId(callId));
    if (state.status === 'Absent') throw notFound('call', callId);
    if (state.status !== 'Answered') return false;
    // After a transfer the holder's leaving ends the call; the agent who handed it over leaves freely (issue 25).
    const holder = await this.holders.holder(callId, { callCenterId: state.callCenterId, agent: state.answeredBy });
    if (holder.agent !== agentId) return false;
    await this.endAsCallee(callId, `console-left:${agentId}`, correlationId);
    return true;
  }

  /** The callee's end, through the same path as a gateway's report (port and capacity released alike), then the media's. */
  private async endAsCallee(callId: string, gatewayEventId: string, correlationId: string): Promise<void> {
    await this.reports.agentEnded(callId, gatewayEventId, correlationId);
    await this.media.hangUp(callId);
  }

  /**
   * A console button: decides the DtmfCommandRecognized the same command keyed as DTMF would,
   * under the merchant's table and allowed origins at this instant. A page outside the origins is
   * recorded as refused and returned with accepted false and the reason; after the end: CONFLICT.
   */
  async command(callId: string, agent: Agent, action: DtmfAction, argument: string | null, correlationId: string): Promise<AgentCommandRecord> {
    const call = await this.callFor(callId, agent);
    const merchant = await this.admin.merchant(call.merchantId);
    const { events } = await this.handler.handle(
      callDecider,
      callStreamId(callId),
      {
        type: 'IssueAgentCommand',
        data: { callId, agent: agent.id, action, argument, table: merchant.dtmfTable, allowedOrigins: merchant.allowedOrigins, holder: await this.handedTo(callId), at: this.now() },
      },
      this.meta(call.merchantId, correlationId),
    );
    const recorded = events.find((e) => e.type === 'DtmfCommandRecognized');
    if (!recorded) throw new Error('IssueAgentCommand decided no event'); // the decider always records or throws
    return recorded.data;
  }

  /** What the console needs to join a browser call's room (LiveKit), or which mode has no room. */
  async mediaJoin(callId: string, agent: Agent): Promise<MediaJoin> {
    const call = await this.callFor(callId, agent);
    if (call.state === 'TERMINATED') throw new DomainError('CONFLICT', 'the call has ended', { status: 'TERMINATED' });
    return this.agentMedia.joinDetails(callId, agent.id);
  }

  /** The agent a completed transfer handed the call to, or null (no hand-over: the answering agent holds it). */
  private async handedTo(callId: string): Promise<string | null> {
    return (await this.holders.transfers(callId)).holder?.agent ?? null;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private meta(merchantId: string, correlationId: string): CommandMetadata {
    return { merchantId, correlationId, causationId: null };
  }
}
