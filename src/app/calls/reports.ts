import type { Clock } from '../../ports/clock';
import type { CallCommand } from '../../domain/call/commands';
import type { TerminationCause } from '../../domain/call/events';
import { callDecider, ownLegParty } from '../../domain/call/call';
import { DomainError, notFound } from '../../domain/shared/errors';
import { callStreamId } from '../../domain/shared/streams';
import { DTMF_DIGITS } from '../../domain/shared/validation';
import { callView, toCall, type CallRow, type CallView } from '../../projections/call-history/view';
import type { CommandHandler } from '../command-handler';
import type { CallReader } from './reader';
import type { CallEnding, EndingOf } from './terminate';

/**
 * The media gateway's reports of the PSTN leg: ringing, answered, DTMF digits and the end, from the
 * GATEWAY mutations and from the media adapters (the same path: src/ports/media.ts CallProgressSink).
 * Each is one command on the call's stream; the gateway's event id makes a repeated report a no-op.
 * Each answers with the call as stored after it: call-history's View, loaded and advanced with the
 * command itself (one trip to the store when this process has not seen the call yet, none otherwise
 * but the append).
 */
export class GatewayReports {
  constructor(
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly clock: Clock,
    private readonly ending: CallEnding,
  ) {}

  ringing(callId: string, gatewayEventId: string, correlationId: string): Promise<CallView> {
    return this.report(callId, correlationId, (at) => ({ type: 'ReportRinging', data: { callId, gatewayEventId, at } }));
  }

  answered(callId: string, gatewayEventId: string, correlationId: string): Promise<CallView> {
    return this.report(callId, correlationId, (at) => ({ type: 'AnswerCall', data: { callId, gatewayEventId, answeredBy: null, at } }));
  }

  /** Digits keyed by the agent: the report decides the commands they complete, under the merchant's rules of now. */
  async dtmf(callId: string, digits: string, gatewayEventId: string, correlationId: string): Promise<CallView> {
    if (!DTMF_DIGITS.test(digits) || digits.length > 32) throw new DomainError('BAD_USER_INPUT', 'digits must be 1 to 32 of 0-9 * # A-D', { field: 'digits' });
    const merchant = await this.reader.merchant(await this.reader.merchantOf(callId));
    return this.report(callId, correlationId, (at) => ({
      type: 'ReportDtmf',
      data: { callId, digits, gatewayEventId, at, table: merchant.dtmfTable, allowedOrigins: merchant.allowedOrigins },
    }));
  }

  /**
   * The gateway's side ended the call; `reason` says why a FAILED call failed. That side is the callee
   * of a call dialled out (terminatedBy CALLEE) and the caller of an INBOUND call (the phone's BYE:
   * terminatedBy CALLER).
   */
  async terminated(callId: string, cause: TerminationCause, sipStatus: number | null, gatewayEventId: string, correlationId: string, reason: string | null = null): Promise<CallView> {
    if (sipStatus !== null && (!Number.isInteger(sipStatus) || sipStatus < 100 || sipStatus > 699))
      throw new DomainError('BAD_USER_INPUT', 'sipStatus must be a SIP status code from 100 to 699', { field: 'sipStatus' });
    // Who hung up follows from the call's direction (and a callback's media), which its state holds: no lookup first.
    return this.end(callId, (call) => ({ cause, by: ownLegParty(call), sipStatus, gatewayEventId, reason }), correlationId);
  }

  /** The agent ended the call from the console, or its console left the room: the callee's hang-up, whichever way the call went. */
  async agentEnded(callId: string, gatewayEventId: string, correlationId: string): Promise<CallView> {
    return this.end(callId, { cause: 'HANGUP', by: 'CALLEE', sipStatus: null, gatewayEventId, reason: null }, correlationId);
  }

  // The envelopes' merchant comes from the call's state (callDecider.merchantOf): no lookup first.
  private async end(callId: string, ending: EndingOf, correlationId: string): Promise<CallView> {
    return answered(callId, (await this.ending.end(callId, ending, { correlationId, causationId: null }, callView)).answer);
  }

  private async report(callId: string, correlationId: string, command: (at: string) => CallCommand): Promise<CallView> {
    const r = await this.handler.handle(callDecider, callStreamId(callId), command(this.clock.now().toISOString()), { correlationId, causationId: null }, callView);
    return answered(callId, r.answer);
  }
}

/** The command's answering row as the API's Call (NOT_FOUND: no such call). */
const answered = (callId: string, row: CallRow | null): CallView => {
  if (!row) throw notFound('call', callId);
  return toCall(row);
};
