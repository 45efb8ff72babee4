import type { Clock } from '../ports/clock';
import { assertDid, didDecider, type DidDestination, type DidFacts, type DidState } from '../domain/did/did';
import { apiKeyDecider } from '../domain/merchant/api-key-decider';
import { merchantDecider } from '../domain/merchant/merchant';
import { notFound } from '../domain/shared/errors';
import { apiKeyStreamId, didStreamId, merchantStreamId } from '../domain/shared/streams';
import type { CommandHandler } from './command-handler';

/** A virtual number as the API shows it. */
export interface DidView {
  number: string;
  merchantId: string;
  destination: DidDestination;
  assignedAt: string;
}

const viewOf = (s: DidState): DidView | null =>
  s.status === 'Assigned' ? { number: s.number, merchantId: s.merchantId, destination: s.destination, assignedAt: s.assignedAt } : null;

/**
 * Virtual numbers (issue 23): gathers the facts the DID decider needs from the merchant's stream
 * (its centers and links) and the named AGENT key's stream, then appends to the number's own
 * stream through the command handler (expected version: two merchants racing for one number meet
 * there, and the second is refused DID_TAKEN). `blocks`: the deployment's number blocks
 * (WEBDIAL_DID_BLOCKS, E.164 prefixes; empty = any E.164 number).
 */
export class DidService {
  constructor(
    private readonly handler: CommandHandler,
    private readonly clock: Clock,
    private readonly blocks: readonly string[],
    /** Told after a number's assignment or release was stored (the inbound trunk's numbers follow). */
    private readonly onChange: (number: string, assigned: boolean) => Promise<void> = async () => undefined,
  ) {}

  async assign(merchantId: string, number: string, destination: DidDestination, correlationId: string): Promise<DidView> {
    assertDid(number, this.blocks); // before any read: the number names the stream
    const facts = await this.facts(merchantId, destination);
    const { state } = await this.handler.handle(
      didDecider,
      didStreamId(number),
      { type: 'AssignDid', data: { number, merchantId, destination, facts, at: this.clock.now().toISOString() } },
      { merchantId, correlationId, causationId: null },
    );
    await this.onChange(number, true);
    return viewOf(state)!;
  }

  async release(merchantId: string, number: string, correlationId: string): Promise<string> {
    assertDid(number);
    await this.handler.handle(didDecider, didStreamId(number), { type: 'ReleaseDid', data: { number, merchantId, at: this.clock.now().toISOString() } }, { merchantId, correlationId, causationId: null });
    await this.onChange(number, false);
    return number;
  }

  /** Where a number rings now, from its stream (the inbound path's look-up); null when nobody holds it. */
  async lookUp(number: string): Promise<DidView | null> {
    return viewOf((await this.handler.load(didDecider, didStreamId(number))).state);
  }

  private async facts(merchantId: string, destination: DidDestination): Promise<DidFacts> {
    const { state: m } = await this.handler.load(merchantDecider, merchantStreamId(merchantId));
    if (m.status === 'Absent') throw notFound('merchant', merchantId);
    // The AGENT keys the destination names (a main number's menu may name several): those live and the merchant's.
    const named = destination?.kind === 'MENU' && Array.isArray(destination.entries) ? destination.entries.slice(0, 100).map((e) => e?.destination) : [destination];
    const keyIds = [...new Set(named.flatMap((d) => (d?.kind === 'AGENT' && typeof d.keyId === 'string' && d.keyId.length <= 100 ? [d.keyId] : [])))];
    const agentKeyIds: string[] = [];
    for (const keyId of keyIds) {
      const { state: k } = await this.handler.load(apiKeyDecider, apiKeyStreamId(keyId));
      if (k.status === 'Active' && k.role === 'AGENT' && k.merchantId === merchantId) agentKeyIds.push(k.keyId);
    }
    return { callCenterIds: Object.keys(m.callCenters), linkIds: Object.keys(m.links), agentKeyIds, blocks: this.blocks };
  }
}
