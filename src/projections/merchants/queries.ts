import type { CallCenterConfig, CallCenterKind, DtmfAction, OpeningHours } from '../../domain/merchant/events';
import type { Role } from '../../domain/merchant/api-key';
import type { RatePlan } from '../../domain/rating/rate-plan';
import type { QueuePolicy } from '../../domain/queue/queue';
import { jsonOrNull, num, numOrNull, strOrNull, type Sql } from '../../adapters/sql/db';

export interface MerchantConfigView {
  id: string;
  name: string;
  maxConcurrentCalls: number | null;
  allowedOrigins: string[] | null;
  ratePlan: RatePlan | null;
  createdAt: string;
  /** Issue 25: the callback prefixes it set; null: unset (its centers' calling codes apply). */
  callbackPrefixes: string[] | null;
}

export interface CallCenterConfigView extends Omit<CallCenterConfig, 'callCenterId'> {
  id: string;
  merchantId: string;
  redirectedTo: string | null;
  /** Hears the session number as DTMF after answer (issue 23). */
  identityDtmf: boolean;
}

export interface LinkConfigView {
  id: string;
  merchantId: string;
  label: string;
  callCenterIds: string[];
  /** Issue 25: null when its calls do not wait. */
  queuePolicy: QueuePolicy | null;
}

export interface DtmfCommandView {
  sequence: string;
  action: DtmfAction;
  argument: string | null;
}

export interface ApiKeyView {
  id: string;
  role: Role;
  merchantId: string | null;
  /** An AGENT key's call center; null for the other roles. */
  callCenterId: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export const merchantQueries = (db: () => Sql) => ({
  async merchant(merchantId: string): Promise<MerchantConfigView | null> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('mc_merchants')} where id = ?`, [merchantId]);
    if (!rows.length) return null;
    const r = rows[0];
    return {
      id: String(r.id),
      name: String(r.name),
      maxConcurrentCalls: numOrNull(r.max_concurrent_calls),
      allowedOrigins: jsonOrNull<string[]>(r.allowed_origins),
      ratePlan: jsonOrNull<RatePlan>(r.rate_plan),
      callbackPrefixes: jsonOrNull<string[]>(r.callback_prefixes ?? null),
      createdAt: String(r.created_at),
    };
  },

  /** The merchant a call center belongs to, or null when the read side does not know it. */
  async callCenterOwner(callCenterId: string): Promise<string | null> {
    const sql = db();
    const rows = await sql.all(`select merchant_id from ${sql.table('mc_call_centers')} where id = ?`, [callCenterId]);
    return rows.length ? String(rows[0].merchant_id) : null;
  },

  /** The merchant's call centers in the order they were added. */
  async callCenters(merchantId: string): Promise<CallCenterConfigView[]> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('mc_call_centers')} where merchant_id = ? order by position`, [merchantId]);
    return rows.map((r) => ({
      id: String(r.id),
      merchantId: String(r.merchant_id),
      name: String(r.name),
      phoneNumber: String(r.phone_number),
      timeZone: String(r.time_zone),
      weeklyHours: jsonOrNull<OpeningHours[]>(r.weekly_hours),
      capacity: num(r.capacity),
      region: String(r.region),
      redirectedTo: strOrNull(r.redirected_to),
      kind: String(r.kind) as CallCenterKind,
      identityDtmf: num(r.identity_dtmf ?? 0) === 1,
    }));
  },

  /** The merchant's virtual numbers (DIDs) in number order; released ones are left out. */
  async dids(merchantId: string): Promise<Array<{ number: string; merchantId: string; destination: Record<string, string>; assignedAt: string }>> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('mc_dids')} where merchant_id = ? and released_at is null order by number limit 1000`, [merchantId]);
    return rows.map((r) => ({ number: String(r.number), merchantId: String(r.merchant_id), destination: jsonOrNull<Record<string, string>>(r.destination) ?? {}, assignedAt: String(r.assigned_at) }));
  },

  /** Every assigned virtual number, of every merchant (the inbound trunk's list). */
  async allDidNumbers(): Promise<string[]> {
    const sql = db();
    return (await sql.all(`select number from ${sql.table('mc_dids')} where released_at is null order by number`, [])).map((r) => String(r.number));
  },

  async links(merchantId: string): Promise<LinkConfigView[]> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('mc_links')} where merchant_id = ? order by position`, [merchantId]);
    return rows.map((r) => ({
      id: String(r.id),
      merchantId: String(r.merchant_id),
      label: String(r.label),
      callCenterIds: jsonOrNull<string[]>(r.call_center_ids) ?? [],
      queuePolicy: jsonOrNull<QueuePolicy>(r.queue_policy ?? null),
    }));
  },

  async dtmfCommands(merchantId: string): Promise<DtmfCommandView[]> {
    const sql = db();
    const rows = await sql.all(`select * from ${sql.table('mc_dtmf')} where merchant_id = ? order by sequence`, [merchantId]);
    return rows.map((r) => ({ sequence: String(r.sequence), action: String(r.action) as DtmfAction, argument: strOrNull(r.argument) }));
  },

  /** Keys of one merchant (or, with null, the merchant-less ADMIN and GATEWAY keys), newest first. */
  async apiKeys(merchantId: string | null): Promise<ApiKeyView[]> {
    const sql = db();
    const rows = await sql.all(
      `select * from ${sql.table('mc_api_keys')} where ${merchantId === null ? 'merchant_id is null' : 'merchant_id = ?'} order by created_at desc, id limit 500`,
      merchantId === null ? [] : [merchantId],
    );
    return rows.map((r) => ({ id: String(r.id), role: String(r.role) as Role, merchantId: strOrNull(r.merchant_id), callCenterId: strOrNull(r.call_center_id), createdAt: String(r.created_at), revokedAt: strOrNull(r.revoked_at) }));
  },
});
