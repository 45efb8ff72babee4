import type { TerminationCause } from '../../domain/call/events';
import { parseLegId } from '../../ports/media';

/**
 * What the application does with the progress of a call's second phone leg (ports/media.ts
 * DialRequest.intoCallId: a PSTN center's callback dials the shopper, a transfer dials a PSTN
 * center). The media reports a second leg under its own id `<callId>.<name>`; the sink hands it to
 * the handler registered for the name's letters, with the call's id and the leg's name.
 */
export interface SecondLegHandler {
  ringing?(callId: string, leg: string, gatewayEventId: string): Promise<void>;
  answered(callId: string, leg: string, gatewayEventId: string): Promise<void>;
  dtmf?(callId: string, leg: string, digits: string, gatewayEventId: string): Promise<void>;
  terminated(callId: string, leg: string, cause: TerminationCause, sipStatus: number | null, gatewayEventId: string, reason: string | null): Promise<void>;
}

/** The handlers of second legs, by kind: a leg name's letters (`shopper` → `shopper`, `t2` → `t`). */
export class SecondLegs {
  private readonly handlers = new Map<string, SecondLegHandler>();

  register(kind: string, handler: SecondLegHandler): void {
    if (!/^[a-z]+$/.test(kind)) throw new Error(`a second leg's kind is lower-case letters, not ${JSON.stringify(kind)}`);
    if (this.handlers.has(kind)) throw new Error(`second legs of kind ${kind} have a handler already`);
    this.handlers.set(kind, handler);
  }

  /**
   * A report's id as a second leg: null for a call's own leg (the sink's usual path); otherwise the
   * call, the leg's name and its handler (null: no handler for that kind, the report is dropped).
   */
  route(id: string): { callId: string; leg: string; handler: SecondLegHandler | null } | null {
    const { callId, leg } = parseLegId(id);
    if (leg === null) return null;
    return { callId, leg, handler: this.handlers.get(leg.replace(/[0-9]+$/, '')) ?? null };
  }
}
