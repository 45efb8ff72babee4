import { badInput } from '../../domain/shared/errors';
import { isoInput, jsonOrNull, num, type Sql } from '../../adapters/sql/db';
import { toCall, type CallView } from './view';

export interface CallFilter {
  merchantId?: string | null;
  state?: string | null;
  linkId?: string | null;
  callCenterId?: string | null;
  /** Calls downloaded at or after this instant. */
  from?: string | null;
  /** Calls downloaded strictly before this instant. */
  to?: string | null;
}

export interface CallCenterStatsRow {
  callCenterId: string;
  calls: number;
  answered: number;
  talkSeconds: number;
}

export interface CallPage {
  rows: CallView[];
  /** Cursor of each row, for CallEdge.cursor. */
  cursors: string[];
  endCursor: string | null;
  hasNextPage: boolean;
}

export interface TimelineEntry {
  eventId: string;
  callId: string;
  merchantId: string;
  type: string;
  position: string;
  occurredAt: string;
  data: unknown;
}

const CALL_COLUMNS = `id, merchant_id, direction, did, callback_media, link_id, state, call_center_id, destination, gateway_id, port, ani, downloaded_at,
  initiated_at, ringing_at, answered_at, terminated_at, termination_cause, terminated_by, talk_seconds, dtmf`;

/** Opaque cursor: base64url of [downloadedAt, id], the keyset of the list's order. */
export const encodeCursor = (downloadedAt: string, id: string): string =>
  Buffer.from(JSON.stringify([downloadedAt, id])).toString('base64url');

const decodeCursor = (cursor: string): [string, string] => {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // fall through to the error below
  }
  throw badInput('after is not a cursor this API returned', { field: 'after' });
};

const scoped = (merchantId: string | null | undefined) => (merchantId ? ` and merchant_id = ?` : '');
const scopeParams = (merchantId: string | null | undefined) => (merchantId ? [merchantId] : []);

export const callHistoryQueries = (db: () => Sql) => ({
  /** One call, or null when absent or (with `merchantId`) another merchant's. */
  async getCall(callId: string, merchantId?: string | null): Promise<CallView | null> {
    const sql = db();
    const rows = await sql.all(`select ${CALL_COLUMNS} from ${sql.table('ch_calls')} where id = ?${scoped(merchantId)}`, [
      callId,
      ...scopeParams(merchantId),
    ]);
    return rows.length ? toCall(rows[0]) : null;
  },

  /** Many calls in ONE query, in the order of `callIds`; absent ones are left out. */
  async getCalls(callIds: readonly string[], merchantId?: string | null): Promise<CallView[]> {
    if (callIds.length === 0) return [];
    const sql = db();
    const marks = callIds.map(() => '?').join(', ');
    const rows = await sql.all(
      `select ${CALL_COLUMNS} from ${sql.table('ch_calls')} where id in (${marks})${scoped(merchantId)}`,
      [...callIds, ...scopeParams(merchantId)],
    );
    const byId = new Map(rows.map((r) => [String(r.id), toCall(r)]));
    return callIds.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  },

  /** Keyset pagination in the stable order downloadedAt desc, then id asc. */
  async listCalls(filter: CallFilter, first: number, after?: string | null): Promise<CallPage> {
    if (!Number.isInteger(first) || first < 0 || first > 500) throw badInput('first must be an integer from 0 to 500', { field: 'first' });
    const sql = db();
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (filter.merchantId) add('merchant_id = ?', filter.merchantId);
    if (filter.state) add('state = ?', filter.state);
    if (filter.linkId) add('link_id = ?', filter.linkId);
    if (filter.callCenterId) add('call_center_id = ?', filter.callCenterId);
    if (filter.from) add('downloaded_at >= ?', isoInput(filter.from, 'from'));
    if (filter.to) add('downloaded_at < ?', isoInput(filter.to, 'to'));
    if (after) {
      const [at, id] = decodeCursor(after);
      add('(downloaded_at < ? or (downloaded_at = ? and id > ?))', at, at, id);
    }
    const rows = await sql.all(
      `select ${CALL_COLUMNS} from ${sql.table('ch_calls')}
       ${where.length ? `where ${where.join(' and ')}` : ''}
       order by downloaded_at desc, id asc limit ?`,
      [...params, first + 1],
    );
    const page = rows.slice(0, first).map(toCall);
    const cursors = page.map((c) => encodeCursor(c.downloadedAt, c.id));
    return { rows: page, cursors, endCursor: cursors.at(-1) ?? null, hasNextPage: rows.length > first };
  },

  /**
   * Calls, answered calls and talk time per call center, for calls downloaded in [from, to) and
   * routed to a center (calls that found no center have none). Sorted by center id.
   */
  async callCenterStats(merchantId: string, from: string, to: string): Promise<CallCenterStatsRow[]> {
    const [f, t] = [isoInput(from, 'from'), isoInput(to, 'to')];
    if (!(f < t)) throw badInput('from must be before to', { field: 'from' });
    const sql = db();
    const rows = await sql.all(
      `select call_center_id, count(*) as calls, sum(case when answered_at is null then 0 else 1 end) as answered,
         coalesce(sum(talk_seconds), 0) as talk
       from ${sql.table('ch_calls')} where merchant_id = ? and downloaded_at >= ? and downloaded_at < ? and call_center_id is not null
       group by call_center_id order by call_center_id`,
      [merchantId, f, t],
    );
    return rows.map((r) => ({ callCenterId: String(r.call_center_id), calls: num(r.calls), answered: num(r.answered), talkSeconds: num(r.talk) }));
  },

  /**
   * A customer's other calls with the merchant, newest first (the screen pop's "earlier calls"),
   * optionally only those of one call center. Reads crm-context's customer index.
   */
  async customerCalls(merchantId: string, customerId: string, exceptCallId: string, first: number, callCenterId: string | null = null): Promise<CallView[]> {
    if (!Number.isInteger(first) || first < 1 || first > 50) throw badInput('first must be an integer from 1 to 50', { field: 'first' });
    const sql = db();
    const columns = CALL_COLUMNS.split(',').map((c) => `c.${c.trim()}`).join(', ');
    const rows = await sql.all(
      `select ${columns} from ${sql.table('crm_contexts')} x join ${sql.table('ch_calls')} c on c.id = x.call_id
       where x.merchant_id = ? and x.customer_id = ? and x.call_id <> ?${callCenterId ? ' and c.call_center_id = ?' : ''}
       order by c.downloaded_at desc, c.id limit ?`,
      [merchantId, customerId, exceptCallId, ...(callCenterId ? [callCenterId] : []), first],
    );
    return rows.map(toCall);
  },

  /**
   * The other calls that came from a caller's number to the merchant (INBOUND calls, whose ANI is the
   * caller's), newest first: the screen pop's "earlier calls" of a phone call. Reads ch_calls' caller
   * index (migration 12).
   */
  async callerCalls(merchantId: string, ani: string, exceptCallId: string, first: number, callCenterId: string | null = null): Promise<CallView[]> {
    if (!Number.isInteger(first) || first < 1 || first > 50) throw badInput('first must be an integer from 1 to 50', { field: 'first' });
    const sql = db();
    const rows = await sql.all(
      `select ${CALL_COLUMNS} from ${sql.table('ch_calls')}
       where merchant_id = ? and ani = ? and direction = 'INBOUND' and id <> ?${callCenterId ? ' and call_center_id = ?' : ''}
       order by downloaded_at desc, id limit ?`,
      [merchantId, ani, exceptCallId, ...(callCenterId ? [callCenterId] : []), first],
    );
    return rows.map(toCall);
  },

  /**
   * Where a replay of the call events that occurred from `from` on may start reading the store
   * (strictly after the returned position): the CallDownloaded of the latest call downloaded more
   * than `marginMs` before `from`. Events stored before it occurred before `from` as long as domain
   * time and the store's order disagree by less than the margin (see app/replay.ts). Null: from the
   * beginning (no such call, or the read side has none yet). Two index seeks.
   */
  async replayStart(from: string, marginMs: number): Promise<string | null> {
    const before = new Date(Date.parse(isoInput(from, 'from')) - marginMs).toISOString();
    const sql = db();
    const rows = await sql.all(
      `select e.position from ${sql.table('ch_calls')} c join ${sql.table('ch_events')} e on e.call_id = c.id and e.stream_version = 1
       where c.downloaded_at < ? order by c.downloaded_at desc, c.id desc limit 1`,
      [before],
    );
    return rows.length ? String(rows[0].position) : null;
  },

  /**
   * The call's events in the store's order: its own stream's (ch_events) and its queues', transfers' and
   * callbacks' (ch_feed, issue 25); [] for an unknown (or, scoped, foreign) call. Positions are fixed-width
   * text, so their order is the store's.
   */
  async timeline(callId: string, merchantId?: string | null): Promise<TimelineEntry[]> {
    const sql = db();
    const columns = 'event_id, call_id, merchant_id, type, position, occurred_at, data';
    const rows = await sql.all(
      `select ${columns} from ${sql.table('ch_events')} where call_id = ?${scoped(merchantId)}
       union all
       select ${columns} from ${sql.table('ch_feed')} where call_id = ?${scoped(merchantId)}
       order by position`,
      [callId, ...scopeParams(merchantId), callId, ...scopeParams(merchantId)],
    );
    return rows.map((r) => ({
      eventId: String(r.event_id),
      callId: String(r.call_id),
      merchantId: String(r.merchant_id),
      type: String(r.type),
      position: String(r.position),
      occurredAt: String(r.occurred_at),
      data: jsonOrNull(r.data),
    }));
  },
});
