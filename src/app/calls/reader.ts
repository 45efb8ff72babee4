import { merchantDecider, type ActiveMerchant } from '../../domain/merchant/merchant';
import { notFound } from '../../domain/shared/errors';
import { callStreamId, merchantStreamId } from '../../domain/shared/streams';
import { callView, toCall, type CallView } from '../../projections/call-history/view';
import type { CommandHandler } from '../command-handler';

/**
 * The call as the command side knows it, for the mutations' answers and the scope checks of the
 * API: call-history's View (src/projections/call-history/view.ts) folded over the call's stream by
 * the command handler's cache. Read-your-writes: never behind the events this process just stored,
 * and one read of the newest events at most, whatever the length of the stream.
 */
export class CallReader {
  constructor(private readonly handler: CommandHandler) {}

  /** The call as stored now, or at least at `version` (the cached row when it is that new: no read). NOT_FOUND when absent. */
  async view(callId: string, version?: number): Promise<CallView> {
    const stream = callStreamId(callId);
    const row = (version === undefined ? await this.handler.load(callView, stream) : await this.handler.loadAtLeast(callView, stream, version)).state;
    if (!row) throw notFound('call', callId);
    return toCall(row);
  }

  /** The merchant a call belongs to (it never changes: any cached row answers without a read). NOT_FOUND when there is no such call. */
  async merchantOf(callId: string): Promise<string> {
    return (await this.fixedOf(callId)).merchantId;
  }

  /** The call's merchant and direction (neither ever changes: any cached row answers without a read). NOT_FOUND when there is no such call. */
  async fixedOf(callId: string): Promise<{ merchantId: string; direction: CallView['direction'] }> {
    const cached = this.handler.peek(callView, callStreamId(callId))?.state;
    if (cached) return { merchantId: cached.merchant_id, direction: cached.direction };
    const call = await this.view(callId);
    return { merchantId: call.merchantId, direction: call.direction };
  }

  /** The merchant as its stream says now: the facts the call's decisions are made with. NOT_FOUND when absent. */
  async merchant(merchantId: string): Promise<ActiveMerchant> {
    const { state } = await this.handler.load(merchantDecider, merchantStreamId(merchantId));
    if (state.status === 'Absent') throw notFound('merchant', merchantId);
    return state;
  }
}
