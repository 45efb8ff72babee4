import { randomUUID } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { AgentMedia } from '../ports/agent-media';
import { legIdOf, type MediaGateway } from '../ports/media';
import type { TerminationCause } from '../domain/call/events';
import { centerIdentityOf } from '../domain/call/identity';
import type { CallCenterState } from '../domain/merchant/merchant';
import { DomainError } from '../domain/shared/errors';
import { transferStreamId } from '../domain/shared/streams';
import { transferDecider, type TransferCancelReason, type TransferLine } from '../domain/transfer/transfer';
import type { CommandHandler, CommandMetadata } from './command-handler';
import type { Capacity } from './calls/capacity';
import type { CallHolders } from './calls/holders';
import type { GatewayReports } from './calls/reports';
import type { SecondLegHandler } from './calls/second-legs';

/** The kind of a transfer's phone leg (second-legs.ts): legs `t1`, `t2`… (the transfer's ordinal, the decider's). */
export const TRANSFER_LEG_KIND = 't';

export interface PhoneTransferOptions {
  ringingTimeoutSeconds: number;
  maxCallDurationSeconds: number;
}

/** The call a transfer dials a PSTN center for: its merchant and the shop's ids (the INVITE's X-Webdial headers). */
export interface TransferredCall {
  callId: string;
  merchantId: string;
  linkId: string | null;
  customerId: string | null;
  sessionId: string | null;
}

/** What the media reported for the leg when it failed: the transfer's stable cancel reason. */
const failureOf = (cause: TerminationCause): TransferCancelReason => (cause === 'BUSY' ? 'TARGET_BUSY' : cause === 'NO_ANSWER' ? 'TARGET_NO_ANSWER' : 'TARGET_FAILED');

/**
 * A BLIND transfer to a PSTN call center (issue 25): the center's number dialled as a second phone
 * leg of the call (ports/media.ts DialRequest.intoCallId, leg `t<n>`), into the call's room.
 *
 * - `dial`: a gateway port is seized at the center's region **under the call's id** (so the call's
 *   end releases it like the call's own port: terminate.ts at once, and call-effects from the store
 *   after a crash), `TransferDialled` records the line (its caller ID identifies the call to the
 *   center's CRM: crm-context's ANI interval), then the media dials. No port: cancelled NO_PORT.
 * - the leg's reports (a SecondLegHandler for kind `t`): answered → `TransferCompleted` (to the center,
 *   agent null: its phone holds the call) and the first agent is removed from the room; failed (busy,
 *   no answer, failed) → `TransferCancelled` (TARGET_BUSY, TARGET_NO_ANSWER, TARGET_FAILED) and the port
 *   released, the first agent still has the call. Once the phone holds the call, its hang-up ends the
 *   call (HANGUP by CALLEE, the room and its legs with it) and its DTMF is the call's, as a PSTN
 *   center's agent keys it on a call dialled out.
 * - `dropLine`: a dialled transfer cancelled (by its starter), or a phone that held the call handed it on
 *   (a blind transfer from a PSTN center, completed): the leg's phone leaves, the port is released.
 */
export class PhoneTransfers {
  constructor(
    private readonly handler: CommandHandler,
    private readonly holders: CallHolders,
    private readonly capacity: Capacity,
    private readonly media: MediaGateway,
    private readonly agentMedia: AgentMedia,
    private readonly reports: GatewayReports,
    private readonly clock: Clock,
    private readonly options: PhoneTransferOptions,
  ) {}

  /**
   * Dials the PSTN center of the open BLIND transfer `transferId`. A port that cannot be seized, or a
   * dial the media refuses outright, cancels the transfer (NO_PORT, TARGET_FAILED): the call stays with
   * the first agent.
   */
  async dial(call: TransferredCall, transferId: string, center: CallCenterState, meta: CommandMetadata): Promise<void> {
    const { callId, merchantId } = call;
    const now = this.clock.now();
    const seized = await this.capacity.seizePort(callId, merchantId, center.region, now, meta);
    if (seized === null) return this.fail(callId, transferId, 'NO_PORT', null, meta);
    let line: TransferLine;
    try {
      const { state } = await this.handler.handle(
        transferDecider,
        transferStreamId(callId),
        { type: 'DialTransfer', data: { callId, transferId, destination: center.phoneNumber, gatewayId: seized.gatewayId, port: seized.port, ani: seized.ani, at: now.toISOString() } },
        meta,
      );
      if (state.open?.line === null || state.open === null) throw new DomainError('CONFLICT', `transfer ${transferId} has no line`);
      line = state.open.line;
    } catch (e) {
      // E.g. the transfer was cancelled meanwhile: the port goes back.
      await this.capacity.releasePort(callId, seized.gatewayId, seized.port, meta);
      throw e;
    }
    try {
      await this.media.dial({
        callId: legIdOf(callId, line.leg),
        intoCallId: callId,
        merchantId,
        destination: line.destination,
        ani: line.ani,
        gatewayId: line.gatewayId,
        port: line.port,
        ringingTimeoutSeconds: this.options.ringingTimeoutSeconds,
        maxDurationSeconds: this.options.maxCallDurationSeconds,
        identity: centerIdentityOf(call, center),
      });
    } catch (e) {
      await this.fail(callId, transferId, 'TARGET_FAILED', line, meta);
      await this.media.hangUp(legIdOf(callId, line.leg)).catch(() => undefined);
      throw e;
    }
  }

  /** A dialled transfer was cancelled: its phone leaves the room (a BYE, or a CANCEL while it rings) and its port is released. */
  async dropLine(callId: string, line: TransferLine, meta: CommandMetadata): Promise<void> {
    try {
      await this.media.hangUp(legIdOf(callId, line.leg));
    } finally {
      await this.capacity.releasePort(callId, line.gatewayId, line.port, meta);
    }
  }

  /** The handler of the transfers' phone legs (kind `t`), for the composition's SecondLegs. */
  legs(): SecondLegHandler {
    return {
      answered: (callId, leg, id) => this.answered(callId, leg, id),
      terminated: (callId, leg, cause, _sip, id) => this.terminated(callId, leg, cause, id),
      dtmf: async (callId, leg, digits, id) => {
        // Only the phone that holds the call keys the call's commands (before the answer: nothing).
        if ((await this.holders.transfers(callId)).line?.leg === leg) await this.reports.dtmf(callId, digits, id, randomUUID());
      },
    };
  }

  private async answered(callId: string, leg: string, gatewayEventId: string): Promise<void> {
    const s = await this.holders.transfers(callId);
    const meta = this.meta(s.merchantId, gatewayEventId);
    const open = s.open;
    if (open?.line?.leg !== leg) {
      if (s.line?.leg === leg) return; // the same answer reported again
      // The leg of a transfer that is over (cancelled while it rang, the call ended): its phone leaves.
      await this.media.hangUp(legIdOf(callId, leg));
      return;
    }
    try {
      await this.handler.handle(transferDecider, transferStreamId(callId), { type: 'CompleteTransfer', data: { callId, transferId: open.transferId, agent: null, at: this.now() } }, meta);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      // Cancelled meanwhile (its starter, or the call's end): the phone that answered leaves.
      await this.dropLine(callId, open.line, meta);
      return;
    }
    // Blind: the agent who handed over leaves the room, as when a console takes the call; a phone that
    // held it (a transfer from a PSTN center) leaves too, and its port goes back.
    if (open.from.agent !== null) await this.agentMedia.removeAgent(callId, open.from.agent);
    if (s.line !== null && s.line.leg !== leg) await this.dropLine(callId, s.line, meta);
  }

  private async terminated(callId: string, leg: string, cause: TerminationCause, gatewayEventId: string): Promise<void> {
    const s = await this.holders.transfers(callId);
    const meta = this.meta(s.merchantId, gatewayEventId);
    if (s.open?.line?.leg === leg) return this.fail(callId, s.open.transferId, failureOf(cause), s.open.line, meta);
    if (s.line?.leg !== leg) return; // a leg we hung up (its transfer cancelled): its port went back then
    // The PSTN center holds the call and hung up: the call ends (the callee's hang-up), the room with it.
    await this.reports.agentEnded(callId, `${TRANSFER_LEG_KIND}-leg:${gatewayEventId}`, meta.correlationId);
    await this.media.hangUp(callId);
  }

  /** The transfer cancelled for `reason`; the line (when one was dialled) dropped and its port released. */
  private async fail(callId: string, transferId: string, reason: TransferCancelReason, line: TransferLine | null, meta: CommandMetadata): Promise<void> {
    try {
      await this.handler.handle(transferDecider, transferStreamId(callId), { type: 'CancelTransfer', data: { callId, transferId, reason, at: this.now() } }, meta);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e; // the store away: the port goes back at the call's end
      return; // completed meanwhile: the line holds the call, left as it is
    }
    if (line !== null) await this.capacity.releasePort(callId, line.gatewayId, line.port, meta);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private meta(merchantId: string | null, gatewayEventId: string): CommandMetadata {
    return { merchantId, correlationId: `${TRANSFER_LEG_KIND}-leg:${gatewayEventId}`, causationId: null };
  }
}
