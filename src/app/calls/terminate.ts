import type { Clock } from '../../ports/clock';
import type { Party, TerminationCause } from '../../domain/call/events';
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
export const terminateCall = (handler: CommandHandler, clock: Clock, callId: string, end: EndingOf, meta: CommandMetadata): Promise<HandleResult<CallDeciderState, unknown>> => {
  const at = clock.now().toISOString();
  return handler.handle(callDecider, callStreamId(callId), (call) => ({ type: 'TerminateCall' as const, data: { callId, ...(typeof end === 'function' ? end(call) : end), at } }), meta);
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

  /** Returns the stream's version after the end. The envelopes' merchant comes from the call's state. */
  async end(callId: string, end: EndingOf, meta: CommandMetadata): Promise<number> {
    const { version, state } = await terminateCall(this.handler, this.clock, callId, end, meta);
    meta = { ...meta, merchantId: callDecider.merchantOf?.(state) ?? meta.merchantId ?? null };
    // The store away: the request fails (UNAVAILABLE) and its retry, which decides no second end,
    // releases again. A refused release is the process manager's to report.
    await this.capacity.releaseHeld(callId, meta).catch((e: unknown) => {
      if (!(e instanceof DomainError)) throw e;
    });
    return version;
  }
}
