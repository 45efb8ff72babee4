import type { Clock } from '../ports/clock';
import type { AgentMedia } from '../ports/agent-media';
import { callDecider } from '../domain/call/call';
import { apiKeyDecider } from '../domain/merchant/api-key-decider';
import { DomainError, refusal } from '../domain/shared/errors';
import { apiKeyStreamId, callStreamId, transferStreamId } from '../domain/shared/streams';
import { transferDecider, transfersView, type TransferCancelReason, type TransferFacts, type TransferView } from '../domain/transfer/transfer';
import type { CommandHandler, CommandMetadata } from './command-handler';
import type { CallReader } from './calls/reader';
import type { CallHolders } from './calls/holders';
import type { CallView } from '../projections/call-history/view';
import type { IdGenerator } from './ids';
import type { Agent, AgentService } from './agent-service';
import type { PhoneTransfers } from './transfer-phone';

/** Where a transfer goes: another center of the merchant (BLIND), or a named colleague, an AGENT key id (WARM). */
export type TransferTarget = { mode: 'BLIND'; callCenterId: string } | { mode: 'WARM'; agent: string };

/** The longest id a client may send (a center id, an agent's key id, a transfer id). */
const MAX_ID = 100;

const bounded = (value: string, field: string): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID) throw new DomainError('BAD_USER_INPUT', `${field} must be 1…${MAX_ID} characters`, { field });
  return value;
};

/**
 * Transfers from the console (issue 25, must-have 3): the commands of the transfer decider
 * (`transfer-<callId>`), with the facts it needs read here from the call's stream, the merchant's and
 * the named colleague's key, and the media each step needs (../ports/agent-media.ts):
 *
 * - BLIND `start` → the target center's consoles are offered the call (a screen pop); its agent
 *   `complete`s it (takes it) → the agent who handed over is removed from the call's room.
 * - WARM `start` → the caller is put on hold (hears no one) while the colleague's console joins the
 *   room and the two agents talk; `complete` → the first agent is removed, the caller hears the
 *   colleague; `cancel` → the colleague is removed, the caller hears the first agent again.
 *
 * Who may do what (beyond the decider's rules): a key of the call's merchant whose center is on the
 * call (AgentService.callFor); a blind transfer is taken by an agent other than the one who handed it
 * over; a warm one is completed by either agent; the target declines with TARGET_UNAVAILABLE.
 * Only browser (PC-to-PC) calls are transferred (a call on a phone line: TRANSFER_PSTN_UNSUPPORTED). A
 * BLIND transfer to a PSTN center dials its number into the call's room (./transfer-phone.ts): its
 * answer completes the transfer, its failure cancels it. A WARM one goes to a browser center's agent.
 * A call a PSTN center's phone took by a transfer is handed on BLIND by a key of that center or a CRM
 * key (the phone has none): its line leaves the room when the new holder has the call.
 */
export class TransferService {
  constructor(
    private readonly handler: CommandHandler,
    private readonly agents: AgentService,
    private readonly holders: CallHolders,
    private readonly reader: CallReader,
    private readonly media: AgentMedia,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    /** Issue 25: BLIND transfers to PSTN centers (null: refused TRANSFER_PSTN_UNSUPPORTED, as before). */
    private readonly phones: PhoneTransfers | null = null,
  ) {}

  /** The call's transfers, oldest first, when the key may see the call. */
  async list(callId: string, agent: Agent): Promise<readonly TransferView[]> {
    await this.agents.callFor(callId, agent);
    return (await this.handler.load(transfersView, transferStreamId(callId))).state;
  }

  /**
   * Starts a transfer of the call the agent holds. The same transfer asked again while it is open (the
   * same agent, mode and target: a retried click) answers the open one; another is TRANSFER_IN_PROGRESS.
   */
  async start(callId: string, agent: Agent, to: TransferTarget, correlationId: string): Promise<TransferView> {
    const target = to.mode === 'BLIND' ? { mode: to.mode, callCenterId: bounded(to.callCenterId, 'toCallCenterId') } : { mode: to.mode, agent: bounded(to.agent, 'toAgent') };
    const view = await this.agents.callFor(callId, agent);
    const { state: call } = await this.handler.load(callDecider, callStreamId(callId));
    const transfers = await this.holders.transfers(callId);
    const open = transfers.open;
    if (open && open.from.agent === agent.id && open.mode === target.mode && (target.mode === 'BLIND' ? open.to.callCenterId === target.callCenterId : open.to.agent === target.agent))
      return this.viewOf(callId, open.transferId);
    const merchant = await this.reader.merchant(view.merchantId);
    const facts: TransferFacts = {
      call: { merchantId: view.merchantId, status: view.state, callCenterId: view.callCenterId, answeredBy: call.status === 'Answered' ? call.answeredBy : null },
      callCenterIds: Object.keys(merchant.callCenters),
      agents: target.mode === 'WARM' ? await this.colleague(target.agent, view.merchantId) : {},
    };
    if (call.status === 'Answered' && call.media !== 'BROWSER')
      throw refusal('CONFLICT', 'TRANSFER_PSTN_UNSUPPORTED', 'only a browser (PC-to-PC) call is transferred: a call on a phone line is not', { media: call.media });
    const toCenter = target.mode === 'BLIND' ? target.callCenterId : facts.agents[target.agent];
    const center = toCenter === undefined ? undefined : merchant.callCenters[toCenter];
    // A PSTN center is dialled (BLIND only: a warm transfer consults a colleague in the console).
    const phone = center !== undefined && center.kind !== 'BROWSER';
    if (phone && (target.mode === 'WARM' || this.phones === null))
      throw refusal('CONFLICT', 'TRANSFER_PSTN_UNSUPPORTED', `call center ${toCenter} answers on phones: a warm transfer goes to a browser center's agent`, { callCenterId: toCenter });
    const transferId = this.ids.id('tr');
    const meta = this.meta(view.merchantId, correlationId);
    await this.handler.handle(transferDecider, transferStreamId(callId), { type: 'StartTransfer', data: { callId, transferId, agent: agent.id, to: target, facts, at: this.now() } }, meta);
    if (target.mode === 'WARM') await this.media.holdCaller(callId, true);
    if (phone && this.phones !== null && call.status === 'Answered')
      await this.phones.dial({ callId, merchantId: view.merchantId, linkId: call.linkId, customerId: call.customerId, sessionId: call.sessionId }, transferId, center, meta);
    return this.viewOf(callId, transferId);
  }

  /**
   * Completes a transfer: BLIND, the target center's agent takes the call (a key of another center, or
   * the agent who handed it over, is refused); WARM, either agent completes it. Then the agent who
   * handed over is removed from the room and the caller hears the new agent. Again: the same answer
   * (and the media steps again, each idempotent).
   */
  async complete(callId: string, transferId: string, agent: Agent, correlationId: string): Promise<TransferView> {
    const { view, before } = await this.partyTo(callId, transferId, agent);
    // A PSTN center's phone that holds the call (a transfer to it): it leaves once the new agent has the call.
    const { line } = await this.holders.transfers(callId);
    if (before.status === 'OPEN') {
      if (before.mode === 'BLIND' && (agent.id === before.from.agent || (agent.callCenterId !== null && agent.callCenterId !== before.to.callCenterId)))
        throw refusal('FORBIDDEN', 'TRANSFER_NOT_TARGET', `a blind transfer is taken by an agent of call center ${before.to.callCenterId}`);
      if (before.mode === 'WARM' && agent.id !== before.from.agent && agent.id !== before.to.agent)
        throw refusal('FORBIDDEN', 'TRANSFER_NOT_TARGET', 'a warm transfer is completed by the agent who started it or by the colleague');
    }
    await this.handler.handle(
      transferDecider,
      transferStreamId(callId),
      { type: 'CompleteTransfer', data: { callId, transferId, agent: before.mode === 'BLIND' ? agent.id : null, at: this.now() } },
      this.meta(view.merchantId, correlationId),
    );
    const after = await this.viewOf(callId, transferId);
    try {
      if (after.from.agent !== null && after.from.agent !== after.to.agent) await this.media.removeAgent(callId, after.from.agent);
      if (before.status === 'OPEN' && after.status === 'COMPLETED' && line !== null) await this.phones?.dropLine(callId, line, this.meta(view.merchantId, correlationId));
    } finally {
      // Whatever became of the removal, the caller must not stay on hold with the new agent, who hears it again.
      if (after.mode === 'WARM') {
        await this.media.holdCaller(callId, false);
        if (after.to.agent !== null) await this.media.agentHearsCaller(callId, after.to.agent, true);
      }
    }
    return after;
  }

  /**
   * Cancels an open transfer: by the agent who started it (AGENT_CANCELLED), or declined by its target
   * (TARGET_UNAVAILABLE). A warm one: the colleague leaves the room and the caller hears the first agent again.
   */
  async cancel(callId: string, transferId: string, agent: Agent, correlationId: string): Promise<TransferView> {
    const { view, before } = await this.partyTo(callId, transferId, agent);
    const target = agent.id === before.to.agent || (before.to.agent === null && agent.callCenterId === before.to.callCenterId);
    // From a PSTN center's phone (no agent key): a key of that center started it.
    const starter = agent.id === before.from.agent || (before.from.agent === null && agent.callCenterId === before.from.callCenterId);
    if (before.status === 'OPEN' && agent.callCenterId !== null && !starter && !target)
      throw refusal('FORBIDDEN', 'TRANSFER_NOT_TARGET', 'a transfer is cancelled by the agent who started it, or declined by its target');
    const reason: TransferCancelReason = starter || agent.callCenterId === null ? 'AGENT_CANCELLED' : 'TARGET_UNAVAILABLE';
    return this.cancelled(callId, transferId, view.merchantId, reason, correlationId);
  }

  /**
   * A console left the call's room (LiveKit's participant_left): a colleague consulted in an open warm
   * transfer who leaves declines it (TARGET_UNAVAILABLE). False when it was no such colleague.
   */
  async agentLeft(callId: string, agentId: string, correlationId: string): Promise<boolean> {
    const open = (await this.holders.transfers(callId)).open;
    if (open?.mode !== 'WARM' || open.to.agent !== agentId) return false;
    await this.cancelled(callId, open.transferId, await this.reader.merchantOf(callId), 'TARGET_UNAVAILABLE', correlationId);
    return true;
  }

  /**
   * A console joined the call's room (LiveKit's participant_joined): the colleague of an open warm
   * transfer is unsubscribed from the caller's audio (the caller is on hold: the two agents talk alone).
   * LiveKit reports the join after the console subscribed: the colleague may hear the caller for that moment.
   */
  async agentJoined(callId: string, agentId: string): Promise<string> {
    const open = (await this.holders.transfers(callId)).open;
    if (open?.mode !== 'WARM' || open.to.agent !== agentId) return 'agent-joined';
    await this.media.agentHearsCaller(callId, agentId, false);
    return 'agent-joined: consulting, the caller not heard';
  }

  private async cancelled(callId: string, transferId: string, merchantId: string, reason: TransferCancelReason, correlationId: string): Promise<TransferView> {
    const { open } = await this.holders.transfers(callId);
    const meta = this.meta(merchantId, correlationId);
    await this.handler.handle(transferDecider, transferStreamId(callId), { type: 'CancelTransfer', data: { callId, transferId, reason, at: this.now() } }, meta);
    // A transfer dialled to a PSTN center: its phone leaves and its port goes back.
    if (open?.transferId === transferId && open.line !== null) await this.phones?.dropLine(callId, open.line, meta);
    const after = await this.viewOf(callId, transferId);
    if (after.mode === 'WARM')
      try {
        if (after.to.agent !== null) await this.media.removeAgent(callId, after.to.agent);
      } finally {
        await this.media.holdCaller(callId, false);
      }
    return after;
  }

  /**
   * The call and the transfer, when the key may act on it: a key of the call's merchant that is on the
   * call now (AgentService.callFor), or a party to this transfer (its agents, its two centers), so that
   * a retried complete or cancel answers the same even once the transfer moved the call away from it.
   */
  private async partyTo(callId: string, transferId: string, agent: Agent): Promise<{ view: CallView; before: TransferView }> {
    bounded(transferId, 'transferId');
    const view = await this.reader.view(callId);
    if (agent.merchantId !== null && view.merchantId !== agent.merchantId) throw new DomainError('FORBIDDEN', 'this key is bound to another merchant');
    // An unknown transfer: NOT_FOUND only to a key that may see the call (FORBIDDEN to others).
    const before = await this.viewOf(callId, transferId).catch(async (e: unknown) => {
      await this.agents.callFor(callId, agent);
      throw e;
    });
    const party =
      agent.callCenterId === null ||
      agent.id === before.from.agent ||
      agent.id === before.to.agent ||
      agent.callCenterId === before.from.callCenterId ||
      agent.callCenterId === before.to.callCenterId;
    if (!party) await this.agents.callFor(callId, agent);
    return { view, before };
  }

  /** A colleague named for a warm transfer, when it is an active AGENT key of the merchant: { keyId: its center }; else {} (the decider refuses). */
  private async colleague(keyId: string, merchantId: string): Promise<Record<string, string>> {
    const { state } = await this.handler.load(apiKeyDecider, apiKeyStreamId(keyId));
    return state.status === 'Active' && state.role === 'AGENT' && state.merchantId === merchantId && state.callCenterId !== null ? { [keyId]: state.callCenterId } : {};
  }

  private async viewOf(callId: string, transferId: string): Promise<TransferView> {
    const found = (await this.handler.load(transfersView, transferStreamId(callId))).state.find((t) => t.transferId === transferId);
    if (!found) throw refusal('NOT_FOUND', 'TRANSFER_UNKNOWN', `call ${callId} has no transfer ${transferId}`, { id: transferId });
    return found;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private meta(merchantId: string, correlationId: string): CommandMetadata {
    return { merchantId, correlationId, causationId: null };
  }
}
