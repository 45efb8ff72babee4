import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../domain/shared/errors';

/** What a ticket lets its holder download: one merchant's charges of one period. */
export interface ExportClaims {
  merchantId: string;
  from: string;
  to: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

/**
 * Where used tickets are remembered: true the first time a nonce is used, false ever after. The
 * server keeps them in the read database (ReadModels.useOnce), shared by every instance; an entry
 * may be forgotten once `now` passes its `expiresAt` (ms), when the ticket is refused as expired.
 */
export interface UsedTickets {
  useOnce(nonce: string, expiresAt: number, now: number): Promise<boolean>;
}

/** One process's memory of used tickets (tests; a single process). */
export const usedInMemory = (): UsedTickets => {
  const used = new Map<string, number>();
  return {
    useOnce: (nonce, expiresAt, now) => {
      for (const [n, until] of used) if (until <= now) used.delete(n);
      if (used.has(nonce)) return Promise.resolve(false);
      used.set(nonce, expiresAt);
      return Promise.resolve(true);
    },
  };
};

/** The longest period one CSV export covers (the page says so before asking). */
export const MAX_EXPORT_DAYS = 366;

/**
 * Download tickets for the dashboard's CSV export. A browser download cannot carry an
 * Authorization header, and an API key must never appear in a URL, so the dashboard asks for a
 * ticket with its key (GraphQL) and downloads with the ticket: signed with the server's token secret
 * (any instance can check it), valid for `ttlMs`, for one merchant and period, and good for one
 * download in the whole cluster (`v1.<payload>.<mac>`; the payload holds a random nonce, marked used
 * where every instance sees it: {@link UsedTickets}).
 */
export class ExportTickets {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs = 60_000,
    private readonly used: UsedTickets = usedInMemory(),
  ) {}

  /** BAD_USER_INPUT for a period that is not a valid range of at most MAX_EXPORT_DAYS. */
  issue(merchantId: string, from: string, to: string, now: Date): { ticket: string; expiresAt: Date } {
    const [f, t] = [Date.parse(from), Date.parse(to)];
    if (!Number.isFinite(f) || !Number.isFinite(t)) throw new DomainError('BAD_USER_INPUT', 'from and to must be ISO-8601 instants', { field: 'from' });
    if (!(f < t)) throw new DomainError('BAD_USER_INPUT', 'from must be before to', { field: 'from' });
    const days = (t - f) / 86_400_000;
    if (days > MAX_EXPORT_DAYS)
      throw new DomainError('BAD_USER_INPUT', `a CSV export covers at most ${MAX_EXPORT_DAYS} days; this period has ${Math.ceil(days)}: export it in parts`, {
        field: 'to',
        maxDays: MAX_EXPORT_DAYS,
      });
    const expiresAt = now.getTime() + this.ttlMs;
    const payload = Buffer.from(
      JSON.stringify({ m: merchantId, f: new Date(f).toISOString(), t: new Date(t).toISOString(), e: expiresAt, n: randomBytes(12).toString('base64url') }),
    ).toString('base64url');
    return { ticket: `v1.${payload}.${this.mac(payload)}`, expiresAt: new Date(expiresAt) };
  }

  /** Checks and uses up a ticket. UNAUTHENTICATED for a forged, malformed, expired or used one. */
  async redeem(ticket: string, now: Date): Promise<ExportClaims> {
    const invalid = (why: string) => new DomainError('UNAUTHENTICATED', `invalid export ticket: ${why}; ask the dashboard for a new export`);
    const parts = ticket.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') throw invalid('malformed');
    const [, payload, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid('bad signature');
    const c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { m: string; f: string; t: string; e: number; n: string };
    if (c.e <= now.getTime()) throw invalid('expired');
    if (!(await this.used.useOnce(c.n, c.e, now.getTime()))) throw invalid('already used');
    return { merchantId: c.m, from: c.f, to: c.t, expiresAt: c.e };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(`webdial-export-ticket.${payload}`).digest('base64url');
  }
}
