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
