import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EventStore } from '../ports/event-store';
import type { ApiKeyIssued, Role } from '../domain/merchant/api-key';
import { apiKeyStreamId } from '../domain/shared/streams';
import { DomainError } from '../domain/shared/errors';

/** Who is calling. Widget operations run as `anonymous` and are scoped by their call token. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'key'; keyId: string; role: Role; merchantId: string | null; /** Set for an AGENT key only. */ callCenterId?: string | null };

export const ADMIN_KEY_ID = 'bootstrap-admin';
const MAX_CACHED_KEYS = 10_000;
/** `wd.` + a key id of at most 64 + `.` + a secret of at most 128. */
const MAX_KEY_CHARS = 200;

/** `wd.<keyId>.<secret>`: the id finds the key's stream, only the secret's SHA-256 is stored. */
export const generateApiKey = (keyId: string): { key: string; hash: string } => {
  const secret = randomBytes(24).toString('base64url');
  return { key: `wd.${keyId}.${secret}`, hash: sha256(secret) };
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Resolves API keys to principals. Issued keys live in their own streams (hashed); the bootstrap ADMIN
 * key comes from configuration. Lookups are cached for `cacheMs` (1 s); every instance also forgets a
 * key as soon as it reads its revocation (`forget`), so a revocation takes effect within a second.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(
    private readonly store: EventStore,
    private readonly adminKey: string,
    private readonly cacheMs = 1000,
  ) {}

  /** `authorization` is the raw header or connectionParams value ("Bearer <key>" or the key itself). */
  async authenticate(authorization: string | null | undefined, now = Date.now()): Promise<Principal> {
    if (!authorization) return { kind: 'anonymous' };
    const key = authorization.replace(/^Bearer\s+/i, '').trim();
    if (sameText(key, this.adminKey)) return { kind: 'key', keyId: ADMIN_KEY_ID, role: 'ADMIN', merchantId: null };
    const cached = this.cache.get(key);
    const principal = cached && cached.until > now ? cached.principal : await this.lookup(key);
    // Bounded by count and key length: a client sending ever new made-up keys cannot grow it.
    if ((!cached || cached.until <= now) && key.length <= MAX_KEY_CHARS) {
      this.cache.delete(key);
      if (this.cache.size >= MAX_CACHED_KEYS) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { principal, until: now + this.cacheMs });
    }
    if (!principal) throw new DomainError('UNAUTHENTICATED', 'unknown or revoked API key');
    return principal;
  }

  invalidate(): void {
    this.cache.clear();
  }

  /** Forgets what is cached of one key (its revocation was read from the store): its next use is looked up. */
  forget(keyId: string): void {
    for (const [key, entry] of this.cache) if (entry.principal?.kind === 'key' && entry.principal.keyId === keyId) this.cache.delete(key);
  }

  private async lookup(key: string): Promise<Principal | null> {
    const m = /^wd\.([A-Za-z0-9_-]{4,64})\.([A-Za-z0-9_-]{16,128})$/.exec(key);
    if (!m) return null;
    const events = await this.store.readStream(apiKeyStreamId(m[1]));
    const issued = events.find((e) => e.type === 'ApiKeyIssued')?.data as ApiKeyIssued['data'] | undefined;
    if (!issued || events.some((e) => e.type === 'ApiKeyRevoked')) return null;
    if (!sameText(sha256(m[2]), issued.keyHash)) return null;
    return { kind: 'key', keyId: issued.keyId, role: issued.role, merchantId: issued.merchantId, callCenterId: issued.callCenterId };
  }
}

/**
 * The one authorization rule: ADMIN may do anything; any other key needs one of `roles` and, where
 * the operation names a merchant, must be bound to that merchant.
 */
export const authorize = (principal: Principal, roles: readonly Role[], merchantId?: string | null): void => {
  if (principal.kind === 'anonymous') throw new DomainError('UNAUTHENTICATED', 'an API key is required (Authorization: Bearer <key>)');
  if (principal.role === 'ADMIN') return;
  if (!roles.includes(principal.role)) throw new DomainError('FORBIDDEN', `role ${principal.role} may not do this`);
  if (merchantId !== undefined && merchantId !== null && principal.merchantId !== merchantId)
    throw new DomainError('FORBIDDEN', 'this key is bound to another merchant');
};

/** The call center an AGENT key is bound to; null for every other principal. */
export const centerScope = (principal: Principal): string | null =>
  principal.kind === 'key' && principal.role === 'AGENT' ? principal.callCenterId ?? null : null;

/** The merchant a non-admin key is bound to; null for ADMIN (sees all). */
export const merchantScope = (principal: Principal): string | null =>
  principal.kind === 'key' && principal.role !== 'ADMIN' ? principal.merchantId : null;
