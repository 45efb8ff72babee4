import type { Clock } from '../../ports/clock';
import type { Party, TerminationCause } from '../../domain/call/events';
import { callDecider } from '../../domain/call/call';
import { callStreamId } from '../../domain/shared/streams';
import type { CommandHandler, CommandMetadata } from '../command-handler';

/** Who ends a call, why, and with which gateway event (for dedupe). */
export interface Ending {
  cause: TerminationCause;
  by: Party;
  sipStatus: number | null;
  gatewayEventId: string | null;
}

/**
 * Records the end of a call (idempotent: an ended call decides []) and returns the stream's version.
 * Whoever ends the call, what it holds is released by the call effects' process manager (./effects.ts).
 */
export const terminateCall = async (handler: CommandHandler, clock: Clock, callId: string, end: Ending, meta: CommandMetadata): Promise<number> => {
  const result = await handler.handle(callDecider, callStreamId(callId), { type: 'TerminateCall', data: { callId, ...end, at: clock.now().toISOString() } }, meta);
  return result.version;
};
