import { centersOnCall, holderOf, transferDecider, type Holder, type TransferState } from '../../domain/transfer/transfer';
import { transferStreamId } from '../../domain/shared/streams';
import type { CommandHandler } from '../command-handler';

/**
 * Who holds a call (issue 25): the one place the application asks whose console may act on a call
 * and whose leaving its room ends it. No read model of its own: the call's `transfer-<callId>`
 * stream folded by the command handler's cache (read-your-writes; one indexed read when nothing
 * changed), and the domain's rules (`holderOf`, `centersOnCall`) applied to what the call's own
 * stream says (its center, its answering agent), which the caller passes in.
 */
export class CallHolders {
  constructor(private readonly handler: CommandHandler) {}

  /** The call's transfers as decided so far (the transfer decider's state). */
  async transfers(callId: string): Promise<TransferState> {
    return (await this.handler.load(transferDecider, transferStreamId(callId))).state;
  }

  /** Who holds the call now, given who answered it (`own`: its center and answering agent). */
  async holder(callId: string, own: Holder): Promise<Holder> {
    return holderOf(await this.transfers(callId), own);
  }

  /** The centers whose agents may act on the call now (the holder's, and an open transfer's target's), given the call's own center. */
  async centers(callId: string, callCenterId: string): Promise<string[]> {
    return centersOnCall(await this.transfers(callId), { callCenterId, agent: null });
  }
}
