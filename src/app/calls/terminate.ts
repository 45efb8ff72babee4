import type { Clock } from '../../ports/clock';
import type { CallEvent, Party, TerminationCause } from '../../domain/call/events';
import type { Fold } from '../../domain/shared/decider';
import { callDecider, type CallDeciderState } from '../../domain/call/call';
import { callStreamId } from '../../domain/shared/streams';
import { DomainError } from '../../domain/shared/errors';
import type { CommandHandler, CommandMetadata, HandleResult } from '../command-handler';
import type { Capacity } from './capacity';

/** Who ends a call, why, and with which gateway event (for dedupe). */
export interface Ending {
  cause: TerminationCause;
  by: Party;
  sipStatus: number | null;
  gatewayEventId: string | null;
  /** Why a FAILED call failed (a stable code from the gateway); absent or null otherwise. */
  reason?: string | null;
}

/** The ending, or how the call's state decides it (who hung up depends on the call's direction). */
export type EndingOf = Ending | ((call: CallDeciderState) => Ending);

/**
 * Records the end of a call (idempotent: an ended call decides []); the result holds the stream's
 * version and the call's state (whose merchant it is). NOT_FOUND when there is no such call.
 * Nothing is released: for an initiation's own refusals, which gave back what they took already.
 */
export const terminateCall = <V = undefined>(handler: CommandHandler, clock: Clock, callId: string, end: EndingOf, meta: CommandMetadata, answer?: Fold<V, CallEvent>): Promise<HandleResult<CallDeciderState, CallEvent, V>> => {
  const at = clock.now().toISOString();
  return handler.handle(callDecider, callStreamId(callId), (call) => ({ type: 'TerminateCall' as const, data: { callId, ...(typeof end === 'function' ? end(call) : end), at } }), meta, answer);
};

/**
 * How a placed call ends (the caller, the callee's side, a timeout): the end recorded, then what
 * the call holds released at once as the index knows it, so that the next call finds the port free.
 * A release that fails here (the store away) fails the request, so that the client's retry releases;
 * the call effects' process manager (./effects.ts) follows every termination from its checkpoint
 * and owns the guarantee (a client that never retries, a timeout, a crash).
 */
export class CallEnding {
  constructor(
    private readonly handler: CommandHandler,
    private readonly capacity: Capacity,
    private readonly clock: Clock,
  ) {}

  /**
   * Returns the end's result: the stream's version, and the `answer` View's row when one is asked for
   * (read with the end's own load). The envelopes' merchant comes from the call's state.
   */
  async end<V = undefined>(callId: string, end: EndingOf, meta: CommandMetadata, answer?: Fold<V, CallEvent>): Promise<HandleResult<CallDeciderState, CallEvent, V>> {
    const result = await terminateCall(this.handler, this.clock, callId, end, meta, answer);
    meta = { ...meta, merchantId: callDecider.merchantOf?.(result.state) ?? meta.merchantId ?? null };
    // The store away: the request fails (UNAVAILABLE) and its retry, which decides no second end,
    // releases again. A refused release is the process manager's to report.
    await this.capacity.releaseHeld(callId, meta).catch((e: unknown) => {
      if (!(e instanceof DomainError)) throw e;
    });
    return result;
  }
}
