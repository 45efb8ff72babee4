import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCursor } from './call-history/queries';
import { splitByHour } from './gateway-ports/view';
import { formatProgress, progressBar } from './engine/progress';

describe('splitByHour', () => {
  it('splits an interval at UTC hour boundaries', () => {
    assert.deepEqual(splitByHour('2026-11-20T10:59:30Z', '2026-11-20T12:00:10Z'), [
      ['2026-11-20T10:00:00.000Z', 30_000],
      ['2026-11-20T11:00:00.000Z', 3_600_000],
      ['2026-11-20T12:00:00.000Z', 10_000],
    ]);
  });
  it('gives nothing for an empty or reversed interval', () => {
    assert.deepEqual(splitByHour('2026-11-20T10:00:00Z', '2026-11-20T10:00:00Z'), []);
    assert.deepEqual(splitByHour('2026-11-20T11:00:00Z', '2026-11-20T10:00:00Z'), []);
  });
  it('conserves the total for arbitrary intervals', () => {
    for (let i = 0; i < 200; i++) {
      const a = Date.parse('2026-11-20T00:00:00Z') + ((i * 7919) % 86_400) * 1000;
      const b = a + ((i * 104_729) % 20_000) * 1000 + 1;
      const parts = splitByHour(new Date(a).toISOString(), new Date(b).toISOString());
      assert.equal(parts.reduce((s, [, ms]) => s + ms, 0), b - a);
      assert.ok(parts.every(([, ms]) => ms > 0 && ms <= 3_600_000));
    }
  });
});

describe('progress bar', () => {
  it('formats percentage, rate and ETA', () => {
    assert.equal(formatProgress('rebuild', 500, 1000, 2000, 10), 'rebuild [#####.....]  50% 500/1000 250/s ETA 2s');
    assert.equal(formatProgress('rebuild', 1000, 1000, 4000, 10), 'rebuild [##########] 100% 1000/1000 250/s ETA done');
    assert.equal(formatProgress('x', 1, 100_000, 1000, 4), 'x [....]   0% 1/100000 1/s ETA 27h46m');
  });
  it('writes a line per 10 % off a TTY, and a final line', () => {
    const out: string[] = [];
    const bar = progressBar('replay', 100, { write: (s) => out.push(s) > 0, isTTY: false });
    for (let i = 0; i < 100; i++) bar.tick();
    bar.done();
    assert.equal(out.length, 12); // one line per decile 0..100 % (11) + the final line
    assert.match(out.at(-1)!, /^replay \[#+\] 100% 100\/100 /);
  });
});

describe('cursor', () => {
  it('is opaque and differs per row', () => {
    const a = encodeCursor('2026-11-20T10:00:00.000Z', 'c-1');
    assert.doesNotMatch(a, /c-1|2026/);
    assert.notEqual(a, encodeCursor('2026-11-20T10:00:00.000Z', 'c-2'));
  });
});
