import type { Clock } from '../../ports/clock';
import type { MediaGateway } from '../../ports/media';
import { callDecider } from '../../domain/call/call';
import { identityDtmfOf, sessionNumberOf } from '../../domain/call/identity';
import { routeCall } from '../../domain/routing/routing';
import { DomainError, notFound } from '../../domain/shared/errors';
import { callStreamId } from '../../domain/shared/streams';
import type { CallView } from '../../projections/call-history/view';
import type { CommandHandler, CommandMetadata } from '../command-handler';
import type { CallTokens } from '../call-token';
import type { Capacity, HeldSlot, Line } from './capacity';
import type { CallReader } from './reader';
import { terminateCall } from './terminate';

export interface InitiationOptions {
  ringingTimeoutSeconds: number;
  maxCallDurationSeconds: number;
}

/** The line of a call to a browser center: no gateway, port or caller ID. */
const NO_LINE = { gatewayId: null, port: null, ani: null } as const;

/**
 * What the widget is told when a call cannot be placed. NO_ROUTE and NO_PORT are raised after the
 * call was recorded as terminated with that cause; LIMIT_EXCEEDED leaves it DOWNLOADED, so that it
 * can be placed again once the merchant has a free slot.
 */
const refused = (code: 'NO_ROUTE' | 'NO_PORT' | 'LIMIT_EXCEEDED', message: string) => new DomainError(code, message);

/**
 * The widget's initiateCall: route → slots → port → initiate → dial, the steps that span streams.
 * Each step appends through the generic command handler to its own stream; when a later step fails,
 * what the earlier ones took is given back (the compensation): the merchant's and the center's slots,
 * and the port. After the initiation, whatever ends the call releases them (./terminate.ts, ./effects.ts).
 */
export class CallInitiation {
  constructor(
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly capacity: Capacity,
    private readonly media: MediaGateway,
    private readonly tokens: CallTokens,
    private readonly clock: Clock,
    private readonly options: InitiationOptions,
  ) {}

  async initiate(callToken: string, correlationId: string): Promise<CallView> {
    const now = this.clock.now();
    const { callId, merchantId } = this.tokens.verify(callToken, now);
    const meta: CommandMetadata = { merchantId, correlationId, causationId: null };
    const { state: call } = await this.handler.load(callDecider, callStreamId(callId));
    if (call.status === 'Absent') throw notFound('call', callId);
    if (call.status !== 'Downloaded') throw new DomainError('CONFLICT', `call ${callId} is ${call.status.toUpperCase()}, not DOWNLOADED`);
    const merchant = await this.reader.merchant(merchantId);

    // The merchant's limit and the center's capacity are held as slots (src/domain/capacity/slot.ts):
    // a consistent count, whatever the number of processes; a failure below gives them back.
    const held: HeldSlot[] = [];
    const giveBack = () => Promise.all(held.map((h) => this.capacity.freeSlot(h, callId, meta)));
    if (merchant.maxConcurrentCalls !== null) {
      const slot = await this.capacity.takeSlot('merchant', merchantId, merchant.maxConcurrentCalls, callId, now, meta);
      if (slot === null) throw refused('LIMIT_EXCEEDED', `merchant has ${merchant.maxConcurrentCalls} concurrent calls already`);
      held.push({ scope: 'merchant', ownerId: merchantId, slot });
    }

    // Route, and take the chosen center's slot (a center found full is routed around).
    const { route, slot } = await this.capacity.routeWithSlot(merchant.callCenters, merchantId, callId, now, meta, (activeCalls) =>
      routeCall({ merchant, linkId: call.linkId, at: now, callerRegion: call.callerRegion, activeCalls }),
    );
    if (slot) held.push(slot);
    if (!route.ok) {
      await giveBack();
      await terminateCall(this.handler, this.clock, callId, { cause: 'NO_ROUTE', by: 'SYSTEM', sipStatus: null, gatewayEventId: null }, meta);
      throw refused('NO_ROUTE', `no call center can take the call: ${route.reason}`);
    }
    const center = merchant.callCenters[route.callCenterId];
    // A browser center has no phone line: no port to seize and nothing to dial (the call rings in its consoles).
    const seized: Line | typeof NO_LINE | null = route.media === 'BROWSER' ? NO_LINE : await this.capacity.seizePort(callId, merchantId, center.region, now, meta);
    if (!seized) {
      await giveBack();
      await terminateCall(this.handler, this.clock, callId, { cause: 'NO_PORT', by: 'SYSTEM', sipStatus: null, gatewayEventId: null }, meta);
      throw refused('NO_PORT', 'every gateway port is busy');
    }
    let initiated: number;
    try {
      const result = await this.handler.handle(
        callDecider,
        callStreamId(callId),
        {
          type: 'InitiateCall',
          data: {
            callId,
            callCenterId: route.callCenterId,
            media: route.media,
            destination: route.destination,
            gatewayId: seized.gatewayId,
            port: seized.port,
            ani: seized.ani,
            routing: { rule: route.rule, requestedCallCenterId: route.requestedCallCenterId, reason: route.reason },
            ratePlan: merchant.ratePlan,
            at: now.toISOString(),
          },
        },
        meta,
      );
      initiated = result.version;
    } catch (e) {
      // E.g. the call was ended meanwhile (abandoned): give back what this initiation took.
      if (seized.gatewayId !== null) await this.capacity.releasePort(callId, seized.gatewayId, seized.port, meta);
      await giveBack();
      throw e;
    }
    if (seized.gatewayId !== null)
      await this.media.dial({
        callId,
        merchantId,
        destination: route.destination,
        ani: seized.ani,
        gatewayId: seized.gatewayId,
        port: seized.port,
        ringingTimeoutSeconds: this.options.ringingTimeoutSeconds,
        maxDurationSeconds: this.options.maxCallDurationSeconds,
        identity: {
          linkId: call.linkId,
          customerId: call.customerId,
          sessionId: call.sessionId,
          dtmfAfterAnswer: center.identityDtmf ? identityDtmfOf(sessionNumberOf(call)) : null,
        },
      });
    return this.reader.view(callId, initiated);
  }
}
