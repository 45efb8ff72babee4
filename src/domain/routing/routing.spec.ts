import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isOpenAt, localTime, queueCenterOf, resolveRedirect, routeCall, type RouteInput } from './routing';
import { regionDistance } from './gateway-choice';
import type { ActiveMerchant, CallCenterState } from '../merchant/merchant';
import type { OpeningHours } from '../merchant/events';
import { DomainError } from '../shared/errors';

const z = (iso: string) => new Date(iso);
const center = (timeZone: string, weeklyHours: OpeningHours[] | null) => ({ timeZone, weeklyHours });
const NY = (h: OpeningHours[] | null) => center('America/New_York', h);
const BER = (h: OpeningHours[] | null) => center('Europe/Berlin', h);
const openAt = (c: { timeZone: string; weeklyHours: OpeningHours[] | null }, iso: string) => isOpenAt(c, z(iso));

/** Every minute of [fromIso, toIso): is the center open at any of them? */
const openAnyMinute = (c: { timeZone: string; weeklyHours: OpeningHours[] | null }, fromIso: string, toIso: string): boolean => {
  for (let t = Date.parse(fromIso); t < Date.parse(toIso); t += 60_000) if (isOpenAt(c, new Date(t))) return true;
  return false;
};

describe('isOpenAt: basics', () => {
  it('reads the local wall clock and weekday of the zone', () => {
    assert.deepEqual(localTime('America/New_York', z('2026-11-23T15:30:00Z')), { day: 1, minutes: 10 * 60 + 30 });
    assert.deepEqual(localTime('Asia/Tokyo', z('2026-11-23T15:30:00Z')), { day: 2, minutes: 30 });
    assert.deepEqual(localTime('Europe/Berlin', z('2026-11-22T23:00:00Z')), { day: 1, minutes: 0 });
  });
  it('null is always open, [] never', () => {
    assert.equal(openAt(NY(null), '2026-11-23T03:00:00Z'), true);
    assert.equal(openAt(NY([]), '2026-11-23T15:00:00Z'), false);
  });
  it('open is inclusive, close exclusive', () => {
    const c = NY([{ day: 1, open: '09:00', close: '17:00' }]);
    assert.equal(openAt(c, '2026-11-23T13:59:59Z'), false); // 08:59:59 EST
    assert.equal(openAt(c, '2026-11-23T14:00:00Z'), true); // 09:00 EST
    assert.equal(openAt(c, '2026-11-23T21:59:59Z'), true); // 16:59:59
    assert.equal(openAt(c, '2026-11-23T22:00:00Z'), false); // 17:00
  });
  it('close "24:00" runs to the end of the day', () => {
    const c = BER([{ day: 1, open: '20:00', close: '24:00' }]);
    assert.equal(openAt(c, '2026-11-23T22:59:00Z'), true); // Mon 23:59 CET
    assert.equal(openAt(c, '2026-11-23T23:00:00Z'), false); // Tue 00:00
  });
  it('an overnight span 22:00–06:00 on Friday runs into Saturday morning', () => {
    const c = BER([{ day: 5, open: '22:00', close: '06:00' }]);
    assert.equal(openAt(c, '2026-11-27T20:59:00Z'), false); // Fri 21:59
    assert.equal(openAt(c, '2026-11-27T21:00:00Z'), true); // Fri 22:00
    assert.equal(openAt(c, '2026-11-28T04:59:00Z'), true); // Sat 05:59
    assert.equal(openAt(c, '2026-11-28T05:00:00Z'), false); // Sat 06:00
    assert.equal(openAt(c, '2026-11-28T21:30:00Z'), false); // Sat 22:30: no Saturday span
    assert.equal(openAt(c, '2026-11-27T03:00:00Z'), false); // Fri 04:00: belongs to Thursday's night, not configured
  });
  it('Sunday night wraps to Monday morning', () => {
    const c = NY([{ day: 7, open: '22:00', close: '06:00' }]);
    assert.equal(openAt(c, '2026-11-23T08:00:00Z'), true); // Mon 03:00 EST
    assert.equal(openAt(c, '2026-11-23T11:00:00Z'), false); // Mon 06:00
  });
});

describe('isOpenAt across DST: America/New_York', () => {
  const sun9to17 = NY([{ day: 7, open: '09:00', close: '17:00' }]);
  it('spring forward (Sun 2026-03-08): 09:00 is 13:00Z in EDT, it was 14:00Z a week before in EST', () => {
    assert.equal(openAt(sun9to17, '2026-03-08T12:59:00Z'), false); // 08:59 EDT
    assert.equal(openAt(sun9to17, '2026-03-08T13:00:00Z'), true); // 09:00 EDT
    assert.equal(openAt(sun9to17, '2026-03-08T20:59:00Z'), true); // 16:59 EDT
    assert.equal(openAt(sun9to17, '2026-03-08T21:00:00Z'), false); // 17:00 EDT
    assert.equal(openAt(sun9to17, '2026-03-01T13:00:00Z'), false); // 08:00 EST
    assert.equal(openAt(sun9to17, '2026-03-01T14:00:00Z'), true); // 09:00 EST
  });
  it('spring forward: a 02:00–03:00 span does not occur that day', () => {
    const c = NY([{ day: 7, open: '02:00', close: '03:00' }]);
    assert.equal(openAnyMinute(c, '2026-03-08T05:00:00Z', '2026-03-09T05:00:00Z'), false);
    assert.equal(openAt(c, '2026-03-01T07:30:00Z'), true); // a normal Sunday: 02:30 EST
  });
  it('fall back (Sun 2026-11-01): the repeated 01:00–02:00 hour is open both times', () => {
    const c = NY([{ day: 7, open: '01:00', close: '02:00' }]);
    assert.equal(openAt(c, '2026-11-01T05:30:00Z'), true); // 01:30 EDT
    assert.equal(openAt(c, '2026-11-01T06:30:00Z'), true); // 01:30 EST, again
    assert.equal(openAt(c, '2026-11-01T07:00:00Z'), false); // 02:00 EST
  });
  it('fall back: 09:00 is 14:00Z in EST', () => {
    assert.equal(openAt(sun9to17, '2026-11-01T13:30:00Z'), false); // 08:30 EST (would be 09:30 in EDT)
    assert.equal(openAt(sun9to17, '2026-11-01T14:00:00Z'), true);
    assert.equal(openAt(sun9to17, '2026-11-01T22:00:00Z'), false); // 17:00 EST
  });
  it('an overnight span across the fall-back night ends at 06:00 local, EST', () => {
    const c = NY([{ day: 6, open: '22:00', close: '06:00' }]);
    assert.equal(openAt(c, '2026-11-01T02:00:00Z'), true); // Sat 22:00 EDT
    assert.equal(openAt(c, '2026-11-01T10:59:00Z'), true); // Sun 05:59 EST
    assert.equal(openAt(c, '2026-11-01T11:00:00Z'), false); // Sun 06:00 EST
  });
});

describe('isOpenAt across DST: Europe/Berlin', () => {
  const sun9to17 = BER([{ day: 7, open: '09:00', close: '17:00' }]);
  it('spring forward (Sun 2026-03-29): 09:00 CEST is 07:00Z', () => {
    assert.equal(openAt(sun9to17, '2026-03-29T06:59:00Z'), false); // 08:59 CEST
    assert.equal(openAt(sun9to17, '2026-03-29T07:00:00Z'), true);
    assert.equal(openAt(sun9to17, '2026-03-29T14:59:00Z'), true); // 16:59 CEST
    assert.equal(openAt(sun9to17, '2026-03-29T15:00:00Z'), false); // 17:00 CEST
    assert.equal(openAt(sun9to17, '2026-03-22T07:30:00Z'), false); // a week before: 08:30 CET
  });
  it('spring forward: a 02:00–03:00 span does not occur that day', () => {
    const c = BER([{ day: 7, open: '02:00', close: '03:00' }]);
    assert.equal(openAnyMinute(c, '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z'), false);
  });
  it('fall back (Sun 2026-10-25): the repeated 02:00–03:00 hour is open both times', () => {
    const c = BER([{ day: 7, open: '02:00', close: '03:00' }]);
    assert.equal(openAt(c, '2026-10-25T00:30:00Z'), true); // 02:30 CEST
    assert.equal(openAt(c, '2026-10-25T01:30:00Z'), true); // 02:30 CET
    assert.equal(openAt(c, '2026-10-25T02:00:00Z'), false); // 03:00 CET
  });
  it('fall back: 09:00 CET is 08:00Z', () => {
    assert.equal(openAt(sun9to17, '2026-10-25T07:30:00Z'), false); // 08:30 CET (09:30 in CEST)
    assert.equal(openAt(sun9to17, '2026-10-25T08:00:00Z'), true);
  });
});

// ---------------------------------------------------------------- routing

const cc = (id: string, over: Partial<CallCenterState> = {}): CallCenterState => ({
  callCenterId: id,
  name: id,
  phoneNumber: `+1415555${String(1000 + id.charCodeAt(0)).slice(-4)}`,
  timeZone: 'UTC',
  weeklyHours: null,
  capacity: 2,
  region: 'us-east',
  kind: 'PSTN',
  redirectedTo: null,
  identityDtmf: false,
  ...over,
});
const merchantWith = (centers: CallCenterState[], linkCenters: string[]): ActiveMerchant => ({
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
const NOW = z('2026-11-23T12:00:00Z');
const route = (m: ActiveMerchant, activeCalls: Record<string, number> = {}, callerRegion: string | null = null, linkId = 'l1') =>
  routeCall({ merchant: m, linkId, at: NOW, callerRegion, activeCalls });
const closed: OpeningHours[] = [];

describe('resolveRedirect', () => {
  const m = merchantWith([cc('a', { redirectedTo: 'b' }), cc('b', { redirectedTo: 'c' }), cc('c')], ['a']);
  it('follows chains', () => assert.deepEqual(resolveRedirect(m, 'a'), { callCenterId: 'c', chain: ['a', 'b', 'c'] }));
  it('a center not redirected resolves to itself', () => assert.deepEqual(resolveRedirect(m, 'c'), { callCenterId: 'c', chain: ['c'] }));
  it('unknown → NOT_FOUND', () => assert.throws(() => resolveRedirect(m, 'x'), (e: unknown) => e instanceof DomainError && e.code === 'NOT_FOUND'));
  it('a stored cycle → CONFLICT rather than a loop', () => {
    const bad = merchantWith([cc('a', { redirectedTo: 'b' }), cc('b', { redirectedTo: 'a' })], ['a']);
    assert.throws(() => resolveRedirect(bad, 'a'), (e: unknown) => e instanceof DomainError && e.code === 'CONFLICT');
  });
});

describe('routeCall', () => {
  it('one open center with room → FIRST_OPEN, to its configured number', () => {
    const r = route(merchantWith([cc('a')], ['a']));
    assert.ok(r.ok);
    assert.deepEqual([r.callCenterId, r.destination, r.rule, r.requestedCallCenterId], ['a', cc('a').phoneNumber, 'FIRST_OPEN', 'a']);
  });
  it('the least utilised of several → LEAST_LOADED (exact ratio, not counts)', () => {
    const m = merchantWith([cc('a', { capacity: 10 }), cc('b', { capacity: 2 })], ['a', 'b']);
    const r = route(m, { a: 4, b: 1 }); // 40% vs 50%
    assert.ok(r.ok && r.callCenterId === 'a' && r.rule === 'LEAST_LOADED');
    const r2 = route(m, { a: 6, b: 1 }); // 60% vs 50%
    assert.ok(r2.ok && r2.callCenterId === 'b');
  });
  it('ties go to the link order', () => {
    const r = route(merchantWith([cc('a'), cc('b')], ['b', 'a']), { a: 1, b: 1 });
    assert.ok(r.ok && r.callCenterId === 'b');
  });
  it('a closed center is skipped', () => {
    const r = route(merchantWith([cc('a', { weeklyHours: closed }), cc('b')], ['a', 'b']));
    assert.ok(r.ok && r.callCenterId === 'b' && r.rule === 'FIRST_OPEN');
    assert.match(r.reason, /a: closed/);
  });
  it('a full center is skipped', () => {
    const r = route(merchantWith([cc('a'), cc('b')], ['a', 'b']), { a: 2 });
    assert.ok(r.ok && r.callCenterId === 'b');
    assert.match(r.reason, /a: full \(2\/2\)/);
  });
  it('a redirected center sends its calls to the target → REDIRECT, requested center recorded', () => {
    const r = route(merchantWith([cc('a', { redirectedTo: 'b' }), cc('b')], ['a']));
    assert.ok(r.ok);
    assert.deepEqual([r.callCenterId, r.rule, r.requestedCallCenterId], ['b', 'REDIRECT', 'a']);
    assert.match(r.reason, /a → b/);
  });
  it('a redirect target that is closed leaves no route, and says so', () => {
    const r = route(merchantWith([cc('a', { redirectedTo: 'b' }), cc('b', { weeklyHours: closed })], ['a']));
    assert.equal(r.ok, false);
    assert.match(r.reason, /a \(redirected: a → b\): closed/);
  });
  it('two link centers redirected to one target count it once', () => {
    const r = route(merchantWith([cc('a', { redirectedTo: 'c' }), cc('b', { redirectedTo: 'c' }), cc('c')], ['a', 'b']));
    assert.ok(r.ok && r.callCenterId === 'c' && r.requestedCallCenterId === 'a');
  });
  it('a caller-region hint prefers the nearest region → NEAREST_REGION', () => {
    const m = merchantWith([cc('a', { region: 'us-east' }), cc('b', { region: 'eu-west' })], ['a', 'b']);
    const r = route(m, { b: 1 }, 'eu-west');
    assert.ok(r.ok && r.callCenterId === 'b' && r.rule === 'NEAREST_REGION');
    const near = route(merchantWith([cc('a', { region: 'us-west' }), cc('b', { region: 'eu-west' })], ['b', 'a']), {}, 'us-east');
    assert.ok(near.ok && near.callCenterId === 'a', 'same area beats another continent');
  });
  it('the region hint does not override availability', () => {
    const m = merchantWith([cc('a', { region: 'us-east' }), cc('b', { region: 'eu-west', weeklyHours: closed })], ['a', 'b']);
    const r = route(m, {}, 'eu-west');
    assert.ok(r.ok && r.callCenterId === 'a' && r.rule === 'FIRST_OPEN');
  });
  it('no candidate → ok false naming every reason', () => {
    const r = route(merchantWith([cc('a', { weeklyHours: closed }), cc('b')], ['a', 'b']), { b: 2 });
    assert.equal(r.ok, false);
    assert.match(r.reason, /a: closed.*b: full/);
  });
  it('unknown link → ok false', () => {
    const r = route(merchantWith([cc('a')], ['a']), {}, null, 'nope');
    assert.deepEqual(r, { ok: false, reason: 'link nope unknown' });
  });
});

// ---------------------------------------------------------------- properties

const REGIONS = ['us-east', 'us-west', 'eu-west', 'ap-south'];
const arbHours: fc.Arbitrary<OpeningHours[] | null> = fc.oneof(
  fc.constant(null),
  fc.array(
    fc
      .tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 47 }), fc.integer({ min: 1, max: 48 }))
      .filter(([, o, c]) => o !== c)
      .map(([day, o, c]) => {
        const hhmm = (half: number) => (half === 48 ? '24:00' : `${String(Math.floor(half / 2)).padStart(2, '0')}:${half % 2 ? '30' : '00'}`);
        return { day, open: hhmm(o), close: hhmm(c) };
      }),
    { maxLength: 5 },
  ),
);
const arbRouting: fc.Arbitrary<RouteInput> = fc
  .integer({ min: 1, max: 6 })
  .chain((n) =>
    fc.record({
      centers: fc.array(
        fc.record({
          hours: arbHours,
          zone: fc.constantFrom('UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe'),
          capacity: fc.integer({ min: 1, max: 3 }),
          active: fc.integer({ min: 0, max: 4 }),
          region: fc.constantFrom(...REGIONS),
          // Redirect only to a later center: acyclic, as the merchant decider guarantees.
          redirect: fc.option(fc.integer({ min: 1, max: n }), { freq: 3 }),
        }),
        { minLength: n, maxLength: n },
      ),
      link: fc.shuffledSubarray([...Array(n).keys()], { minLength: 1 }),
      at: fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2027-01-01T00:00:00Z'), noInvalidDate: true }),
      callerRegion: fc.option(fc.constantFrom(...REGIONS)),
    }),
  )
  .map(({ centers, link, at, callerRegion }) => {
    const ids = centers.map((_, i) => `cc${i}`);
    const states = centers.map((c, i) =>
      cc(ids[i]!, {
        weeklyHours: c.hours,
        timeZone: c.zone,
        capacity: c.capacity,
        region: c.region,
        redirectedTo: c.redirect !== null && i + c.redirect < centers.length ? ids[i + c.redirect]! : null,
      }),
    );
    return {
      merchant: merchantWith(states, link.map((i) => ids[i]!)),
      linkId: 'l1',
      at,
      callerRegion,
      activeCalls: Object.fromEntries(centers.map((c, i) => [ids[i]!, c.active])),
    };
  });

describe('routing properties', () => {
  it('a call is never routed to a closed, redirected-away or full center; and is refused only when every target is', () => {
    fc.assert(
      fc.property(arbRouting, (input) => {
        const r = routeCall(input);
        const m = input.merchant;
        const targets = m.links.l1!.callCenterIds.map((id) => m.callCenters[resolveRedirect(m, id).callCenterId]!);
        const available = (c: CallCenterState) => isOpenAt(c, input.at) && (input.activeCalls[c.callCenterId] ?? 0) < c.capacity;
        if (!r.ok) {
          assert.ok(targets.every((c) => !available(c)), `refused although ${targets.filter(available).map((c) => c.callCenterId)} could take it`);
          return;
        }
        const chosen = m.callCenters[r.callCenterId]!;
        assert.ok(isOpenAt(chosen, input.at), 'closed');
        assert.equal(chosen.redirectedTo, null, 'redirected away');
        assert.ok((input.activeCalls[chosen.callCenterId] ?? 0) < chosen.capacity, 'full');
        assert.equal(r.destination, chosen.phoneNumber);
        assert.ok(m.links.l1!.callCenterIds.includes(r.requestedCallCenterId));
        assert.equal(resolveRedirect(m, r.requestedCallCenterId).callCenterId, r.callCenterId);
        // Nothing available is strictly nearer the caller, nor (equally near) strictly less utilised.
        const dist = (c: CallCenterState) => (input.callerRegion === null ? 0 : regionDistance(c.region, input.callerRegion));
        const use = (c: CallCenterState) => (input.activeCalls[c.callCenterId] ?? 0) / c.capacity;
        for (const c of targets.filter(available)) {
          assert.ok(dist(c) >= dist(chosen), `${c.callCenterId} is nearer`);
          if (dist(c) === dist(chosen)) assert.ok(use(c) >= use(chosen) - 1e-12, `${c.callCenterId} is less utilised`);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('routing: PSTN and browser centers on one link', () => {
  it('the chosen center says how it takes the call (media)', () => {
    const m = merchantWith([cc('a', { kind: 'BROWSER' }), cc('b')], ['a', 'b']);
    const r = route(m, {});
    assert.ok(r.ok && r.callCenterId === 'a' && r.media === 'BROWSER');
    const full = route(m, { a: 2 });
    assert.ok(full.ok && full.callCenterId === 'b' && full.media === 'PSTN', 'a full browser center falls through to the PSTN one');
  });
  it('a browser center reached through a redirect is a browser call', () => {
    const m = merchantWith([cc('a', { redirectedTo: 'b' }), cc('b', { kind: 'BROWSER' })], ['a']);
    const r = route(m, {});
    assert.ok(r.ok && r.callCenterId === 'b' && r.rule === 'REDIRECT' && r.media === 'BROWSER');
  });
  it('property: the kinds never change which center is chosen, and media is the chosen center\'s kind', () => {
    fc.assert(
      fc.property(arbRouting, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (input, browser) => {
        const centers = Object.values(input.merchant.callCenters);
        const mixed = {
          ...input,
          merchant: {
            ...input.merchant,
            callCenters: Object.fromEntries(centers.map((c, i) => [c.callCenterId, { ...c, kind: browser[i] ? ('BROWSER' as const) : ('PSTN' as const) }])),
          },
        };
        const plain = routeCall(input);
        const r = routeCall(mixed);
        assert.equal(r.ok, plain.ok);
        if (!r.ok || !plain.ok) return;
        assert.equal(r.callCenterId, plain.callCenterId);
        assert.equal(r.rule, plain.rule);
        assert.equal(plain.media, 'PSTN');
        assert.equal(r.media, mixed.merchant.callCenters[r.callCenterId]!.kind);
      }),
      { numRuns: 200 },
    );
  });
});

describe('queueCenterOf: where a refused call waits (issue 25)', () => {
  const at = (m: ActiveMerchant, callerRegion: string | null = null) => queueCenterOf({ merchant: m, linkId: 'l1', at: NOW, callerRegion });
  it('every center full: the first open one of the link (the one an idle center set would take)', () => {
    const m = merchantWith([cc('a', { weeklyHours: closed }), cc('b'), cc('c')], ['a', 'b', 'c']);
    assert.equal(route(m, { b: 2, c: 2 }).ok, false);
    assert.equal(at(m), 'b');
  });
  it('the nearest region first, and a redirect followed', () => {
    assert.equal(at(merchantWith([cc('a'), cc('b', { region: 'eu-west' })], ['a', 'b']), 'eu-west'), 'b');
    assert.equal(at(merchantWith([cc('a', { redirectedTo: 'c' }), cc('c')], ['a'])), 'c');
  });
  it('every center closed, or an unknown link: null (a call never waits for a closed center)', () => {
    assert.equal(at(merchantWith([cc('a', { weeklyHours: closed })], ['a'])), null);
    assert.equal(queueCenterOf({ merchant: merchantWith([cc('a')], ['a']), linkId: 'nope', at: NOW, callerRegion: null }), null);
  });
});
