import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExportTickets, MAX_EXPORT_DAYS } from './export-tickets';
import { DomainError } from '../domain/shared/errors';

const tickets = new ExportTickets(Buffer.from('0123456789abcdef0123456789abcdef'), 60_000);
const now = new Date('2026-11-23T10:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const error = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return `${(e as DomainError).code}: ${(e as DomainError).message}`;
  }
  return 'no error';
};

test('a ticket names its merchant and period, and is good for one download before it expires', () => {
  const { ticket, expiresAt } = tickets.issue('m_1', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', now);
  assert.equal(expiresAt.getTime(), later(60_000).getTime());
  assert.deepEqual(tickets.redeem(ticket, later(59_000)), { merchantId: 'm_1', from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', expiresAt: later(60_000).getTime() });
  assert.match(error(() => tickets.redeem(ticket, later(59_500))), /UNAUTHENTICATED: .*already used/);
  const second = tickets.issue('m_1', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', now).ticket;
  assert.match(error(() => tickets.redeem(second, later(60_000))), /UNAUTHENTICATED: .*expired/);
});

test('a forged or re-targeted ticket is refused', () => {
  const [v, payload, mac] = tickets.issue('m_1', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', now).ticket.split('.');
  const other = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), m: 'm_2' })).toString('base64url');
  assert.match(error(() => tickets.redeem(`${v}.${other}.${mac}`, now)), /bad signature/);
  assert.match(error(() => tickets.redeem('wd.k1.secret', now)), /malformed/);
  const foreign = new ExportTickets(Buffer.from('another-secret-another-secret-xx')).issue('m_1', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', now).ticket;
  assert.match(error(() => tickets.redeem(foreign, now)), /bad signature/);
});

test(`a period longer than ${MAX_EXPORT_DAYS} days, empty or reversed is refused with a clear limit`, () => {
  assert.match(error(() => tickets.issue('m_1', '2020-01-01T00:00:00Z', '2026-01-01T00:00:00Z', now)), new RegExp(`BAD_USER_INPUT: a CSV export covers at most ${MAX_EXPORT_DAYS} days; this period has 2192`));
  assert.match(error(() => tickets.issue('m_1', '2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z', now)), /from must be before to/);
  assert.match(error(() => tickets.issue('m_1', 'yesterday', '2026-01-01T00:00:00Z', now)), /ISO-8601/);
  assert.doesNotThrow(() => tickets.issue('m_1', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z', now));
});
