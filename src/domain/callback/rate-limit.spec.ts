import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CALLBACK_RATE_LIMITS, checkCallbackRate, clientKeyOf, type BookingRecord } from './rate-limit';

const T0 = Date.parse('2026-12-07T09:00:00.000Z');
const t = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

describe('callback rate limit: the client key', () => {
  for (const [address, key] of [
    ['203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['[2001:db8:0001:0002::1]', '2001:db8:1:2::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::ffff:198.51.100.4', '198.51.100.4'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['not-an-address', 'not-an-address'],
    ['1:2:3', '1:2:3'],
  ])
    it(`${address} → ${key}`, () => assert.equal(clientKeyOf(address), key));
  it('two addresses of one /64 share a key; of two /64s, not', () => {
    assert.equal(clientKeyOf('2001:db8:a:b::1'), clientKeyOf('2001:db8:a:b:ffff::2'));
    assert.notEqual(clientKeyOf('2001:db8:a:b::1'), clientKeyOf('2001:db8:a:c::1'));
  });
});

describe('callback rate limit: the check', () => {
  const booking = (seconds: number, number: string | null = '+33600000001', clientKey = 'a'): BookingRecord => ({ number, clientKey, at: t(seconds) });
  it('under both limits → ok', () => assert.deepEqual(checkCallbackRate([booking(-10), booking(-20)], booking(0)), { ok: true }));
  it('the number\'s limit → refused NUMBER, until the oldest of the window ages out', () =>
    assert.deepEqual(checkCallbackRate([booking(-100, undefined, 'x'), booking(-200, undefined, 'y'), booking(-300, undefined, 'z')], booking(0)), { ok: false, scope: 'NUMBER', limit: 3, retryAfterSeconds: 3300 }));
  it('a browser callback (no number) counts only against its client', () => {
    const recent = [1, 2, 3, 4].map((i) => booking(-i * 60, null));
    assert.deepEqual(checkCallbackRate(recent, booking(0, null)), { ok: true });
    assert.deepEqual(checkCallbackRate([...recent, booking(-1, null)], booking(0, null)), { ok: false, scope: 'ADDRESS', limit: 5, retryAfterSeconds: 3600 - 240 });
  });
  it('bookings after the request\'s instant are not in its window', () => assert.deepEqual(checkCallbackRate([booking(10), booking(20), booking(30)], booking(0)), { ok: true }));
});

describe('callback rate limit: properties', () => {
  // A stream of requests from a few clients to a few numbers; what is accepted becomes a booking.
  // Bursts (gaps up to 5 minutes) and lulls (up to an hour), so that both limits are reached and released often.
  const arbRequests = fc.array(
    fc.record({
      gap: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 300 }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 3600 }), weight: 1 }),
      number: fc.constantFrom('+33600000001', '+33600000002', '+33600000003', null),
      client: fc.constantFrom('a', 'b'),
    }),
    { minLength: 5, maxLength: 120, size: 'large' },
  );
  const replay = (requests: Array<{ gap: number; number: string | null; client: string }>) => {
    let now = 0;
    const accepted: BookingRecord[] = [];
    const refused: Array<{ request: BookingRecord; scope: 'NUMBER' | 'ADDRESS'; retryAfterSeconds: number; recent: BookingRecord[] }> = [];
    for (const r of requests) {
      now += r.gap;
      const request = { number: r.number, clientKey: r.client, at: t(now) };
      const decision = checkCallbackRate(accepted, request);
      if (decision.ok) accepted.push(request);
      else refused.push({ request, scope: decision.scope, retryAfterSeconds: decision.retryAfterSeconds, recent: [...accepted] });
    }
    return { accepted, refused };
  };
  const inHourBefore = (list: readonly BookingRecord[], at: string, same: (b: BookingRecord) => boolean) =>
    list.filter((b) => same(b) && Date.parse(b.at) > Date.parse(at) - CALLBACK_RATE_LIMITS.windowMs && Date.parse(b.at) <= Date.parse(at)).length;

  it('the generated streams reach both limits (so that the properties are not vacuous)', () => {
    const scopes = fc.sample(arbRequests, { numRuns: 50, seed: 25 }).flatMap((r) => replay(r).refused.map((x) => x.scope));
    assert.ok(scopes.filter((s) => s === 'NUMBER').length >= 20 && scopes.filter((s) => s === 'ADDRESS').length >= 20);
  });
  it(`sound: in no hour are more than ${CALLBACK_RATE_LIMITS.perNumber} callbacks booked to one number, nor ${CALLBACK_RATE_LIMITS.perAddress} from one client`, () =>
    fc.assert(
      fc.property(arbRequests, (requests) => {
        const { accepted } = replay(requests);
        for (const b of accepted) {
          if (b.number !== null) assert.ok(inHourBefore(accepted, b.at, (x) => x.number === b.number) <= CALLBACK_RATE_LIMITS.perNumber);
          assert.ok(inHourBefore(accepted, b.at, (x) => x.clientKey === b.clientKey) <= CALLBACK_RATE_LIMITS.perAddress);
        }
      }),
    ));
  it('not over-eager: a refusal names a limit that its hour really reached, and the same request passes that limit once retryAfterSeconds have passed', () =>
    fc.assert(
      fc.property(arbRequests, (requests) => {
        for (const { request, scope, retryAfterSeconds, recent } of replay(requests).refused) {
          const same = scope === 'NUMBER' ? (x: BookingRecord) => x.number === request.number : (x: BookingRecord) => x.clientKey === request.clientKey;
          const limit = scope === 'NUMBER' ? CALLBACK_RATE_LIMITS.perNumber : CALLBACK_RATE_LIMITS.perAddress;
          assert.ok(inHourBefore(recent, request.at, same) >= limit);
          const later = new Date(Date.parse(request.at) + retryAfterSeconds * 1000).toISOString();
          assert.ok(inHourBefore(recent, later, same) < limit, `still ${limit} in the hour ${retryAfterSeconds} s later`);
          const earlier = new Date(Date.parse(request.at) + (retryAfterSeconds - 1) * 1000).toISOString();
          assert.ok(inHourBefore(recent, earlier, same) >= limit, 'retryAfterSeconds is not the earliest');
        }
      }),
    ));
});
