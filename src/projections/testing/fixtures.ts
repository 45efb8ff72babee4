import type { CallEvent, Party, TerminationCause } from '../../domain/call/events';
import type { GatewayCreated, PortEvent } from '../../domain/gateway/events';
import type { RatePlanSet } from '../../domain/merchant/events';
import type { RatePlan } from '../../domain/rating/rate-plan';
import type { QueueEvent } from '../../domain/queue/queue';
import { callStreamId, gatewayStreamId, merchantStreamId, portStreamId } from '../../domain/shared/streams';
import type { StoredEvent } from '../../ports/event-store';

type Any = CallEvent | GatewayCreated | PortEvent | RatePlanSet | QueueEvent;

/**
 * Hand-built StoredEvent envelopes for projection tests: a tiny in-memory "store" that assigns
 * stream versions and zero-padded global positions (comparable with `<`, like every adapter's).
 */
export class FixtureStore {
  readonly events: StoredEvent[] = [];
  private readonly versions = new Map<string, number>();
  private seq = 0;

  append(streamId: string, event: Any, merchantId: string | null): StoredEvent {
    const version = (this.versions.get(streamId) ?? 0) + 1;
    this.versions.set(streamId, version);
    this.seq++;
    const at = (event.data as { at: string }).at;
    const stored: StoredEvent = {
      eventId: `evt-${String(this.seq).padStart(8, '0')}`,
      type: event.type,
      streamId,
      streamVersion: version,
      position: String(this.seq).padStart(16, '0'),
      occurredAt: at,
      recordedAt: at,
      merchantId,
      correlationId: `corr-${streamId}`,
      causationId: null,
      schemaVersion: 1,
      data: event.data,
    };
    this.events.push(stored);
    return stored;
  }

  /** The EventStore.readAll shape rebuild takes. */
  readAll = async (after: string | null, limit: number): Promise<StoredEvent[]> =>
    this.events.filter((e) => after === null || e.position > after).slice(0, limit);
}

export const PLAN: RatePlan = {
  version: 1,
  currency: 'EUR',
  connectionFeeMinor: 10,
  ratePerMinuteMinor: 6,
  firstIncrementSeconds: 60,
  nextIncrementSeconds: 60,
  minimumChargeMinor: 0,
  prefixRates: [{ prefix: '+44', ratePerMinuteMinor: 12 }],
};

export interface CallScript {
  callId: string;
  merchantId: string;
  linkId?: string;
  pageUrl?: string;
  referrer?: string | null;
  callCenterId?: string;
  destination?: string;
  gatewayId?: string;
  port?: number;
  ani?: string;
  plan?: RatePlan | null;
  /** Download instant; later stages follow a few seconds apart. */
  at: string;
  answered?: boolean;
  talkSeconds?: number;
  dtmf?: string[];
  /** A call to a browser (PC-to-PC) center: no port, no caller ID, answered by this agent in the console. */
  browserAgent?: string;
  cause?: TerminationCause;
  by?: Party;
}

const plus = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

/** Appends a whole call (download → initiate + port seize → ringing → [answer, dtmf] → terminate + release). */
export const fullCall = (store: FixtureStore, s: CallScript): StoredEvent[] => {
  const stream = callStreamId(s.callId);
  const m = s.merchantId;
  const browser = s.browserAgent !== undefined;
  const gatewayId = browser ? null : s.gatewayId ?? 'gw-1';
  const port = browser ? null : s.port ?? 1;
  const ani = browser ? null : s.ani ?? '+15550000001';
  const talk = s.answered === false ? 0 : (s.talkSeconds ?? 95);
  const tInit = plus(s.at, 2);
  const tRing = plus(s.at, 3);
  const tAnswer = plus(s.at, 8);
  const tEnd = plus(tAnswer, talk + (s.answered === false ? 20 : 0));
  const out: StoredEvent[] = [];
  out.push(
    store.append(
      stream,
      {
        type: 'CallDownloaded',
        data: {
          callId: s.callId,
          merchantId: m,
          linkId: s.linkId ?? 'link-1',
          customerId: 'cust-7',
          sessionId: 'sess-9',
          pageUrl: s.pageUrl ?? 'https://shop.example/product/42',
          referrer: s.referrer === undefined ? 'https://search.example/?q=sofa' : s.referrer,
          context: { cart: ['sofa'], total: 499 },
          callerRegion: null,
          at: s.at,
        },
      },
      m,
    ),
  );
  out.push(
    store.append(
      stream,
      {
        type: 'CallInitiated',
        data: {
          callId: s.callId,
          merchantId: m,
          callCenterId: s.callCenterId ?? 'cc-1',
          media: browser ? 'BROWSER' : 'PSTN',
          destination: s.destination ?? '+442071234567',
          gatewayId,
          port,
          ani,
          routing: { rule: 'FIRST_OPEN', requestedCallCenterId: s.callCenterId ?? 'cc-1', reason: 'open' },
          ratePlan: s.plan === undefined ? PLAN : s.plan,
          at: tInit,
        },
      },
      m,
    ),
  );
  if (gatewayId !== null) out.push(store.append(portStreamId(gatewayId, port!), { type: 'PortSeized', data: { gatewayId, port: port!, ani: ani!, callId: s.callId, merchantId: m, at: tInit } }, m));
  out.push(store.append(stream, { type: 'CallRinging', data: { callId: s.callId, gatewayEventId: browser ? null : `${s.callId}-r`, at: tRing } }, m));
  if (s.answered !== false) {
    const answer = browser ? { gatewayEventId: null, answeredBy: s.browserAgent! } : { gatewayEventId: `${s.callId}-a`, answeredBy: null };
    out.push(store.append(stream, { type: 'CallAnswered', data: { callId: s.callId, ...answer, at: tAnswer } }, m));
    (s.dtmf ?? []).forEach((digits, i) =>
      out.push(
        store.append(stream, { type: 'DtmfReceived', data: { callId: s.callId, digits, gatewayEventId: `${s.callId}-d${i}`, at: plus(tAnswer, i + 1) } }, m),
      ),
    );
  }
  out.push(
    store.append(
      stream,
      {
        type: 'CallTerminated',
        data: {
          callId: s.callId,
          cause: s.cause ?? (s.answered === false ? 'NO_ANSWER' : 'HANGUP'),
          by: s.by ?? (s.answered === false ? 'SYSTEM' : 'CALLER'),
          sipStatus: s.answered === false ? 480 : null,
          gatewayEventId: null,
          reason: null,
          talkSeconds: Math.floor(talk),
          gatewayId,
          port,
          at: tEnd,
        },
      },
      m,
    ),
  );
  if (gatewayId !== null)
    out.push(
      store.append(
        portStreamId(gatewayId, port!),
        { type: 'PortReleased', data: { gatewayId, port: port!, ani: ani!, callId: s.callId, merchantId: m, quarantineUntil: plus(tEnd, 30), at: tEnd } },
        m,
      ),
    );
  return out;
};

export const gatewayCreated = (store: FixtureStore, gatewayId: string, ports: number, at: string): StoredEvent =>
  store.append(
    gatewayStreamId(gatewayId),
    {
      type: 'GatewayCreated',
      data: {
        gatewayId,
        name: `Gateway ${gatewayId}`,
        region: 'eu-west',
        ports: Array.from({ length: ports }, (_, i) => ({ number: i + 1, ani: `+1555000000${i + 1}` })),
        at,
      },
    },
    null,
  );

export const ratePlanSet = (store: FixtureStore, merchantId: string, plan: RatePlan, at: string): StoredEvent =>
  store.append(merchantStreamId(merchantId), { type: 'RatePlanSet', data: { merchantId, plan, at } }, merchantId);
