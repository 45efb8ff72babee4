import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExportTickets, MAX_EXPORT_DAYS, usedInMemory } from './export-tickets';
import { DomainError } from '../domain/shared/errors';

const tickets = new ExportTickets(Buffer.from('0123456789abcdef0123456789abcdef'), 60_000);
const now = new Date('2026-11-23T10:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const error = async (fn: () => unknown) => {
  try {
    await fn();
  } catch (e) {
    return `${(e as DomainError).code}: ${(e as DomainError).message}`;
  }
  return 'no error';
};

test('a ticket names its merchant and period, and is good for one download before it expires', async () => {
  const { ticket, expiresAt } = tickets.issue('m_1', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', now);
  assert.equal(expiresAt.getTime(), later(60_000).getTime());
  assert.deepEqual(await tickets.redeem(ticket, later(59_000)), { merchantId: 'm_1', from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', expiresAt: later(60_000).getTime() });
  assert.match(await error(() => tickets.redeem(ticket, later(59_500))), /UNAUTHENTICATED: .*already used/);
  const second = tickets.issue('m_1', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', now).ticket;
  assert.match(await error(() => tickets.redeem(second, later(60_000))), /UNAUTHENTICATED: .*expired/);
});

test('two instances that share where used tickets are kept: a ticket issued on one downloads once, on either', async () => {
  const shared = usedInMemory();
  const secret = Buffer.from('0123456789abcdef0123456789abcdef');
  const [a, b] = [new ExportTickets(secret, 60_000, shared), new ExportTickets(secret, 60_000, shared)];
  const { ticket } = a.issue('m_1', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', now);
  assert.equal((await b.redeem(ticket, later(1_000))).merchantId, 'm_1');
  assert.match(await error(() => a.redeem(ticket, later(2_000))), /UNAUTHENTICATED: .*already used/);
  assert.match(await error(() => b.redeem(ticket, later(2_000))), /UNAUTHENTICATED: .*already used/);
});

test('a forged or re-targeted ticket is refused', async () => {
  const [v, payload, mac] = tickets.issue('m_1', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', now).ticket.split('.');
  const other = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), m: 'm_2' })).toString('base64url');
  assert.match(await error(() => tickets.redeem(`${v}.${other}.${mac}`, now)), /bad signature/);
  assert.match(await error(() => tickets.redeem('wd.k1.secret', now)), /malformed/);
  const foreign = new ExportTickets(Buffer.from('another-secret-another-secret-xx')).issue('m_1', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', now).ticket;
  assert.match(await error(() => tickets.redeem(foreign, now)), /bad signature/);
});

test(`a period longer than ${MAX_EXPORT_DAYS} days, empty or reversed is refused with a clear limit`, async () => {
  assert.match(await error(() => tickets.issue('m_1', '2020-01-01T00:00:00Z', '2026-01-01T00:00:00Z', now)), new RegExp(`BAD_USER_INPUT: a CSV export covers at most ${MAX_EXPORT_DAYS} days; this period has 2192`));
  assert.match(await error(() => tickets.issue('m_1', '2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z', now)), /from must be before to/);
  assert.match(await error(() => tickets.issue('m_1', 'yesterday', '2026-01-01T00:00:00Z', now)), /ISO-8601/);
  assert.doesNotThrow(() => tickets.issue('m_1', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z', now));
});
