import type { EventStore } from '../ports/event-store';
import type { Clock } from '../ports/clock';
import type { MediaGateway, MediaJoin } from '../ports/media';
import type { Party, TerminationCause } from '../domain/call/events';
import type { RecordDownload } from '../domain/call/commands';
import { callDecider, type CallState } from '../domain/call/call';
import { merchantDecider, type ActiveMerchant, type MerchantState } from '../domain/merchant/merchant';
import type { MerchantEvent } from '../domain/merchant/events';
import { routeCall } from '../domain/routing/routing';
import { DomainError, notFound } from '../domain/shared/errors';
import { callStreamId, merchantStreamId } from '../domain/shared/streams';
import { DTMF_DIGITS, originOf } from '../domain/shared/validation';
import type { CommandHandler, CommandMetadata } from './command-handler';
import type { IdGenerator } from './ids';
import type { LiveState } from './live-state';
import type { Capacity, HeldSlot } from './capacity';
import type { CallTokens } from './call-token';
import { callView, toCall, type CallView } from '../projections/call-history/view';
import { dtmfDeadline } from '../domain/call/timeouts';

/** What the widget sends at download (the call id and time are the server's). */
export type DownloadRequest = Omit<RecordDownload['data'], 'callId' | 'at'>;

export interface CallServiceOptions {
  ringingTimeoutSeconds: number;
  maxCallDurationSeconds: number;
  aniQuarantineSeconds: number;
  maxContextBytes: number;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_CONTEXT_DEPTH = 16;

/** Free-text widget fields: bounded, and no control characters (PostgreSQL cannot even store NUL). */
const assertPlainText = (value: string | null, field: string, max: number): void => {
  if (value === null) return;
  if (value.length > max) throw new DomainError('BAD_USER_INPUT', `${field} must be at most ${max} characters`, { field });
  if (CONTROL.test(value)) throw new DomainError('BAD_USER_INPUT', `${field} must not contain control characters`, { field });
};

/**
 * The merchant's free-form context: bounded in depth and size, walked iteratively (a deeply nested
 * value must not overflow the stack before it is refused), and without NUL characters.
 */
const assertContext = (context: unknown, maxBytes: number): void => {
  if (context === null || context === undefined) return;
  const stack: Array<{ v: unknown; depth: number }> = [{ v: context, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (depth > MAX_CONTEXT_DEPTH) throw new DomainError('BAD_USER_INPUT', `context must be nested at most ${MAX_CONTEXT_DEPTH} levels deep`, { field: 'context' });
    if (typeof v === 'string' && v.includes('\u0000')) throw new DomainError('BAD_USER_INPUT', 'context must not contain NUL characters', { field: 'context' });
    if (v !== null && typeof v === 'object')
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if (k.includes('\u0000')) throw new DomainError('BAD_USER_INPUT', 'context must not contain NUL characters', { field: 'context' });
        stack.push({ v: child, depth: depth + 1 });
      }
  }
  if (JSON.stringify(context).length > maxBytes) throw new DomainError('BAD_USER_INPUT', `context must be at most ${maxBytes} bytes of JSON`, { field: 'context' });
};

/** The line of a call to a browser center: no gateway, port or caller ID. */
const NO_LINE = { gatewayId: null, port: null, ani: null } as const;

/** Raised to the caller after the call was recorded as terminated for the same reason. */
const refused = (code: 'NO_ROUTE' | 'NO_PORT' | 'LIMIT_EXCEEDED', message: string) => new DomainError(code, message);

/**
 * The call's use cases: the widget's download / initiate / hang-up and the gateway's progress reports.
 * Every change goes through the generic command handler and a pure decider; this class only orders
 * the steps that span streams (route → seize a port → initiate → dial).
 */
export class CallService {
  constructor(
    private readonly store: EventStore,
    private readonly handler: CommandHandler,
    private readonly live: LiveState,
    private readonly capacity: Capacity,
    private readonly media: MediaGateway,
    private readonly tokens: CallTokens,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly options: CallServiceOptions,
  ) {}

  /**
   * `requestOrigin` is the browser's Origin header, when there is one: unlike `pageUrl`, a page cannot
   * forge it, so a page allowed for another merchant cannot place calls for this one.
   */
  async recordDownload(req: DownloadRequest, correlationId: string, requestOrigin: string | null = null): Promise<{ callId: string; callToken: string; media: MediaJoin }> {
    const merchant = await this.activeMerchant(req.merchantId);
    if (!merchant.links[req.linkId]) throw notFound('link', req.linkId);
    const origin = originOf(req.pageUrl);
    if (!origin) throw new DomainError('BAD_USER_INPUT', 'pageUrl must be an absolute http(s) URL', { field: 'pageUrl' });
    for (const o of requestOrigin ? [origin, requestOrigin] : [origin])
      if (merchant.allowedOrigins && !merchant.allowedOrigins.includes(o))
        throw new DomainError('FORBIDDEN', `downloads from ${o} are not allowed for this merchant`);
    for (const [field, value, max] of [
      ['pageUrl', req.pageUrl, 2000],
      ['referrer', req.referrer, 2000],
      ['customerId', req.customerId, 200],
      ['sessionId', req.sessionId, 200],
      ['callerRegion', req.callerRegion, 64],
    ] as const)
      assertPlainText(value, field, max);
    assertContext(req.context, this.options.maxContextBytes);
    const now = this.clock.now();
    const callId = this.ids.id('c');
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'RecordDownload', data: { callId, ...req, context: req.context ?? null, at: now.toISOString() } },
      this.meta(req.merchantId, correlationId),
    );
    // The room's join token is handed out once, by joinMedia: here only where the media lives.
    const media = await this.media.joinDetails(callId);
    return { callId, callToken: this.tokens.issue(callId, req.merchantId, now), media: { ...media, token: null } };
  }

  /**
   * The caller's join of the call's media room (LiveKit: URL, room and a microphone-only token).
   * Once per call: a second join with the same call token is refused (CONFLICT), as is a forged or
   * expired token (UNAUTHENTICATED) or an ended call; none of them changes anything.
   */
  async joinMedia(callToken: string, correlationId: string): Promise<MediaJoin> {
    const now = this.clock.now();
    const { callId, merchantId } = this.tokens.verify(callToken, now);
    const join = await this.media.joinDetails(callId);
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'JoinMedia', data: { callId, room: join.room ?? callId, at: now.toISOString() } },
      this.meta(merchantId, correlationId),
    );
    return join;
  }

  /** Routes, seizes a port, records the initiation and dials. NO_ROUTE / NO_PORT end the call. */
  async initiate(callToken: string, correlationId: string): Promise<CallView> {
    const now = this.clock.now();
    const { callId, merchantId } = this.tokens.verify(callToken, now);
    const meta = this.meta(merchantId, correlationId);
    const { state: call } = await this.handler.load(callDecider, callStreamId(callId));
    if (call.status === 'Absent') throw notFound('call', callId);
    if (call.status !== 'Downloaded') throw new DomainError('CONFLICT', `call ${callId} is ${call.status.toUpperCase()}, not DOWNLOADED`);
    const merchant = await this.activeMerchant(merchantId);

    // The merchant's limit and the center's capacity are held as slots (src/domain/capacity/slot.ts):
    // a consistent count, whatever the number of processes; a failure below gives them back.
    const held: HeldSlot[] = [];
    const giveBack = () => Promise.all(held.map((h) => this.capacity.freeSlot(h, callId, meta)));
    if (merchant.maxConcurrentCalls !== null) {
      const slot = await this.capacity.takeSlot('merchant', merchantId, merchant.maxConcurrentCalls, callId, now, meta);
      if (slot === null) throw refused('LIMIT_EXCEEDED', `merchant has ${merchant.maxConcurrentCalls} concurrent calls already`);
      held.push({ scope: 'merchant', ownerId: merchantId, slot });
    }

    // Route; a center whose slots all turn out held is full, whatever the hint said: route again without it.
    const full = new Set<string>();
    let route: ReturnType<typeof routeCall>;
    for (;;) {
      const activeCalls = this.live.activeByCenter(merchantId);
      for (const id of full) activeCalls[id] = merchant.callCenters[id]!.capacity;
      route = routeCall({ merchant, linkId: call.linkId, at: now, callerRegion: call.callerRegion, activeCalls });
      if (!route.ok) break;
      const slot = await this.capacity.takeSlot('center', route.callCenterId, merchant.callCenters[route.callCenterId]!.capacity, callId, now, meta);
      if (slot !== null) {
        held.push({ scope: 'center', ownerId: route.callCenterId, slot });
        break;
      }
      full.add(route.callCenterId);
    }
    if (!route.ok) {
      await giveBack();
      await this.terminate(callId, 'NO_ROUTE', 'SYSTEM', null, null, meta);
      throw refused('NO_ROUTE', `no call center can take the call: ${route.reason}`);
    }
    const center = merchant.callCenters[route.callCenterId]!;
    // A browser center has no phone line: no port to seize and nothing to dial (the call rings in its consoles).
    const seized = route.media === 'BROWSER' ? NO_LINE : await this.capacity.seizePort(callId, merchantId, center.region, now, meta);
    if (!seized) {
      await giveBack();
      await this.terminate(callId, 'NO_PORT', 'SYSTEM', null, null, meta);
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
      if (seized.gatewayId !== null) await this.capacity.releasePort(callId, seized.gatewayId, seized.port, meta);
      await giveBack();
      throw e;
    }
    if (seized.gatewayId === null) return this.view(callId, initiated);
    await this.media.dial({
      callId,
      merchantId,
      destination: route.destination,
      ani: seized.ani,
      gatewayId: seized.gatewayId,
      port: seized.port,
      ringingTimeoutSeconds: this.options.ringingTimeoutSeconds,
      maxDurationSeconds: this.options.maxCallDurationSeconds,
    });
    return this.view(callId, initiated);
  }

  /** The caller hangs up (or closes the window). Idempotent. */
  async hangUp(callToken: string, correlationId: string): Promise<CallView> {
    const { callId, merchantId } = this.tokens.verify(callToken, this.clock.now());
    const version = await this.terminate(callId, 'HANGUP', 'CALLER', null, null, this.meta(merchantId, correlationId));
    await this.media.hangUp(callId);
    return this.view(callId, version);
  }

  /** The caller's browser left the media room (LiveKit webhook): the same as a hang-up. */
  async callerLeft(callId: string, correlationId: string): Promise<void> {
    const merchantId = await this.merchantOf(callId);
    await this.terminate(callId, 'HANGUP', 'CALLER', null, null, this.meta(merchantId, correlationId));
    await this.media.hangUp(callId);
  }

  async reportRinging(callId: string, gatewayEventId: string, correlationId: string): Promise<CallView> {
    return this.gatewayReport(callId, correlationId, (at) => ({ type: 'ReportRinging', data: { callId, gatewayEventId, at } }));
  }

  async reportAnswered(callId: string, gatewayEventId: string, correlationId: string): Promise<CallView> {
    return this.gatewayReport(callId, correlationId, (at) => ({ type: 'AnswerCall', data: { callId, gatewayEventId, answeredBy: null, at } }));
  }

  async reportDtmf(callId: string, digits: string, gatewayEventId: string, correlationId: string): Promise<CallView> {
    if (!DTMF_DIGITS.test(digits) || digits.length > 32)
      throw new DomainError('BAD_USER_INPUT', 'digits must be 1 to 32 of 0-9 * # A-D', { field: 'digits' });
    // The report decides the commands its digits complete, under the merchant's rules of now.
    const merchant = await this.activeMerchant(await this.merchantOf(callId));
    return this.gatewayReport(callId, correlationId, (at) => ({
      type: 'ReportDtmf',
      data: { callId, digits, gatewayEventId, at, table: merchant.dtmfTable, allowedOrigins: merchant.allowedOrigins },
    }));
  }

  async reportTerminated(callId: string, cause: TerminationCause, sipStatus: number | null, gatewayEventId: string, correlationId: string): Promise<CallView> {
    if (sipStatus !== null && (!Number.isInteger(sipStatus) || sipStatus < 100 || sipStatus > 699))
      throw new DomainError('BAD_USER_INPUT', 'sipStatus must be a SIP status code from 100 to 699', { field: 'sipStatus' });
    const merchantId = await this.merchantOf(callId);
    const version = await this.terminate(callId, cause, 'CALLEE', sipStatus, gatewayEventId, this.meta(merchantId, correlationId));
    return this.view(callId, version);
  }

  /**
   * Chat on a channel the agent opened with #NN#. The caller sends with its call token, the agent
   * side with the call id (its key is checked by the API); the other side receives it (the caller's
   * customerSession, the agent's callEvents).
   */
  async sendChannelMessage(
    from: { caller: string } | { agentCallId: string },
    channelId: string,
    text: string,
    correlationId: string,
  ): Promise<void> {
    const now = this.clock.now();
    const callId = 'caller' in from ? this.tokens.verify(from.caller, now).callId : from.agentCallId;
    const merchantId = await this.merchantOf(callId);
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'SendChannelMessage', data: { callId, channelId, from: 'caller' in from ? 'CALLER' : 'AGENT', text, at: now.toISOString() } },
      this.meta(merchantId, correlationId),
    );
  }

  /** The merchant a call belongs to (NOT_FOUND when there is no such call). */
  merchantOfCall(callId: string): Promise<string> {
    return this.merchantOf(callId);
  }

  /** System-decided end (timeouts, media failures): terminatedBy SYSTEM. */
  async terminateBySystem(callId: string, cause: TerminationCause, correlationId: string): Promise<void> {
    const merchantId = await this.merchantOf(callId);
    await this.terminate(callId, cause, 'SYSTEM', null, null, this.meta(merchantId, correlationId));
    await this.media.hangUp(callId);
  }

  /**
   * The call as stored now, or at least at `version`: call-history's View folded over the call's
   * stream by the command handler's cache (read-your-writes: never behind the events just stored).
   */
  async view(callId: string, version?: number): Promise<CallView> {
    const stream = callStreamId(callId);
    const row = (version === undefined ? await this.handler.load(callView, stream) : await this.handler.loadAtLeast(callView, stream, version)).state;
    if (!row) throw notFound('call', callId);
    return toCall(row);
  }

  /**
   * Records the end (idempotent) and returns the call stream's version. What the call holds is
   * released by the call effects' process manager (src/app/call-effects.ts), whoever ended it.
   */
  private async terminate(callId: string, cause: TerminationCause, by: Party, sipStatus: number | null, gatewayEventId: string | null, meta: CommandMetadata): Promise<number> {
    const result = await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'TerminateCall', data: { callId, cause, by, sipStatus, gatewayEventId, at: this.clock.now().toISOString() } },
      meta,
    );
    return result.version;
  }

  /** Applies a gateway report and returns the call as stored after it. */
  private async gatewayReport(callId: string, correlationId: string, command: (at: string) => Parameters<typeof callDecider.decide>[0]): Promise<CallView> {
    const merchantId = await this.merchantOf(callId);
    const r = await this.handler.handle(callDecider, callStreamId(callId), command(this.clock.now().toISOString()), this.meta(merchantId, correlationId));
    return this.view(callId, r.version);
  }

  /**
   * When the inter-digit timeout would end the call's pending DTMF sequence under the merchant's
   * table (a "#NN", or "*7" while "*76" exists), or null when nothing pending means anything.
   */
  async dtmfDeadline(state: CallState): Promise<Date | null> {
    if (state.status !== 'Answered') return null;
    const merchant = await this.activeMerchant(state.merchantId);
    return dtmfDeadline(state, merchant.dtmfTable);
  }

  /**
   * At that deadline: turns the call's DTMF digits into the merchant's commands (the decider appends
   * those not yet recorded) and returns when the timeout would next end a pending sequence, if ever.
   */
  async recognizeDtmf(callId: string, correlationId: string): Promise<Date | null> {
    const merchantId = await this.merchantOf(callId);
    const merchant = await this.activeMerchant(merchantId);
    const { state } = await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'RecognizeDtmf', data: { callId, table: merchant.dtmfTable, allowedOrigins: merchant.allowedOrigins, at: this.clock.now().toISOString() } },
      this.meta(merchantId, correlationId),
    );
    return dtmfDeadline(state, merchant.dtmfTable);
  }

  /** A call's merchant never changes: any cached row answers without a read. */
  private async merchantOf(callId: string): Promise<string> {
    const cached = this.handler.peek(callView, callStreamId(callId))?.state;
    return cached ? cached.merchant_id : (await this.view(callId)).merchantId;
  }

  private async activeMerchant(merchantId: string): Promise<ActiveMerchant> {
    const { state } = await this.handler.load<MerchantState, MerchantEvent>(merchantDecider, merchantStreamId(merchantId));
    if (state.status === 'Absent') throw notFound('merchant', merchantId);
    return state;
  }

  private meta(merchantId: string | null, correlationId: string): CommandMetadata {
    return { merchantId, correlationId, causationId: null };
  }
}
