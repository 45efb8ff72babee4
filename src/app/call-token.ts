import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../domain/shared/errors';

/**
 * Call tokens: what the widget holds after a download. Signed (HMAC-SHA256), expiring, and bound to
 * one call of one merchant: `v1.<base64url(payload)>.<base64url(mac)>`.
 */
export interface CallTokenClaims {
  callId: string;
  merchantId: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export class CallTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlSeconds: number,
  ) {}

  issue(callId: string, merchantId: string, now: Date): string {
    const payload = Buffer.from(JSON.stringify({ c: callId, m: merchantId, e: Math.floor(now.getTime() / 1000) + this.ttlSeconds })).toString('base64url');
    return `v1.${payload}.${this.mac(payload)}`;
  }

  /** Throws UNAUTHENTICATED for a malformed, forged or expired token. */
  verify(token: string, now: Date): CallTokenClaims {
    const invalid = (why: string) => new DomainError('UNAUTHENTICATED', `invalid call token: ${why}`);
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') throw invalid('malformed');
    const [, payload, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid('bad signature');
    let claims: { c?: unknown; m?: unknown; e?: unknown } | null;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      throw invalid('malformed');
    }
    if (typeof claims !== 'object' || claims === null) throw invalid('malformed');
    if (typeof claims.c !== 'string' || typeof claims.m !== 'string' || typeof claims.e !== 'number') throw invalid('malformed');
    if (claims.e * 1000 <= now.getTime()) throw invalid('expired');
    return { callId: claims.c, merchantId: claims.m, exp: claims.e };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(`webdial-call-token.${payload}`).digest('base64url');
  }
}
