import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com), version 1 signatures:
 *   signed content = `${webhook-id}.${webhook-timestamp}.${body}`
 *   webhook-signature = "v1,<base64 HMAC-SHA256 of the signed content>", several separated by spaces
 * The key is the base64 text after the `whsec_` prefix of the secret.
 */
export const SECRET_PREFIX = 'whsec_';

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = (): string => `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;

const keyOf = (secret: string): Buffer => {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
};

/** The `webhook-signature` header value for one delivery attempt, one `v1,` entry per secret. */
export const signWebhook = (secrets: readonly string[], id: string, timestampSeconds: number, body: string): string =>
  secrets.map((s) => `v1,${createHmac('sha256', keyOf(s)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`).join(' ');

/**
 * What a receiver does (docs/webhooks.md shows the same in a few lines): the timestamp within
 * `toleranceSeconds` of now, and one of the `v1,` signatures equal, in constant time, to the HMAC
 * of the exact body bytes received.
 */
export const verifyWebhook = (
  secret: string,
  headers: { 'webhook-id'?: string; 'webhook-timestamp'?: string; 'webhook-signature'?: string },
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): boolean => {
  const id = headers['webhook-id'];
  const ts = Number(headers['webhook-timestamp']);
  const header = headers['webhook-signature'];
  if (!id || !header || !Number.isInteger(ts) || Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook([secret], id, ts, body).slice(3), 'base64');
  return header.split(' ').some((entry) => {
    const [version, sig] = entry.split(',');
    if (version !== 'v1' || !sig) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
};
