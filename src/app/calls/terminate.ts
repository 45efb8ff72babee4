import type { Clock } from '../../ports/clock';
import type { Party, TerminationCause } from '../../domain/call/events';
import { callDecider } from '../../domain/call/call';
import { callStreamId } from '../../domain/shared/streams';
import { DomainError } from '../../domain/shared/errors';
import type { CommandHandler, CommandMetadata } from '../command-handler';
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

/**
 * Records the end of a call (idempotent: an ended call decides []) and returns the stream's version.
 * Nothing is released: for an initiation's own refusals, which gave back what they took already.
 */
export const terminateCall = async (handler: CommandHandler, clock: Clock, callId: string, end: Ending, meta: CommandMetadata): Promise<number> => {
  const result = await handler.handle(callDecider, callStreamId(callId), { type: 'TerminateCall', data: { callId, ...end, at: clock.now().toISOString() } }, meta);
  return result.version;
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

  async end(callId: string, end: Ending, meta: CommandMetadata): Promise<number> {
    const version = await terminateCall(this.handler, this.clock, callId, end, meta);
    // The store away: the request fails (UNAVAILABLE) and its retry, which decides no second end,
    // releases again. A refused release is the process manager's to report.
    await this.capacity.releaseHeld(callId, meta).catch((e: unknown) => {
      if (!(e instanceof DomainError)) throw e;
    });
    return version;
  }
}
