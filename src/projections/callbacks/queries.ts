import type { BookingRecord } from '../../domain/callback/rate-limit';
import { badInput } from '../../domain/shared/errors';
import { strOrNull, type Sql } from '../../adapters/sql/db';
import { toCallbackView as toView, type CallbackListView, type CallbackStatus } from './view';

export type { CallbackListView };

export interface CallbackPage {
  items: CallbackListView[];
  /** Give it as `after` for the next page; null: this was the last. */
  endCursor: string | null;
}

/** The page cursor: the last row's booking instant and id (the list's order), opaque to clients. */
const cursorOf = (v: CallbackListView): string => Buffer.from(`${v.bookedAt}|${v.id}`).toString('base64url');
const parseCursor = (after: string): [string, string] => {
  const text = Buffer.from(after, 'base64url').toString();
  const i = text.indexOf('|');
  if (after.length > 200 || i < 1) throw badInput('after is a cursor from an earlier page', { field: 'after' });
  return [text.slice(0, i), text.slice(i + 1)];
};

export const CALLBACK_STATUSES: readonly CallbackStatus[] = ['PENDING', 'ATTEMPTING', 'DONE', 'FAILED', 'CANCELLED'];

export const callbackQueries = (db: () => Sql) => ({
  /** A merchant's callbacks, newest booking first; `status` narrows them; `first` 1…100. */
  async callbacks(merchantId: string, filter: { status?: CallbackStatus | null; first?: number; after?: string | null } = {}): Promise<CallbackPage> {
    const sql = db();
    const first = filter.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > 100) throw badInput('first is 1 to 100', { field: 'first' });
    const where = ['merchant_id = ?'];
    const args: unknown[] = [merchantId];
    if (filter.status) {
      where.push('status = ?');
      args.push(filter.status);
    }
    if (filter.after) {
      const [at, id] = parseCursor(filter.after);
      where.push('(booked_at < ? or (booked_at = ? and id < ?))');
      args.push(at, at, id);
    }
    const rows = await sql.all(`select * from ${sql.table('cb_callbacks')} where ${where.join(' and ')} order by booked_at desc, id desc limit ?`, [...args, first + 1]);
    const items = rows.slice(0, first).map(toView);
    return { items, endCursor: rows.length > first ? cursorOf(items[items.length - 1]) : null };
  },

  /** One callback of the merchant (null: none, or another merchant's). */
  async callback(callbackId: string, merchantId: string): Promise<CallbackListView | null> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('cb_callbacks')} where id = ? and merchant_id = ?`, [callbackId, merchantId]);
    return rows.length ? toView(rows[0]) : null;
  },

  /**
   * The bookings since `since` of this number (null: none asked) or this client key, for the hourly
   * limit (../../domain/callback/rate-limit.ts): whatever their merchant, so that a victim's phone is
   * protected across shops.
   */
  async recentBookings(number: string | null, clientKey: string, since: string): Promise<BookingRecord[]> {
    const sql = db();
    const t = sql.table('cb_callbacks');
    const rows = await sql.all(
      `select number, client_key, booked_at from ${t} where client_key = ? and booked_at > ?` +
        (number === null ? '' : ` union select number, client_key, booked_at from ${t} where number = ? and booked_at > ?`),
      number === null ? [clientKey, since] : [clientKey, since, number, since],
    );
    return rows.map((r) => ({ number: strOrNull(r.number), clientKey: String(r.client_key), at: String(r.booked_at) }));
  },

  /** The PENDING callbacks whose next try is due by `at` (oldest first, at most `limit`): the scheduler's work. */
  async dueCallbacks(at: string, limit = 50): Promise<CallbackListView[]> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('cb_callbacks')} where status = 'PENDING' and next_attempt_at <= ? order by next_attempt_at limit ?`, [at, limit]);
    return rows.map(toView);
  },

  /** The ATTEMPTING callbacks to a browser last updated at or before `before` (oldest first, at most `limit`): rings that may be over. */
  async ringingBrowserCallbacks(before: string, limit = 50): Promise<CallbackListView[]> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('cb_callbacks')} where status = 'ATTEMPTING' and target_kind = 'BROWSER' and updated_at <= ? order by updated_at limit ?`, [before, limit]);
    return rows.map(toView);
  },
});
