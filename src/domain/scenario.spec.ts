/**
 * One call through every pure piece, as the application wires them: configure a merchant, route,
 * choose a gateway, seize a port, run the call's stages, time it out or hang up, release the port,
 * rate it. No I/O: the streams are arrays folded with each decider's evolve.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Decider } from './shared/decider';
import { fold } from './shared/decider';
import { merchantDecider, type ActiveMerchant } from './merchant/merchant';
import { gatewayDecider, portDecider, type GatewayState } from './gateway/gateway';
import { callDecider } from './call/call';
import { routeCall } from './routing/routing';
import { orderGateways } from './routing/gateway-choice';
import { rateCall } from './rating/rating';
import { talkMsBetween } from './call/call';
import { dueTimeout } from './call/timeouts';
import { replayDtmf, commandFor } from './call/dtmf-collector';
import type { CallEvent } from './call/events';
import { DomainError } from './shared/errors';

class Stream<S, C, E> {
  events: E[] = [];
  constructor(private readonly decider: Decider<S, C, E>) {}
  get state(): S {
    return fold(this.decider.evolve, this.decider.initialState, this.events);
  }
  run(command: C): E[] {
    const decided = this.decider.decide(command, this.state);
    this.events.push(...decided);
    return decided;
  }
}

const T = Date.parse('2026-11-23T14:00:00Z'); // Monday 09:00 in New York
const at = (s: number) => new Date(T + s * 1000).toISOString();

const setUp = () => {
  const merchant = new Stream(merchantDecider);
  merchant.run({ type: 'CreateMerchant', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: 10, allowedOrigins: ['https://shop.example'], at: at(-100) } });
  const hours = [1, 2, 3, 4, 5].map((day) => ({ day, open: '09:00', close: '17:00' }));
  merchant.run({ type: 'AddCallCenter', data: { callCenterId: 'ny', name: 'NY', phoneNumber: '+12125550100', timeZone: 'America/New_York', weeklyHours: hours, capacity: 1, region: 'us-east', kind: 'PSTN', at: at(-99) } });
  merchant.run({ type: 'AddCallCenter', data: { callCenterId: 'ber', name: 'Berlin', phoneNumber: '+493055501000', timeZone: 'Europe/Berlin', weeklyHours: hours, capacity: 5, region: 'eu-west', kind: 'PSTN', at: at(-98) } });
  merchant.run({ type: 'AddCallCenter', data: { callCenterId: 'sf', name: 'SF', phoneNumber: '+14155550100', timeZone: 'America/Los_Angeles', weeklyHours: null, capacity: 2, region: 'us-west', kind: 'PSTN', at: at(-97) } });
  merchant.run({ type: 'CreateLink', data: { linkId: 'l1', label: 'Call us', callCenterIds: ['ny', 'ber'], at: at(-96) } });
  merchant.run({
    type: 'SetRatePlan',
    data: { plan: { currency: 'USD', connectionFeeMinor: 5, ratePerMinuteMinor: 10, firstIncrementSeconds: 30, nextIncrementSeconds: 6, minimumChargeMinor: 0, prefixRates: [{ prefix: '+1212', ratePerMinuteMinor: 4 }] }, at: at(-95) },
  });
  merchant.run({ type: 'SetDtmfCommand', data: { sequence: '*76', action: 'PUSH_PAGE', argument: 'https://shop.example/help', at: at(-94) } });
  const gateways = [new Stream(gatewayDecider), new Stream(gatewayDecider)];
  gateways[0]!.run({ type: 'CreateGateway', data: { gatewayId: 'gw-eu', name: 'EU', region: 'eu-west', ports: [{ number: 1, ani: '+493055509001' }], at: at(-90) } });
  gateways[1]!.run({ type: 'CreateGateway', data: { gatewayId: 'gw-us', name: 'US', region: 'us-east', ports: [{ number: 1, ani: '+12125559001' }], at: at(-90) } });
  return { merchant, gateways };
};

describe('a call through the pure domain', () => {
  it('routes, seizes the nearest port, answers, recognises DTMF, hangs up, releases and rates', () => {
    const { merchant, gateways } = setUp();
    const m = merchant.state as ActiveMerchant;
    const call = new Stream(callDecider);
    const policy = { links: Object.keys(m.links), allowedOrigins: m.allowedOrigins, requestOrigin: 'https://shop.example', maxContextBytes: 8192 };
    call.run({ type: 'RecordDownload', data: { callId: 'c1', merchantId: 'm1', linkId: 'l1', customerId: null, sessionId: 's1', pageUrl: 'https://shop.example/cart', referrer: null, context: null, callerRegion: null, at: at(0), policy } });

    // Monday 09:00 NY is 15:00 in Berlin: both open; both idle → NY first (link order, 0% each).
    const route = routeCall({ merchant: m, linkId: 'l1', at: new Date(at(1)), callerRegion: null, activeCalls: {} });
    assert.ok(route.ok);
    assert.deepEqual([route.callCenterId, route.rule, route.destination], ['ny', 'LEAST_LOADED', '+12125550100']);

    const gws = gateways.map((g) => g.state).filter((g): g is Extract<GatewayState, { status: 'Active' }> => g.status === 'Active');
    const order = orderGateways(gws, m.callCenters.ny!.region);
    assert.deepEqual(order, ['gw-us', 'gw-eu']);
    const gw = gws.find((g) => g.gatewayId === order[0])!;
    const port = new Stream(portDecider);
    port.run({ type: 'SeizePort', data: { gatewayId: gw.gatewayId, port: gw.ports[0]!.number, ani: gw.ports[0]!.ani, callId: 'c1', merchantId: 'm1', at: at(1) } });
    assert.throws(
      () => port.run({ type: 'SeizePort', data: { gatewayId: gw.gatewayId, port: 1, ani: gw.ports[0]!.ani, callId: 'c2', merchantId: 'm1', at: at(2) } }),
      (e: unknown) => e instanceof DomainError && e.code === 'NO_PORT',
    );

    call.run({
      type: 'InitiateCall',
      data: { callId: 'c1', callCenterId: route.callCenterId, media: 'PSTN', destination: route.destination, gatewayId: gw.gatewayId, port: 1, ani: gw.ports[0]!.ani, routing: { rule: route.rule, requestedCallCenterId: route.requestedCallCenterId, reason: route.reason }, ratePlan: m.ratePlan, at: at(1) },
    });
    call.run({ type: 'ReportRinging', data: { callId: 'c1', gatewayEventId: 'e1', at: at(3) } });
    call.run({ type: 'AnswerCall', data: { callId: 'c1', gatewayEventId: 'e2', answeredBy: null, at: at(8) } });
    assert.deepEqual(call.run({ type: 'AnswerCall', data: { callId: 'c1', gatewayEventId: 'e2', answeredBy: null, at: at(9) } }), []);
    const rules = { table: m.dtmfTable, allowedOrigins: m.allowedOrigins };
    call.run({ type: 'ReportDtmf', data: { callId: 'c1', digits: '*7', gatewayEventId: 'e3', at: at(20), ...rules } });
    const completed = call.run({ type: 'ReportDtmf', data: { callId: 'c1', digits: '6', gatewayEventId: 'e4', at: at(21), ...rules } });
    // The report that completes "*76" decides its command in the same append.
    assert.deepEqual(completed.map((e) => e.type), ['DtmfReceived', 'DtmfCommandRecognized']);

    const reports = call.events.filter((e): e is Extract<CallEvent, { type: 'DtmfReceived' }> => e.type === 'DtmfReceived').map((e) => e.data);
    const commands = replayDtmf(reports, m.dtmfTable).recognized.map((r) => commandFor(r, m, r.at));
    assert.deepEqual(commands.map((c) => [c.sequence, c.action, c.accepted]), [['*76', 'PUSH_PAGE', true]]);

    // Nobody hangs up before the 1 h maximum: the timeout decides MAX_DURATION.
    const limits = { abandonAfterMs: 600_000, ringingTimeoutMs: 30_000, maxDurationMs: 3_600_000 };
    assert.equal(dueTimeout(call.state, new Date(at(3607)), limits), null);
    const due = dueTimeout(call.state, new Date(at(3608)), limits);
    assert.equal(due?.cause, 'MAX_DURATION');
    const [ended] = call.run({ type: 'TerminateCall', data: { callId: 'c1', cause: due!.cause, by: 'SYSTEM', sipStatus: null, gatewayEventId: null, at: at(3608) } });
    assert.ok(ended?.type === 'CallTerminated');
    assert.deepEqual([ended.data.talkSeconds, ended.data.gatewayId, ended.data.port], [3600, 'gw-us', 1]);
    // A hang-up racing the timeout stores nothing.
    assert.deepEqual(call.run({ type: 'TerminateCall', data: { callId: 'c1', cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, at: at(3609) } }), []);

    port.run({ type: 'ReleasePort', data: { gatewayId: 'gw-us', port: 1, callId: 'c1', quarantineSeconds: 60, at: at(3608) } });
    assert.equal(port.state.status, 'Free');

    // Rated with the plan carried by CallInitiated: +1212 at 4/min, 30/6 → 3600 s billable.
    const initiated = call.events.find((e) => e.type === 'CallInitiated');
    assert.ok(initiated?.type === 'CallInitiated' && initiated.data.ratePlan);
    const answeredEvent = call.events.find((e) => e.type === 'CallAnswered');
    assert.ok(answeredEvent);
    const charge = rateCall(initiated.data.ratePlan, initiated.data.destination, talkMsBetween(answeredEvent.data.at, ended.data.at));
    assert.deepEqual([charge.billableSeconds, charge.ratePerMinuteMinor, charge.amountMinor], [3600, 4, 5 + 240]);
  });

  it('when the first center is full and the other closed, the call has no route', () => {
    const { merchant } = setUp();
    const m = merchant.state as ActiveMerchant;
    // Monday 12:00 NY is 18:00 in Berlin: closed there; NY has capacity 1 and one call.
    const route = routeCall({ merchant: m, linkId: 'l1', at: new Date(T + 3 * 3600_000), callerRegion: null, activeCalls: { ny: 1 } });
    assert.equal(route.ok, false);
    assert.match(route.ok ? '' : route.reason, /ny: full \(1\/1\); ber: closed/);
  });

  it('redirecting NY to SF sends the call west, recorded as REDIRECT', () => {
    const { merchant } = setUp();
    merchant.run({ type: 'RedirectCallCenter', data: { callCenterId: 'ny', toCallCenterId: 'sf', at: at(0) } });
    assert.throws(() => merchant.run({ type: 'RedirectCallCenter', data: { callCenterId: 'sf', toCallCenterId: 'ny', at: at(0) } }), /cycle/);
    const route = routeCall({ merchant: merchant.state as ActiveMerchant, linkId: 'l1', at: new Date(at(1)), callerRegion: 'us-west', activeCalls: {} });
    assert.ok(route.ok);
    assert.deepEqual([route.callCenterId, route.rule, route.requestedCallCenterId], ['sf', 'REDIRECT', 'ny']);
  });
});
