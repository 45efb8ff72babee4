/**
 * The anti-abuse rule of callbacks (issue 25), as a pure function: at most CALLBACK_RATE_LIMITS
 * bookings per number and per client address in any sliding hour, given the recent bookings (a read
 * model of CallbackBooked, supplied on the command). Without it, a script could book callbacks to a
 * victim's phone from many pages and ring it all day: the per-number limit stops that whatever the
 * addresses, the per-address limit stops one client spraying many numbers.
 *
 * What counts is bookings (CallbackBooked: what can make a phone ring), not refused requests; the
 * GraphQL operation's own request limit bounds those. An IPv6 client is counted by its /64 (one
 * subscriber's allocation: a client can pick any address inside it), an IPv4-mapped IPv6 address as
 * the IPv4 address.
 *
 * How consistent: the bookings come from a read model, so two bookings decided at the same instant
 * on two instances may both pass (each callback is its own stream). The limit can be overshot by the
 * bookings in flight at once, never more; the number of attempts per booking is bounded separately
 * (the retry policy), so the calls a victim can receive stay bounded.
 */

/** Limits per sliding window: 3 bookings per number and 5 per client address, per hour. */
export const CALLBACK_RATE_LIMITS = { perNumber: 3, perAddress: 5, windowMs: 3_600_000 } as const;
export type CallbackRateLimits = { perNumber: number; perAddress: number; windowMs: number };

/** One booking as the limit sees it: the number called back (null: to the browser), the client's key, when. */
export interface BookingRecord {
  number: string | null;
  clientKey: string;
  at: string;
}

export type RateDecision = { ok: true } | { ok: false; scope: 'NUMBER' | 'ADDRESS'; limit: number; retryAfterSeconds: number };

const IPV4 = /^(\d{1,3})(\.\d{1,3}){3}$/;

/** The eight 16-bit groups of an IPv6 address (`::` expanded), or null when it is not one. */
const ipv6Groups = (address: string): string[] | null => {
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g)) ? groups.map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')) : null;
};

/**
 * The key a client address is counted under: an IPv4 address itself; an IPv6 address's /64 as
 * "a:b:c:d::/64"; an IPv4-mapped IPv6 address (::ffff:1.2.3.4) as its IPv4 address; anything else
 * (a proxy's label, a malformed header) as itself, lower-cased.
 */
export const clientKeyOf = (address: string): string => {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (IPV4.test(a)) return a;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (mapped) return mapped[1];
  const groups = ipv6Groups(a.replace(/%.*$/, ''));
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : a;
};

/**
 * Whether one more booking (`request`) is within the limits, given the `recent` bookings. A booking
 * counts when it is in the window ending at the request: (at − windowMs, at]. Refused: which limit,
 * and in how many seconds enough of the window's bookings will have aged out.
 */
export const checkCallbackRate = (recent: readonly BookingRecord[], request: BookingRecord, limits: CallbackRateLimits = CALLBACK_RATE_LIMITS): RateDecision => {
  const now = Date.parse(request.at);
  const inWindow = recent
    .map((b) => ({ b, t: Date.parse(b.at) }))
    .filter(({ t }) => t > now - limits.windowMs && t <= now)
    .sort((x, y) => x.t - y.t);
  const check = (scope: 'NUMBER' | 'ADDRESS', limit: number, same: (b: BookingRecord) => boolean): RateDecision | null => {
    const times = inWindow.filter(({ b }) => same(b)).map(({ t }) => t);
    if (times.length < limit) return null;
    // The oldest bookings must age out until limit − 1 remain: the (n − limit)-th oldest is the last to go.
    const freedAt = times[times.length - limit] + limits.windowMs;
    return { ok: false, scope, limit, retryAfterSeconds: Math.max(1, Math.ceil((freedAt - now) / 1000)) };
  };
  return (
    (request.number !== null ? check('NUMBER', limits.perNumber, (b) => b.number === request.number) : null) ??
    check('ADDRESS', limits.perAddress, (b) => b.clientKey === request.clientKey) ?? { ok: true }
  );
};
