import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { createMetrics } from './metrics';
import { installLastResort } from './last-resort';

describe('last-resort policy for errors nothing handled', () => {
  const setup = () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
    const metrics = createMetrics();
    let stopped = 0;
    const exits: number[] = [];
    // The runner has its own process handlers: the policy is installed on a stand-in for `process`.
    const proc = new EventEmitter();
    const remove = installLastResort(logger, metrics, async () => void stopped++, (c) => void exits.push(c), proc);
    return { lines, metrics, remove, exits, proc, stopped: () => stopped };
  };

  it('an unhandled rejection is logged and counted, and the process goes on', async () => {
    const t = setup();
    try {
      t.proc.emit('unhandledRejection', new Error('nobody awaited me'), Promise.resolve());
      assert.equal(t.exits.length, 0);
      assert.equal(t.stopped(), 0);
      assert.match(await t.metrics.registry.getSingleMetricAsString('webdial_unhandled_errors_total'), /kind="unhandledRejection"\} 1/);
      assert.ok(t.lines.some((l) => l.level === 50 && /unhandled promise rejection/.test(l.msg)));
    } finally {
      t.remove();
    }
  });

  it('an uncaught exception is logged at fatal, counted, stops the server and exits 1', async () => {
    const t = setup();
    try {
      t.proc.emit('uncaughtException', new Error('boom'), 'uncaughtException');
      await new Promise((r) => setImmediate(r));
      assert.equal(t.stopped(), 1);
      assert.deepEqual(t.exits, [1]);
      assert.match(await t.metrics.registry.getSingleMetricAsString('webdial_unhandled_errors_total'), /kind="uncaughtException"\} 1/);
      assert.ok(t.lines.some((l) => l.level === 60));
    } finally {
      t.remove();
    }
  });
});
