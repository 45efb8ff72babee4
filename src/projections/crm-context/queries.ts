import { isoInput, type Sql } from '../../adapters/sql/db';
import { sessionNumberOf } from '../../domain/call/identity';
import { strOrNull } from '../../adapters/sql/values';
import { toContext, type CallContextView } from './view';

export type { CallContextView } from './view';

const COLUMNS = 'x.call_id, x.merchant_id, x.direction, x.did, x.callback_media, x.link_id, x.customer_id, x.session_id, x.page_url, x.referrer, x.context, x.ani, x.call_center_id, x.state';

export const crmQueries = (db: () => Sql) => {
  /** Contexts of many calls in ONE query; absent (or, scoped, foreign) calls are left out. */
  const contextsForCalls = async (callIds: readonly string[], merchantId?: string | null): Promise<Map<string, CallContextView>> => {
    const out = new Map<string, CallContextView>();
    if (callIds.length === 0) return out;
    const sql = db();
    const rows = await sql.all(
      `select ${COLUMNS} from ${sql.table('crm_contexts')} x where x.call_id in (${callIds.map(() => '?').join(', ')})${merchantId ? ' and x.merchant_id = ?' : ''}`,
      [...callIds, ...(merchantId ? [merchantId] : [])],
    );
    for (const r of rows) out.set(String(r.call_id), toContext(r));
    return out;
  };
  return {
  contextsForCalls,

  /** The screen-pop payload of one call (= its CallContext). */
  async screenPop(callId: string, merchantId?: string | null): Promise<CallContextView | null> {
    const m = await contextsForCalls([callId], merchantId);
    return m.get(callId) ?? null;
  },

  /**
   * The call holding `ani`: now (`at` null: the live call) or at instant `at` (the call whose
   * [initiated, terminated) interval contains it). `merchantId` scopes the look-up (null = admin):
   * a merchant never learns about another merchant's call on a shared ANI.
   */
  async contextByAni(ani: string, at: Date | string | null, merchantId: string | null): Promise<CallContextView | null> {
    const sql = db();
    const params: unknown[] = [ani];
    let when: string;
    if (at === null) when = 'i.to_at is null';
    else {
      const t = isoInput(at, 'at');
      when = 'i.from_at <= ? and (i.to_at is null or i.to_at > ?)';
      params.push(t, t);
    }
    if (merchantId) params.push(merchantId);
    const rows = await sql.all(
      `select ${COLUMNS} from ${sql.table('crm_ani')} i join ${sql.table('crm_contexts')} x on x.call_id = i.call_id
       where i.ani = ? and ${when}${merchantId ? ' and i.merchant_id = ?' : ''}
       order by i.from_at desc limit 1`,
      params,
    );
    return rows.length ? toContext(rows[0]) : null;
  },

  /**
   * The call whose session number (src/domain/call/identity.ts: the numeric sessionId, else the
   * numeric customerId) is `number`: the one a center heard as DTMF after it answered (issue 23).
   * A live call first, then the newest initiated; `merchantId` scopes the look-up (null = admin).
   */
  async contextBySessionNumber(number: string, merchantId: string | null): Promise<CallContextView | null> {
    const sql = db();
    const scope = merchantId ? ' and x.merchant_id = ?' : '';
    const rows = await sql.all(
      `select ${COLUMNS} from ${sql.table('crm_contexts')} x left join ${sql.table('crm_ani')} i on i.call_id = x.call_id
       where (x.session_id = ? or x.customer_id = ?)${scope}
       order by case when x.state = 'TERMINATED' then 1 else 0 end, coalesce(i.from_at, '') desc limit 20`,
      [number, number, ...(merchantId ? [merchantId] : [])],
    );
    // The customerId is the number only where the sessionId is not one itself (the rule that chose the digits).
    const found = rows.find((r) => sessionNumberOf({ sessionId: strOrNull(r.session_id), customerId: strOrNull(r.customer_id) }) === number);
    return found ? toContext(found) : null;
  },
};
};
