import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallEvent } from '../../domain/call/events';
import { answered, downloaded, initiated, ringing, t } from '../../domain/call/fixtures';
import { viewSpecFor } from '../testing/view-spec';
import { aniView, contextView, screenPopOf, type ContextRow, type CrmEvent } from './view';

const context = viewSpecFor(contextView);
const ani = viewSpecFor(aniView);

const downloadedRow: ContextRow = {
  call_id: 'c1',
  merchant_id: 'm1',
  direction: 'OUTBOUND',
  did: null,
  callback_media: null,
  link_id: 'l1',
  customer_id: 'cust-7',
  session_id: null,
  page_url: 'https://shop.example/p/42',
  referrer: null,
  context: '{"cart":3}',
  ani: null,
  call_center_id: null,
  state: 'DOWNLOADED',
};
const end: CallEvent = { type: 'CallTerminated', data: { callId: 'c1', cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, reason: null, talkSeconds: 65, gatewayId: 'gw1', port: 3, at: t(75) } };
const browserInitiated = (): CallEvent => {
  const e = initiated() as Extract<CallEvent, { type: 'CallInitiated' }>;
  return { ...e, data: { ...e.data, media: 'BROWSER', gatewayId: null, port: null, ani: null } };
};

describe('call context view (crm-context, screen pops): given events, when one more, then the row', () => {
  it('a download records who calls from which page with what', () => context([]).when(downloaded()).then(downloadedRow));
  it('the initiation adds the caller ID and the center', () =>
    context([downloaded()]).when(initiated()).then({ ...downloadedRow, state: 'INITIATED', ani: '+14155550003', call_center_id: 'cc1' }));
  it('later stages move the state only', () => {
    context([downloaded(), initiated()]).when(ringing()).then((r) => assert.equal(r!.state, 'RINGING'));
    context([downloaded(), initiated(), ringing()]).when(answered()).then((r) => assert.equal(r!.state, 'ANSWERED'));
    context([downloaded(), initiated(), answered()]).when(end).then((r) => assert.deepEqual(r, { ...downloadedRow, state: 'TERMINATED', ani: '+14155550003', call_center_id: 'cc1' }));
  });
  it('an event of a call never downloaded creates nothing', () => context([]).when(ringing()).then(null));
});

describe('ANI interval view (crm-context, look-up by caller ID)', () => {
  it('opens at the initiation and closes at the end', () => {
    ani([]).when(initiated()).then({ call_id: 'c1', ani: '+14155550003', merchant_id: 'm1', from_at: t(5), to_at: null });
    ani([initiated()]).when(end).then({ call_id: 'c1', ani: '+14155550003', merchant_id: 'm1', from_at: t(5), to_at: t(75) });
  });
  it('a browser call holds no caller ID: no interval', () => {
    ani([]).when(browserInitiated()).then(null);
    ani([browserInitiated()]).when(end).then(null);
  });
  it('issue 25: a browser call transferred to a PSTN center holds the transfer port\'s caller ID from the dial to the end; a later dial its own', () => {
    const dialled = (ani: string, seconds: number): CrmEvent => ({
      type: 'TransferDialled',
      data: { callId: 'c1', transferId: 'tr-1', merchantId: 'm1', callCenterId: 'cc2', line: { leg: 't1', destination: '+14155550199', gatewayId: 'gw1', port: 1, ani }, at: t(seconds) },
    });
    ani([browserInitiated()]).when(dialled('+14155550777', 30)).then({ call_id: 'c1', ani: '+14155550777', merchant_id: 'm1', from_at: t(30), to_at: null });
    ani([browserInitiated(), dialled('+14155550777', 30)]).when(end).then({ call_id: 'c1', ani: '+14155550777', merchant_id: 'm1', from_at: t(30), to_at: t(75) });
    ani([browserInitiated(), dialled('+14155550777', 30)]).when(dialled('+14155550778', 40)).then({ call_id: 'c1', ani: '+14155550778', merchant_id: 'm1', from_at: t(40), to_at: null });
  });
});

describe('an inbound call (issue 23): who calls is the caller’s number', () => {
  const arrival = { type: 'InboundCallReceived', data: { callId: 'c1', merchantId: 'm1', did: '+33100000301', ani: '+33612345678', destination: 'CALL_CENTER', callCenterId: 'cc1', agent: null, linkId: null, sipCallId: null, ratePlan: null, at: t(1) } } as CallEvent;
  it('the pop has the caller as ANI, the number dialled, no page and no shop ids', () =>
    assert.deepEqual(screenPopOf([arrival, { type: 'CallRinging', data: { callId: 'c1', gatewayEventId: null, at: t(1) } }]), {
      callId: 'c1',
      merchantId: 'm1',
      direction: 'INBOUND',
      did: '+33100000301',
      callbackMedia: null,
      linkId: null,
      customerId: null,
      sessionId: null,
      pageUrl: null,
      referrer: null,
      context: null,
      ani: '+33612345678',
      callCenterId: 'cc1',
      state: 'RINGING',
    }));
  it("the caller's number is held from the arrival to the end: the look-up by caller ID finds the call that rings now", () => {
    ani([]).when(arrival).then({ call_id: 'c1', ani: '+33612345678', merchant_id: 'm1', from_at: t(1), to_at: null });
    ani([arrival]).when(end).then({ call_id: 'c1', ani: '+33612345678', merchant_id: 'm1', from_at: t(1), to_at: t(75) });
  });
});

describe('screen pop: the same View folded over the call’s events', () => {
  it('is the CallContext as it was at the last event given', () =>
    assert.deepEqual(screenPopOf([downloaded(), initiated(), ringing()]), {
      callId: 'c1',
      merchantId: 'm1',
      direction: 'OUTBOUND',
      did: null,
      callbackMedia: null,
      linkId: 'l1',
      customerId: 'cust-7',
      sessionId: null,
      pageUrl: 'https://shop.example/p/42',
      referrer: null,
      context: { cart: 3 },
      ani: '+14155550003',
      callCenterId: 'cc1',
      state: 'RINGING',
    }));
  it('is null for a call never downloaded', () => assert.equal(screenPopOf([]), null));
});

describe("a callback's try (issue 25): the origin click's pop, and how its center takes it", () => {
  const placed = (media: 'PSTN' | 'BROWSER'): CallEvent => ({
    type: 'CallbackCallPlaced',
    data: {
      callId: 'c2', merchantId: 'm1', callbackId: 'cb1', attempt: 1, callCenterId: 'cc1', number: '+33612345678', gatewayId: 'gw1', port: 3, ani: '+33100000201',
      originCallId: 'c0', linkId: 'l1', customerId: 'cust-7', sessionId: null, pageUrl: 'https://shop.example/p/lamp', referrer: null, context: { cart: ['sku-9'] }, ratePlan: null, media, at: t(0),
    },
  });
  it("a PSTN center's try: media PSTN (answered on its phone), the port's caller ID, the origin's page and cart", () => {
    const pop = screenPopOf([placed('PSTN')]);
    assert.deepEqual(pop && [pop.direction, pop.callbackMedia, pop.ani, pop.pageUrl, pop.context], ['CALLBACK', 'PSTN', '+33100000201', 'https://shop.example/p/lamp', { cart: ['sku-9'] }]);
  });
  it("a browser center's try: media BROWSER", () => assert.equal(screenPopOf([placed('BROWSER')])?.callbackMedia, 'BROWSER'));
});
