import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  collect,
  collectorDeadline,
  commandFor,
  DEFAULT_COLLECTOR_OPTIONS,
  emptyCollector,
  expire,
  replayDtmf,
  type CollectorState,
  type DtmfTable,
  type Recognized,
} from './dtmf-collector';
import { DomainError } from '../shared/errors';

const table: DtmfTable = {
  '*76': { action: 'PUSH_PAGE', argument: 'https://shop.example/help' },
  '*7': { action: 'VOLUME', argument: '+10' },
  '*22': { action: 'VOLUME', argument: '+20' },
  '*88': { action: 'VOLUME', argument: '-20' },
  '#5': { action: 'VOLUME', argument: '+5' },
};
const opts = { interDigitTimeoutMs: 3000, terminator: '#' };
const T = Date.parse('2026-11-23T10:00:00Z');
const at = (ms: number) => new Date(T + ms);

/** Feeds reports [digits, msFromStart] in order, then expires at `endMs` (if given). */
const run = (reports: Array<[string, number]>, endMs?: number, tbl: DtmfTable = table, o = opts) => {
  let state: CollectorState = emptyCollector;
  const recognized: Recognized[] = [];
  const discarded: string[] = [];
  for (const [digits, ms] of reports) {
    const r = collect(state, digits, at(ms), tbl, o);
    state = r.state;
    recognized.push(...r.recognized);
    discarded.push(...r.discarded);
  }
  if (endMs !== undefined) {
    const r = expire(state, at(endMs), o);
    state = r.state;
    recognized.push(...r.recognized);
    discarded.push(...r.discarded);
  }
  return { state, recognized, discarded, seqs: recognized.map((r) => r.sequence) };
};

describe('DTMF collector grammar', () => {
  it('an exact match no longer key extends is recognised at once, in one report', () => {
    const r = run([['*76', 0]]);
    assert.deepEqual(r.recognized, [{ sequence: '*76', action: 'PUSH_PAGE', argument: 'https://shop.example/help' }]);
    assert.deepEqual(r.state, emptyCollector);
  });
  it('digits one report at a time give the same result', () => {
    assert.deepEqual(run([['*', 0], ['7', 500], ['6', 1000]]).seqs, ['*76']);
  });
  it('"#NN#" opens channel NN', () => {
    assert.deepEqual(run([['#12#', 0]]).recognized, [{ sequence: '#12#', action: 'OPEN_CHANNEL', argument: '12' }]);
  });
  it('"#NN" ended by the inter-digit timeout opens channel NN too', () => {
    const r = run([['#', 0], ['0', 100], ['7', 200]], 200 + 3000);
    assert.deepEqual(r.recognized, [{ sequence: '#07', action: 'OPEN_CHANNEL', argument: '07' }]);
  });
  it('"#NN" is not acted upon before the timeout', () => {
    const r = run([['#07', 0]], 2999);
    assert.deepEqual(r.recognized, []);
    assert.equal(r.state.buffer, '#07');
    assert.deepEqual(collectorDeadline(r.state, opts), at(3000));
  });
  it('a prefix that is itself a key waits: "*7" then "6" is "*76"', () => {
    assert.deepEqual(run([['*7', 0], ['6', 2000]]).seqs, ['*76']);
  });
  it('a prefix that is itself a key is recognised on the terminator', () => {
    const r = run([['*7#', 0]]);
    assert.deepEqual(r.seqs, ['*7']);
    assert.deepEqual(r.state, emptyCollector);
  });
  it('a prefix that is itself a key is recognised on timeout', () => {
    assert.deepEqual(run([['*7', 0]], 3000).seqs, ['*7']);
  });
  it('the next digit after a timeout first ends the buffered sequence', () => {
    const r = run([['*7', 0], ['6', 3000]]);
    assert.deepEqual(r.seqs, ['*7']);
    assert.deepEqual(r.discarded, ['6']);
  });
  it('a digit that cannot continue a complete key ends it and starts afresh', () => {
    assert.deepEqual(run([['*7*22', 0]]).seqs, ['*7', '*22']);
  });
  it('leading noise is dropped and does not hide a key', () => {
    const r = run([['55*22', 0]]);
    assert.deepEqual(r.seqs, ['*22']);
    assert.deepEqual(r.discarded, ['5', '5']);
  });
  it('an incomplete sequence ended by the terminator is discarded', () => {
    const r = run([['*2#', 0]]);
    assert.deepEqual(r.seqs, []);
    assert.deepEqual(r.discarded, ['*2']);
    assert.deepEqual(r.state, emptyCollector);
  });
  it('an incomplete sequence ended by timeout is discarded', () => {
    const r = run([['*8', 0]], 5000);
    assert.deepEqual(r.seqs, []);
    assert.deepEqual(r.discarded, ['*8']);
  });
  it('a table key starting with # coexists with the channel form', () => {
    assert.deepEqual(run([['#5', 0]], 3000).recognized, [{ sequence: '#5', action: 'VOLUME', argument: '+5' }]);
    assert.deepEqual(run([['#55#', 0]]).seqs, ['#55#']);
  });
  it('a table key wins over the channel form with the same text', () => {
    const tbl: DtmfTable = { '#12#': { action: 'VOLUME', argument: '-5' } };
    assert.deepEqual(run([['#12#', 0]], undefined, tbl).recognized, [{ sequence: '#12#', action: 'VOLUME', argument: '-5' }]);
  });
  it('another terminator can be chosen', () => {
    const o = { interDigitTimeoutMs: 3000, terminator: 'D' };
    assert.deepEqual(run([['*7D', 0]], undefined, table, o).seqs, ['*7']);
  });
  it('expire before the deadline changes nothing, and is idempotent after it', () => {
    const s = collect(emptyCollector, '*7', at(0), table, opts).state;
    assert.deepEqual(expire(s, at(2999), opts), { state: s, recognized: [], discarded: [] });
    const once = expire(s, at(3000), opts);
    assert.deepEqual(once.recognized.map((r) => r.sequence), ['*7']);
    assert.deepEqual(expire(once.state, at(9000), opts).recognized, []);
  });
  it('expire uses the default options when none are given', () => {
    const s = collect(emptyCollector, '*7', at(0), table).state;
    assert.equal(expire(s, at(DEFAULT_COLLECTOR_OPTIONS.interDigitTimeoutMs)).recognized.length, 1);
  });
  it('refuses digits outside 0-9 * # A-D', () => {
    for (const bad of ['', 'x', '1 2', 'E'])
      assert.throws(() => collect(emptyCollector, bad, at(0), table, opts), (e: unknown) => e instanceof DomainError && e.code === 'BAD_USER_INPUT');
  });
});

describe('DTMF grammar properties', () => {
  const keyed = fc.oneof(
    fc.constantFrom(...Object.keys(table)),
    fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 }), fc.boolean()).map(([a, b, closed]) => `#${a}${b}${closed ? '#' : ''}`),
  );

  it('sequences keyed with pauses of at least the timeout between them are each recognised, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(keyed, fc.integer({ min: 0, max: 2999 }), fc.integer({ min: 3000, max: 60_000 })), { maxLength: 8 }),
        fc.boolean(),
        (sequences, oneReportEach) => {
          let clock = 0;
          const reports: Array<[string, number]> = [];
          for (const [seq, interDigit, pause] of sequences) {
            if (oneReportEach) reports.push([seq, clock]);
            else for (const d of seq) reports.push([d, (clock += interDigit)]);
            clock += pause;
          }
          const r = run(reports, clock);
          assert.deepEqual(r.seqs, sequences.map(([s]) => s));
          for (const rec of r.recognized)
            if (rec.action === 'OPEN_CHANNEL') assert.equal(rec.argument, rec.sequence.slice(1, 3));
          assert.deepEqual(r.state, emptyCollector);
        },
      ),
    );
  });

  it('how digits are split into reports (at one instant) never changes the result', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('*', '#', '7', '6', '2', '8', '5', '1'), { maxLength: 20 }), fc.array(fc.nat(20)), (digits, cuts) => {
        const whole = digits.join('');
        const bounds = [...new Set([0, ...cuts.map((c) => Math.min(c, whole.length)), whole.length])].sort((a, b) => a - b);
        const parts: Array<[string, number]> = [];
        for (let i = 1; i < bounds.length; i++) parts.push([whole.slice(bounds[i - 1]!, bounds[i]!), 0]);
        const split = run(parts.filter(([d]) => d !== ''), 10_000);
        const single = run(whole === '' ? [] : [[whole, 0]], 10_000);
        assert.deepEqual(split.recognized, single.recognized);
      }),
    );
  });

  it('everything recognised is a table key or a channel or media-setting form', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[0-9*#A-D]{1,6}$/), fc.integer({ min: 0, max: 5000 }))), (reports) => {
        let clock = 0;
        const r = run(reports.map(([d, gap]) => [d, (clock += gap)] as [string, number]), clock + 3000);
        for (const s of r.seqs) assert.ok(Object.hasOwn(table, s) || /^#\d\d#?$|^##\d\d$/.test(s), s);
      }),
    );
  });
});

describe('commandFor', () => {
  const merchant = { allowedOrigins: ['https://shop.example'] };
  const push = (url: string): Recognized => ({ sequence: '*76', action: 'PUSH_PAGE', argument: url });
  it('accepts a page within the allowed origins', () => {
    assert.deepEqual(commandFor(push('https://shop.example/help'), merchant, at(0)), {
      sequence: '*76',
      action: 'PUSH_PAGE',
      argument: 'https://shop.example/help',
      accepted: true,
      reason: null,
      at: at(0).toISOString(),
    });
  });
  it('refuses a page outside the allowed origins, and says why', () => {
    const c = commandFor(push('https://evil.example/x'), merchant, at(0));
    assert.equal(c.accepted, false);
    assert.match(c.reason ?? '', /evil\.example.*allowed origins/);
  });
  it('refuses a look-alike origin (port or scheme differ)', () => {
    assert.equal(commandFor(push('http://shop.example/help'), merchant, at(0)).accepted, false);
    assert.equal(commandFor(push('https://shop.example:8443/help'), merchant, at(0)).accepted, false);
  });
  it('refuses a non-http URL even when any origin is allowed', () => {
    assert.equal(commandFor(push('javascript:alert(1)'), { allowedOrigins: null }, at(0)).accepted, false);
    assert.equal(commandFor(push('https://anywhere.example/'), { allowedOrigins: null }, at(0)).accepted, true);
  });
  it('accepts VOLUME and OPEN_CHANNEL', () => {
    assert.equal(commandFor({ sequence: '*22', action: 'VOLUME', argument: '+20' }, merchant, at(0)).accepted, true);
    assert.equal(commandFor({ sequence: '#12#', action: 'OPEN_CHANNEL', argument: '12' }, merchant, '2026-11-23T10:00:00Z').accepted, true);
  });
});

describe('replayDtmf', () => {
  const reports = [
    { digits: '*', at: at(0) },
    { digits: '7', at: at(500) },
    { digits: '#0', at: at(10_000) },
    { digits: '9', at: at(10_500) },
  ];
  it('replays reports in order; a timed-out sequence is stamped at its deadline', () => {
    const r = replayDtmf(reports, table, opts);
    assert.deepEqual(r.recognized, [{ sequence: '*7', action: 'VOLUME', argument: '+10', at: at(3500).toISOString() }]);
    assert.equal(r.state.buffer, '#09');
  });
  it('with `until` past the deadline, the buffered "#09" opens channel 09 at its deadline', () => {
    const r = replayDtmf(reports, table, opts, at(20_000));
    assert.deepEqual(r.recognized.map((x) => [x.sequence, x.argument, x.at]), [
      ['*7', '+10', at(3500).toISOString()],
      ['#09', '09', at(13_500).toISOString()],
    ]);
    assert.deepEqual(r.state, emptyCollector);
  });
  it('with `until` before the deadline nothing more happens', () => {
    assert.equal(replayDtmf(reports, table, opts, at(13_499)).recognized.length, 1);
  });
  it('is deterministic and prefix-stable: replaying more reports only appends', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[0-9*#]{1,4}$/), fc.integer({ min: 0, max: 6000 })), { maxLength: 12 }), fc.nat(12), (raw, cut) => {
        let clock = 0;
        const all = raw.map(([digits, gap]) => ({ digits, at: at((clock += gap)) }));
        const full = replayDtmf(all, table, opts).recognized;
        const prefix = replayDtmf(all.slice(0, cut), table, opts).recognized;
        assert.deepEqual(full.slice(0, prefix.length), prefix);
        assert.deepEqual(replayDtmf(all, table, opts).recognized, full);
      }),
    );
  });
});
