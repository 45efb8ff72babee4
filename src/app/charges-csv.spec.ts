import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chargeRow, csvField, streamChargesCsv, CHARGE_COLUMNS, type ChargePage } from './charges-csv';
import type { ChargeRecord } from '../projections/billing/queries';

const record = (i: number): ChargeRecord => ({
  callId: `c_${i}`,
  merchantId: 'm_1',
  linkId: 'l_1',
  callCenterId: 'cc_1',
  direction: 'OUTBOUND',
  sourcePage: 'https://shop.example/p/1?a=1,b=2',
  referrer: '=HYPERLINK("https://evil.example")',
  destination: '+14155550100',
  startedAt: '2026-11-23T10:00:00.000Z',
  day: '2026-11-23',
  terminatedAt: '2026-11-23T10:01:00.000Z',
  talkSeconds: 60,
  amountMinor: 16,
  currency: 'USD',
  billableSeconds: 60,
  planVersion: 1,
  ratePerMinuteMinor: 6,
  rounding: 'CEIL',
  rerated: false,
  legs: [],
});

test('csvField quotes what RFC 4180 needs and defuses spreadsheet formulas in what the browser sent', () => {
  assert.equal(csvField(null), '');
  assert.equal(csvField(42), '42');
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('=1+1', true), "'=1+1");
  assert.equal(csvField('-2', true), "'-2");
  assert.equal(csvField('@SUM(A1)', true), "'@SUM(A1)");
  assert.equal(csvField('+14155550100'), '+14155550100', "webdial's own values are written as they are");
});

test('a charge row has every column, in the header order', () => {
  const row = chargeRow(record(1));
  assert.ok(row.endsWith('\r\n'));
  assert.equal(row, `c_1,2026-11-23T10:00:00.000Z,2026-11-23T10:01:00.000Z,l_1,cc_1,"https://shop.example/p/1?a=1,b=2","'=HYPERLINK(""https://evil.example"")",+14155550100,60,60,6,16,USD,1,false,OUTBOUND\r\n`);
  assert.equal(CHARGE_COLUMNS.length, 16);
});

test('the stream writes the header then page after page, holding one page at a time, and stops when the client is gone', async () => {
  const pages = [0, 1, 2].map((p) => Array.from({ length: 3 }, (_, i) => record(p * 3 + i)));
  const asked: Array<string | null> = [];
  const page: ChargePage = async (after) => {
    asked.push(after);
    const n = after === null ? 0 : Number(after);
    return { rows: pages[n]!, endCursor: String(n + 1), hasNextPage: n + 1 < pages.length };
  };
  const chunks: string[] = [];
  assert.equal(await streamChargesCsv(page, async (c) => void chunks.push(c), () => false), 9);
  assert.deepEqual(asked, [null, '1', '2']);
  assert.equal(chunks.length, 4, 'the header, then one write per page');
  assert.equal(chunks.join('').split('\r\n').filter(Boolean).length, 10);

  let written = 0;
  const gone = await streamChargesCsv(page, async () => void written++, () => written >= 2);
  assert.equal(gone, 3, 'stopped after the first page once the client went away');
});
