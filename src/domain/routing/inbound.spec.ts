import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { routeInbound, SIP_STATUS_OF_REFUSAL, type InboundRouteInput } from './inbound';
import type { ActiveMerchant, CallCenterState } from '../merchant/merchant';
import type { DirectDestination as DidDestination } from '../did/did';

const cc = (id: string, over: Partial<CallCenterState> = {}): CallCenterState => ({
  callCenterId: id,
  name: id,
  phoneNumber: '+14155551000',
  timeZone: 'UTC',
  weeklyHours: null,
  capacity: 2,
  region: 'eu-west',
  kind: 'BROWSER',
  redirectedTo: null,
  identityDtmf: false,
  ...over,
});
const merchantWith = (centers: CallCenterState[], linkCenters: string[] = centers.map((c) => c.callCenterId)): ActiveMerchant => ({
  status: 'Active',
  merchantId: 'm1',
  name: 'Shop',
  maxConcurrentCalls: null,
  allowedOrigins: null,
  callCenters: Object.fromEntries(centers.map((c) => [c.callCenterId, c])),
  links: { l1: { linkId: 'l1', label: 'Buy', callCenterIds: linkCenters, queuePolicy: null } },
  ratePlan: null,
  dtmfTable: {},
  callbackPrefixes: null,
});
const NOW = new Date('2026-11-23T12:00:00Z'); // a Monday
const toCenter = (id: string): DidDestination => ({ kind: 'CALL_CENTER', callCenterId: id });
const route = (merchant: ActiveMerchant, destination: DidDestination, over: Partial<InboundRouteInput> = {}) =>
  routeInbound({ merchant, destination, agentCenterId: null, at: NOW, activeCalls: {}, ...over });

describe('routeInbound: where a call to one of our numbers rings', () => {
  it('a CALL_CENTER number rings that browser center, any agent', () =>
    assert.deepEqual(route(merchantWith([cc('a')]), toCenter('a')), { ok: true, callCenterId: 'a', destination: 'CALL_CENTER', agent: null, linkId: null, reason: 'a open, 0/2 busy' }));

  it("an AGENT number rings the agent's center, for that agent only", () => {
    const r = route(merchantWith([cc('a')]), { kind: 'AGENT', keyId: 'kA' }, { agentCenterId: 'a' });
    assert.ok(r.ok);
    assert.deepEqual([r.callCenterId, r.destination, r.agent], ['a', 'AGENT', 'kA']);
  });

  it('an AGENT number whose key is revoked (no center) → NO_ROUTE', () =>
    assert.deepEqual(route(merchantWith([cc('a')]), { kind: 'AGENT', keyId: 'kA' }).ok, false));

  it("a LINK number follows the link's routing (least utilised open browser center) and records the link", () => {
    const r = route(merchantWith([cc('a'), cc('b')]), { kind: 'LINK', linkId: 'l1' }, { activeCalls: { a: 1 } });
    assert.ok(r.ok);
    assert.deepEqual([r.callCenterId, r.destination, r.linkId], ['b', 'LINK', 'l1']);
  });

  it("a center's redirect is followed", () => {
    const r = route(merchantWith([cc('a', { redirectedTo: 'b' }), cc('b')]), toCenter('a'));
    assert.ok(r.ok && r.callCenterId === 'b' && /redirected: a → b/.test(r.reason));
  });

  it('refusals say what the caller hears: full → BUSY 486, closed → CLOSED 480, a phone center → NO_ROUTE 404', () => {
    const refusal = (r: ReturnType<typeof routeInbound>) => (r.ok ? 'RINGS' : r.refusal);
    assert.equal(refusal(route(merchantWith([cc('a')]), toCenter('a'), { activeCalls: { a: 2 } })), 'BUSY');
    assert.equal(refusal(route(merchantWith([cc('a', { weeklyHours: [] })]), toCenter('a'))), 'CLOSED');
    assert.equal(refusal(route(merchantWith([cc('a', { kind: 'PSTN' })]), toCenter('a'))), 'NO_ROUTE');
    assert.equal(refusal(route(merchantWith([cc('a')]), toCenter('gone'))), 'NO_ROUTE');
    assert.equal(refusal(route(merchantWith([cc('a')], ['a']), { kind: 'LINK', linkId: 'l1' }, { activeCalls: { a: 2 } })), 'BUSY');
    assert.equal(refusal(route(merchantWith([cc('a', { weeklyHours: [] })], ['a']), { kind: 'LINK', linkId: 'l1' })), 'CLOSED');
    assert.equal(refusal(route(merchantWith([cc('a', { kind: 'PSTN' })], ['a']), { kind: 'LINK', linkId: 'l1' })), 'NO_ROUTE');
    // A phone center on the link is never a candidate: the browser one rings, even when busier.
    const mixed = route(merchantWith([cc('p', { kind: 'PSTN' }), cc('b')]), { kind: 'LINK', linkId: 'l1' }, { activeCalls: { b: 1 } });
    assert.ok(mixed.ok && mixed.callCenterId === 'b');
    assert.equal(refusal(route(merchantWith([cc('a')], []), { kind: 'LINK', linkId: 'l1' })), 'NO_ROUTE');
    assert.deepEqual(SIP_STATUS_OF_REFUSAL, { NO_ROUTE: 404, CLOSED: 480, BUSY: 486 });
  });

  it('property: a call rings only in an open BROWSER center with a free slot by the count given', () =>
    fc.assert(
      fc.property(
        fc.array(fc.record({ browser: fc.boolean(), open: fc.boolean(), capacity: fc.integer({ min: 1, max: 3 }), active: fc.integer({ min: 0, max: 4 }) }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        (specs, pick, viaLink) => {
          const centers = specs.map((s, i) => cc(`c${i}`, { kind: s.browser ? 'BROWSER' : 'PSTN', weeklyHours: s.open ? null : [], capacity: s.capacity }));
          const activeCalls = Object.fromEntries(specs.map((s, i) => [`c${i}`, s.active]));
          const destination: DidDestination = viaLink ? { kind: 'LINK', linkId: 'l1' } : toCenter(`c${pick % specs.length}`);
          const r = route(merchantWith(centers), destination, { activeCalls });
          const free = (i: number) => specs[i].browser && specs[i].open && specs[i].active < specs[i].capacity;
          if (!r.ok) {
            // Liveness: refused only when no candidate could take it.
            const candidates = viaLink ? specs.map((_, i) => i) : [pick % specs.length];
            assert.ok(!candidates.some(free), JSON.stringify({ specs, r }));
            return;
          }
          const i = Number(r.callCenterId.slice(1));
          assert.ok(specs[i].browser && specs[i].open && specs[i].active < specs[i].capacity, JSON.stringify({ specs, r }));
        },
      ),
    ));
});
