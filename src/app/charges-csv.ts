import type { ChargeRecord } from '../projections/billing/queries';

/** The CSV export's columns, in order (header row = these names). */
export const CHARGE_COLUMNS = [
  'call_id',
  'started_at',
  'terminated_at',
  'link_id',
  'call_center_id',
  'source_page',
  'referrer',
  'destination',
  'talk_seconds',
  'billable_seconds',
  'rate_per_minute_minor',
  'amount_minor',
  'currency',
  'plan_version',
  'rerated',
  // Issue 23, appended last so that readers by position keep working.
  'direction',
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text the browser sent
 * (`untrusted`: the source page and referrer) that a spreadsheet would run as a formula (=, +, -, @,
 * tab, CR first) gets a leading apostrophe: a shopper's referrer must not become a formula in the
 * merchant's spreadsheet. webdial's own values (ids, E.164 numbers, instants) are written as they are.
 */
export const csvField = (v: string | number | boolean | null, untrusted = false): string => {
  if (v === null) return '';
  if (typeof v !== 'string') return String(v);
  const safe = untrusted && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

export const chargeRow = (c: ChargeRecord): string =>
  [
    c.callId,
    c.startedAt,
    c.terminatedAt,
    c.linkId,
    c.callCenterId,
    { untrusted: c.sourcePage },
    { untrusted: c.referrer },
    c.destination,
    c.talkSeconds,
    c.billableSeconds,
    c.ratePerMinuteMinor,
    c.amountMinor,
    c.currency,
    c.planVersion,
    c.rerated,
    c.direction,
  ]
    .map((f) => (f !== null && typeof f === 'object' ? csvField(f.untrusted, true) : csvField(f)))
    .join(',') + '\r\n';

export type ChargePage = (after: string | null) => Promise<{ rows: ChargeRecord[]; endCursor: string | null; hasNextPage: boolean }>;

/**
 * Streams the charges as CSV, one keyset page at a time: memory holds one page (500 rows), however
 * long the period. `write` returns a promise that resolves when the consumer can take more
 * (backpressure); `aborted` stops early when the client went away. Returns the rows written.
 */
export const streamChargesCsv = async (page: ChargePage, write: (chunk: string) => Promise<void>, aborted: () => boolean): Promise<number> => {
  await write(CHARGE_COLUMNS.join(',') + '\r\n');
  let after: string | null = null;
  let rows = 0;
  for (;;) {
    if (aborted()) return rows;
    const p = await page(after);
    if (p.rows.length > 0) await write(p.rows.map(chargeRow).join(''));
    rows += p.rows.length;
    if (!p.hasNextPage || p.endCursor === null) return rows;
    after = p.endCursor;
  }
};
