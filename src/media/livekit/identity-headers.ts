import type { DialRequest } from '../../ports/media';

/**
 * The SIP X-headers every INVITE webdial places carries (issue 23), so that a SIP call center
 * learns who is calling from the INVITE itself. The names are a public contract (docs/livekit.md,
 * docs/production.md): never rename one.
 */
export const IDENTITY_HEADERS = {
  callId: 'X-Webdial-Call-Id',
  merchant: 'X-Webdial-Merchant',
  link: 'X-Webdial-Link',
  customer: 'X-Webdial-Customer',
  session: 'X-Webdial-Session',
} as const;

/**
 * The longest header value sent. The shop's ids may be 200 characters (the download policy);
 * percent-encoded they could triple, and an INVITE over UDP should stay under the path MTU
 * (RFC 3261 §18.1.1: 1300 bytes, SDP included). A longer id is left out (the call id is always
 * there, and the CRM finds the rest by it).
 */
export const IDENTITY_HEADER_MAX = 128;

/**
 * A header value as sent: percent-encoded (RFC 3986 unreserved characters kept), so that nothing
 * a shopper's page sent can break the SIP message (CR, LF, non-ASCII, quotes); null when too long
 * or not text.
 */
export const headerValue = (value: string): string | null => {
  let encoded: string;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    return null; // a lone surrogate: not text
  }
  encoded = encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return encoded.length > 0 && encoded.length <= IDENTITY_HEADER_MAX ? encoded : null;
};

/** The X-Webdial-* headers of one dial: only those with a value (no empty header is sent). */
export const identityHeaders = (r: Pick<DialRequest, 'callId' | 'merchantId' | 'identity'>): Record<string, string> => {
  const values: Array<[string, string | null | undefined]> = [
    [IDENTITY_HEADERS.callId, r.callId],
    [IDENTITY_HEADERS.merchant, r.merchantId],
    [IDENTITY_HEADERS.link, r.identity?.linkId],
    [IDENTITY_HEADERS.customer, r.identity?.customerId],
    [IDENTITY_HEADERS.session, r.identity?.sessionId],
  ];
  const out: Record<string, string> = {};
  for (const [name, raw] of values) {
    const v = raw ? headerValue(raw) : null;
    if (v !== null) out[name] = v;
  }
  return out;
};
