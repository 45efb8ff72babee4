/**
 * What a widget may record at download (issue 2 §1, ARCHITECTURE §2): the merchant's facts arrive on
 * the RecordDownload command (`policy`), like the DTMF rules on RecognizeDtmf, and the call decider
 * decides with them, purely. In this order:
 *   - the link is one of the merchant's (NOT_FOUND);
 *   - the page is an absolute http(s) URL (BAD_USER_INPUT);
 *   - the page's origin, and the browser's Origin header when there is one (a page cannot forge it,
 *     so a page allowed for another merchant cannot place calls for this one), are among the
 *     merchant's allowed origins, when it has a list (FORBIDDEN);
 *   - free-text fields are bounded, well-formed (no lone surrogate) and hold no control characters
 *     (PostgreSQL cannot even store NUL);
 *   - the merchant's free-form context is bounded in depth and size and holds no NUL and no lone
 *     surrogate (BAD_USER_INPUT).
 */
import { badInput, DomainError, notFound } from '../shared/errors';
import { assertText, LONE_SURROGATE, originOf } from '../shared/validation';

export interface DownloadPolicy {
  /** The merchant's link ids. */
  links: readonly string[];
  /** Null: the button may be on any origin. */
  allowedOrigins: readonly string[] | null;
  /** The browser's Origin header, or null (not a browser, or a same-origin request that sends none). */
  requestOrigin: string | null;
  /** The context's JSON size limit. */
  maxContextBytes: number;
}

/** What the widget sends that the policy bounds. */
export interface DownloadFields {
  linkId: string;
  pageUrl: string;
  referrer: string | null;
  customerId: string | null;
  sessionId: string | null;
  callerRegion: string | null;
  context: unknown;
}

export const MAX_CONTEXT_DEPTH = 16;

const assertPlainText = (value: string | null, field: string, max: number): void => {
  if (value !== null) assertText(value, field, { max });
};

/** A context string or key: no NUL (PostgreSQL cannot store it) and no lone surrogate (jsonb refuses it). */
const assertContextText = (s: string): void => {
  if (s.includes('\u0000')) throw badInput('context must not contain NUL characters', { field: 'context' });
  if (LONE_SURROGATE.test(s)) throw badInput('context must be well-formed text (it holds a lone UTF-16 surrogate)', { field: 'context' });
};

/** Walked iteratively: a deeply nested value must not overflow the stack before it is refused. */
const assertContext = (context: unknown, maxBytes: number): void => {
  if (context === null || context === undefined) return;
  const stack: Array<{ v: unknown; depth: number }> = [{ v: context, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (depth > MAX_CONTEXT_DEPTH) throw badInput(`context must be nested at most ${MAX_CONTEXT_DEPTH} levels deep`, { field: 'context' });
    if (typeof v === 'string') assertContextText(v);
    if (v !== null && typeof v === 'object')
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        assertContextText(k);
        stack.push({ v: child, depth: depth + 1 });
      }
  }
  if (JSON.stringify(context).length > maxBytes) throw badInput(`context must be at most ${maxBytes} bytes of JSON`, { field: 'context' });
};

/** Throws the first rule the download breaks; returns when it may be recorded. */
export const assertDownloadAllowed = (d: DownloadFields, policy: DownloadPolicy): void => {
  if (!policy.links.includes(d.linkId)) throw notFound('link', d.linkId);
  const origin = originOf(d.pageUrl);
  if (!origin) throw badInput('pageUrl must be an absolute http(s) URL', { field: 'pageUrl' });
  for (const o of policy.requestOrigin ? [origin, policy.requestOrigin] : [origin])
    if (policy.allowedOrigins && !policy.allowedOrigins.includes(o)) throw new DomainError('FORBIDDEN', `downloads from ${o} are not allowed for this merchant`);
  for (const [field, value, max] of [
    ['pageUrl', d.pageUrl, 2000],
    ['referrer', d.referrer, 2000],
    ['customerId', d.customerId, 200],
    ['sessionId', d.sessionId, 200],
    ['callerRegion', d.callerRegion, 64],
  ] as const)
    assertPlainText(value, field, max);
  assertContext(d.context, policy.maxContextBytes);
};
