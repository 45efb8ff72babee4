/**
 * Which numbers webdial may call back (issue 25). A callback dials a number a browser typed, so the
 * rules are the ones that keep it from being turned against a third party or the merchant's bill:
 *
 *   CALLBACK_NUMBER_INVALID: not E.164 (a plus sign, then 2 to 15 digits, the first not zero);
 *   CALLBACK_PREMIUM_RATE: in a premium-rate or high-cost range (PREMIUM_RATE_PREFIXES): calling it
 *     would pay its owner, the classic revenue-share fraud;
 *   CALLBACK_COUNTRY_NOT_ALLOWED: outside the merchant's allowed prefixes (country calling codes such
 *     as "+33", or narrower ones such as "+1416"); null allows every country.
 * All three are BAD_USER_INPUT with the reason in `details.reason`, checked in that order.
 *
 * Prefixes rather than ISO country codes: a calling code is what the number itself says, and some
 * codes span countries (+1 is the US, Canada and the Caribbean), which a prefix list states exactly.
 */
import { badInput } from '../shared/errors';
import { E164 } from '../shared/validation';

/**
 * Premium-rate and high-cost ranges, as E.164 prefixes. Not exhaustive: the common European and North
 * American ranges, the international premium-rate code and the international networks (satellite),
 * which fraud rings use because each call pays them. Data: an operator's list can be added here.
 */
export const PREMIUM_RATE_PREFIXES: readonly string[] = [
  '+1900', '+1976', // NANP premium (900, 976)
  '+3381', '+3382', '+3389', // France: 081x/082x/089x value-added services
  '+449', // United Kingdom: 09 premium rate
  '+49900', '+49137', // Germany: 0900 premium, 0137 mass calling
  '+43900', '+43901', '+43930', '+43931', '+43939', // Austria
  '+41900', '+41901', '+41906', // Switzerland
  '+3290', // Belgium: 090x
  '+31900', '+31906', '+31909', // Netherlands
  '+34803', '+34806', '+34807', '+34905', // Spain
  '+39892', '+39899', // Italy
  '+61190', // Australia
  '+979', // International Premium Rate Service
  '+870', '+881', '+882', '+883', // Inmarsat, global satellite, international networks
];

/** A prefix list entry: "+" and 1 to 15 digits, the first not zero. */
export const E164_PREFIX = /^\+[1-9]\d{0,14}$/;

export const isPremiumRate = (number: string): boolean => PREMIUM_RATE_PREFIXES.some((p) => number.startsWith(p));

/** The number as given when webdial may call it back; BAD_USER_INPUT with the reason otherwise. */
export const assertCallbackNumber = (number: unknown, allowedPrefixes: readonly string[] | null): string => {
  if (typeof number !== 'string' || !E164.test(number))
    throw badInput(`the callback number must be an E.164 number like +33123456789, got "${String(number).slice(0, 40)}"`, { field: 'number', reason: 'CALLBACK_NUMBER_INVALID' });
  if (isPremiumRate(number)) throw badInput(`${number} is a premium-rate or high-cost number: webdial does not call it back`, { field: 'number', reason: 'CALLBACK_PREMIUM_RATE' });
  if (allowedPrefixes !== null && !allowedPrefixes.some((p) => number.startsWith(p)))
    throw badInput(`${number} is outside the countries this merchant calls back (${allowedPrefixes.join(', ') || 'none'})`, { field: 'number', reason: 'CALLBACK_COUNTRY_NOT_ALLOWED' });
  return number;
};

/** A merchant's list of callback prefixes: at most 50, each "+" and 1 to 6 digits (the first not zero). */
export const CALLBACK_PREFIX_BOUNDS = { maxCount: 50, pattern: /^\+[1-9]\d{0,5}$/ } as const;

/** The prefixes as given when they are a valid list; BAD_USER_INPUT (CALLBACK_PREFIXES_INVALID) otherwise. Duplicates are dropped, order kept. */
export const assertCallbackPrefixes = (prefixes: unknown): string[] => {
  const invalid = (why: string) => badInput(`callback prefixes: ${why}`, { field: 'prefixes', reason: 'CALLBACK_PREFIXES_INVALID' });
  if (!Array.isArray(prefixes)) throw invalid('a list of prefixes like "+33" or "+1416"');
  if (prefixes.length > CALLBACK_PREFIX_BOUNDS.maxCount) throw invalid(`at most ${CALLBACK_PREFIX_BOUNDS.maxCount}, got ${prefixes.length}`);
  for (const p of prefixes) if (typeof p !== 'string' || !CALLBACK_PREFIX_BOUNDS.pattern.test(p)) throw invalid(`each is "+" and 1 to 6 digits, the first not zero; got "${String(p).slice(0, 20)}"`);
  return [...new Set(prefixes as string[])];
};

/**
 * The ITU calling codes of two digits (the others are one digit, 1 and 7, or three): enough to name a
 * number's country code from the number alone (E.164's codes are prefix-free).
 */
const TWO_DIGIT_CODES = new Set(['20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49', '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84', '86', '90', '91', '92', '93', '94', '95', '98']);

/** The country calling code of an E.164 number, with its plus ("+33" for +33123456789); null for a malformed one. */
export const callingCodeOf = (number: string): string | null => {
  if (!E164.test(number)) return null;
  const d = number.slice(1);
  if (d[0] === '1' || d[0] === '7') return `+${d[0]}`;
  return TWO_DIGIT_CODES.has(d.slice(0, 2)) ? `+${d.slice(0, 2)}` : `+${d.slice(0, 3)}`;
};

/**
 * The prefixes a merchant calls back: the ones it set, or, unset (null), the calling codes of its call
 * centers' numbers (a shop whose centers are in France and Belgium calls back +33 and +32): a safe
 * default against calls abroad that nobody asked for.
 */
export const effectiveCallbackPrefixes = (set: readonly string[] | null, centerNumbers: readonly string[]): string[] =>
  set !== null ? [...set] : [...new Set(centerNumbers.map(callingCodeOf).filter((c): c is string => c !== null))].sort();
