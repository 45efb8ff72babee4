import type { Clock } from '../../ports/clock';
import type { MediaGateway, MediaJoin } from '../../ports/media';
import { callDecider } from '../../domain/call/call';
import { callbackDecider, type CallbackTarget, type CallbackWhen, type CancelledBy } from '../../domain/callback/callback';
import { effectiveCallbackPrefixes } from '../../domain/callback/callback-number';
import { CALLBACK_RATE_LIMITS, clientKeyOf, type BookingRecord } from '../../domain/callback/rate-limit';
import type { ActiveMerchant } from '../../domain/merchant/merchant';
import { queueCenterOf, resolveRedirect } from '../../domain/routing/routing';
import { DomainError, notFound, refusal } from '../../domain/shared/errors';
import { callbackStreamId, callStreamId } from '../../domain/shared/streams';
import { callbackView, toCallbackView, type CallbackListView } from '../../projections/callbacks/view';
import type { CommandHandler, CommandMetadata } from '../command-handler';
import type { CallTokens } from '../call-token';
import { newId } from '../ids';
import type { CallReader } from './reader';
import type { CallEnding } from './terminate';

/** What booking reads from the callbacks read model (src/projections/callbacks/queries.ts). */
export interface CallbackReads {
  /** The bookings since `since` of this number (null: none) or this client key, whatever the merchant. */
  recentBookings(number: string | null, clientKey: string, since: string): Promise<BookingRecord[]>;
}

/** What the shopper asks for: when, and to a phone number or back to this browser. */
export interface CallbackRequest {
  when: CallbackWhen;
  to: { phoneNumber: string } | { browser: true };
}

/** What the widget gets when the shopper answers a callback ringing its page: the try's call to join and act on. */
export interface CallbackAnswer {
  callback: CallbackListView;
  /** The try's call (a CALLBACK call, already answered by the agent). */
  callId: string;
  /** A call token for the try's call: hangUp, joinMedia's successor, chat, media reports, as for a click. */
  callToken: string;
  /** The try's media room, with the shopper's join token (LiveKit), joined once. */
  media: MediaJoin;
}

/** What answering in the browser needs besides booking's: the try's media and its end. */
export interface BrowserCallbackDeps {
  media: MediaGateway;
  ending: CallEnding;
}

/**
 * Callbacks' use cases for the widget and the merchant (issue 25): book one from a click's call token,
 * cancel it (the shopper with the same token, the merchant with its key). Each decision is the
 * callback decider's (src/domain/callback/callback.ts) on `callback-<id>`; this gathers its facts:
 *
 * - the center: the one the click would be routed to now (`queueCenterOf`: open, nearest the caller,
 *   in the link's order), for an AT booking the one open then, else the link's first center (a closed
 *   center's AGENT_FREE booking waits for it to open);
 * - the merchant's allowed prefixes: the ones it set, or the calling codes of its centers' numbers;
 * - the recent bookings of this number and client (the read model: bookings decided at the same
 *   instant on two instances can overshoot by the ones in flight, see rate-limit.ts).
 *
 * Answers are callbacks' View folded over the stream (read-your-writes), the same as the dashboard's rows.
 */
export class CallbackBookings {
  constructor(
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly tokens: CallTokens,
    private readonly reads: CallbackReads,
    private readonly clock: Clock,
    private readonly browser: BrowserCallbackDeps,
  ) {}

  async request(callToken: string, request: CallbackRequest, clientAddress: string, correlationId: string): Promise<CallbackListView> {
    const now = this.clock.now();
    const { callId, merchantId } = this.tokens.verify(callToken, now);
    const origin = (await this.handler.load(callDecider, callStreamId(callId))).state;
    if (origin.status === 'Absent') throw notFound('call', callId);
    const merchant = await this.reader.merchant(merchantId);
    const callCenterId = this.centerFor(merchant, origin.linkId, origin.callerRegion, request.when, now);
    const center = merchant.callCenters[callCenterId];
    // Any center calls back, agent first (./callback-scheduler.ts): to a phone number, or to this
    // browser: the click's own call names the page that rings (its customerSession); no number, so
    // only the per-client limit counts.
    const target: CallbackTarget = 'phoneNumber' in request.to ? { kind: 'PHONE', number: request.to.phoneNumber } : { kind: 'BROWSER', callId };
    const clientKey = clientKeyOf(clientAddress);
    const since = new Date(now.getTime() - CALLBACK_RATE_LIMITS.windowMs).toISOString();
    const recentBookings = await this.reads.recentBookings(target.kind === 'PHONE' && typeof target.number === 'string' ? target.number.slice(0, 20) : null, clientKey, since);
    const callbackId = newId('cb');
    const allowedPrefixes = effectiveCallbackPrefixes(merchant.callbackPrefixes, Object.values(merchant.callCenters).map((c) => c.phoneNumber));
    await this.handler.handle(
      callbackDecider,
      callbackStreamId(callbackId),
      {
        type: 'BookCallback',
        data: {
          callbackId,
          merchantId,
          callCenterId,
          originCallId: callId,
          target,
          when: request.when,
          clientAddress,
          facts: { center: { timeZone: center.timeZone, weeklyHours: center.weeklyHours }, allowedPrefixes, recentBookings },
          at: now.toISOString(),
        },
      },
      this.meta(merchantId, correlationId),
    );
    return this.view(callbackId);
  }

  /** The shopper cancels a callback booked from the same click (another click's: NOT_FOUND, as for an unknown id). */
  async cancelByShopper(callToken: string, callbackId: string, correlationId: string): Promise<CallbackListView> {
    const { callId, merchantId } = this.tokens.verify(callToken, this.clock.now());
    const current = await this.find(callbackId);
    if (current.originCallId !== callId) throw notFound('callback', callbackId);
    return this.cancel(current.id, merchantId, 'SHOPPER', correlationId);
  }

  /** The merchant cancels one of its callbacks (another merchant's: NOT_FOUND). */
  async cancelByMerchant(merchantId: string, callbackId: string, correlationId: string): Promise<CallbackListView> {
    const current = await this.find(callbackId);
    if (current.merchantId !== merchantId) throw notFound('callback', callbackId);
    return this.cancel(callbackId, merchantId, 'MERCHANT', correlationId);
  }

  /**
   * The shopper answers a callback ringing its page (a BROWSER try an agent answered, before its
   * `ringsUntil`): the try is reported ANSWERED (the callback DONE), the caller's join of the try's room
   * is recorded, and the widget gets a call token for the try's call. Another click's callback:
   * NOT_FOUND; not ringing (not yet, no more, a phone callback): CONFLICT CALLBACK_NOT_RINGING.
   */
  async answerInBrowser(callToken: string, callbackId: string, correlationId: string): Promise<CallbackAnswer> {
    const now = this.clock.now();
    const { merchantId, tryCallId, attempt } = await this.ringing(callToken, callbackId, now);
    const meta = this.meta(merchantId, correlationId);
    await this.handler.handle(callbackDecider, callbackStreamId(callbackId), { type: 'ReportCallbackAttempt', data: { callbackId, attempt, outcome: 'ANSWERED', at: now.toISOString() } }, meta);
    const join = await this.browser.media.joinDetails(tryCallId);
    await this.handler.handle(callDecider, callStreamId(tryCallId), { type: 'JoinMedia', data: { callId: tryCallId, room: join.room ?? tryCallId, at: now.toISOString() } }, meta);
    return { callback: await this.find(callbackId), callId: tryCallId, callToken: this.tokens.issue(tryCallId, merchantId, now), media: join };
  }

  /**
   * The shopper declines a callback ringing its page: the try fails NO_ANSWER (the retry policy: the
   * next try 5 minutes later, or FAILED after the third), and its call ends REJECTED by the CALLER.
   * To stop being called back at all, cancelCallback.
   */
  async declineInBrowser(callToken: string, callbackId: string, correlationId: string): Promise<CallbackListView> {
    const now = this.clock.now();
    const { merchantId, tryCallId, attempt } = await this.ringing(callToken, callbackId, now);
    const meta = this.meta(merchantId, correlationId);
    await this.handler.handle(callbackDecider, callbackStreamId(callbackId), { type: 'ReportCallbackAttempt', data: { callbackId, attempt, outcome: 'NO_ANSWER', at: now.toISOString() } }, meta);
    await this.browser.ending.end(tryCallId, { cause: 'REJECTED', by: 'CALLER', sipStatus: null, gatewayEventId: null, reason: 'CALLBACK_DECLINED' }, meta);
    await this.browser.media.hangUp(tryCallId);
    return this.find(callbackId);
  }

  /** The try ringing this click's page now, or the refusal (nothing is changed by either check). */
  private async ringing(callToken: string, callbackId: string, now: Date): Promise<{ merchantId: string; tryCallId: string; attempt: number }> {
    const { callId, merchantId } = this.tokens.verify(callToken, now);
    const current = await this.find(callbackId);
    if (current.originCallId !== callId) throw notFound('callback', callbackId);
    const { state } = await this.handler.load(callbackDecider, callbackStreamId(callbackId));
    const notRinging = () => refusal('CONFLICT', 'CALLBACK_NOT_RINGING', `callback ${callbackId} is not ringing this browser`, { status: current.status });
    if (state.status !== 'Attempting' || state.target.kind !== 'BROWSER' || state.current.ringsUntil === null || Date.parse(state.current.ringsUntil) < now.getTime()) throw notRinging();
    const { state: call } = await this.handler.load(callDecider, callStreamId(state.current.callId));
    if (call.status !== 'Answered') throw notRinging();
    return { merchantId, tryCallId: state.current.callId, attempt: state.current.attempt };
  }

  /** The callback as stored now; NOT_FOUND when absent. */
  async view(callbackId: string): Promise<CallbackListView> {
    return this.find(callbackId);
  }

  private async cancel(callbackId: string, merchantId: string, by: CancelledBy, correlationId: string): Promise<CallbackListView> {
    await this.handler.handle(callbackDecider, callbackStreamId(callbackId), { type: 'CancelCallback', data: { callbackId, by, at: this.clock.now().toISOString() } }, this.meta(merchantId, correlationId));
    return this.find(callbackId);
  }

  private async find(callbackId: string): Promise<CallbackListView> {
    if (typeof callbackId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(callbackId)) throw notFound('callback', String(callbackId).slice(0, 64));
    const row = (await this.handler.load(callbackView, callbackStreamId(callbackId))).state;
    if (!row) throw notFound('callback', callbackId);
    return toCallbackView(row);
  }

  /** The center a booking is for (see the class comment). */
  private centerFor(merchant: ActiveMerchant, linkId: string | null, callerRegion: string | null, when: CallbackWhen, now: Date): string {
    if (linkId === null) throw new DomainError('BAD_USER_INPUT', 'this call has no link to route a callback by', { field: 'callToken' });
    const at = when?.kind === 'AT' && typeof when.at === 'string' && !Number.isNaN(Date.parse(when.at)) ? new Date(when.at) : now;
    const routed = queueCenterOf({ merchant, linkId, at, callerRegion });
    if (routed) return routed;
    for (const id of merchant.links[linkId]?.callCenterIds ?? []) {
      try {
        return resolveRedirect(merchant, id).callCenterId;
      } catch {
        // An unknown or cyclic center: the next one.
      }
    }
    throw new DomainError('NO_ROUTE', 'the link has no call center to call back from');
  }

  private meta(merchantId: string, correlationId: string): CommandMetadata {
    return { merchantId, correlationId, causationId: null };
  }
}
