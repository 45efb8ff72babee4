import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DependencyMonitor } from './dependencies';
import { createMetrics } from './metrics';
import type { Logger } from './logger';
import { DependencyUnavailableError } from '../ports/dependency';

const capture = () => {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, msg, fields });
  return { lines, logger: { warn: at('warn'), info: at('info'), error: at('error'), debug: at('debug') } as unknown as Logger };
};

const counter = async (metrics: ReturnType<typeof createMetrics>, dependency: string) =>
  (await metrics.dependencyErrors.get()).values.find((v) => v.labels.dependency === dependency)?.value ?? 0;

describe('DependencyMonitor', () => {
  it('counts every error, logs an outage once when it starts and once when it ends, and probes until it is back', async () => {
    const { lines, logger } = capture();
    const metrics = createMetrics();
    let down = true;
    const monitor = new DependencyMonitor(logger, metrics, {
      eventStore: async () => {
        if (down) throw new DependencyUnavailableError('eventStore', new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      },
    }, { probeMs: 20, logEveryMs: 60_000 });
    for (let i = 0; i < 50; i++) monitor.failed('eventStore', new Error('connect ECONNREFUSED 127.0.0.1:5432'), 'relay');
    assert.equal(await counter(metrics, 'eventStore'), 50);
    assert.ok(monitor.isDown('eventStore'));
    assert.equal(lines.length, 1, 'one line for 50 errors');
    assert.match(lines[0]!.msg, /^the event store is unavailable \(relay: connect ECONNREFUSED 127\.0\.0\.1:5432\); retrying, nothing is skipped$/);
    await new Promise((r) => setTimeout(r, 80));
    assert.ok(monitor.isDown('eventStore'), 'still down while its ping fails');
    down = false;
    const deadline = Date.now() + 2_000;
    while (monitor.isDown('eventStore') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(monitor.isDown('eventStore'), false, 'the probe saw it back');
    assert.match(lines.at(-1)!.msg, /^the event store is back after \d+\.\d s \(50 errors survived\)$/);
    monitor.close();
  });

  it('readiness: a boolean per dependency and the reason of each failing one; a ping that hangs fails after its timeout', async () => {
    const { logger } = capture();
    const monitor = new DependencyMonitor(
      logger,
      createMetrics(),
      {
        eventStore: async () => undefined,
        readModels: async () => {
          throw new DependencyUnavailableError('readModels', new Error('Connection terminated unexpectedly'));
        },
        bus: () => new Promise(() => undefined),
      },
      { pingTimeoutMs: 50, probeMs: 10_000 },
    );
    const r = await monitor.readiness();
    assert.equal(r.ready, false);
    assert.deepEqual(r.checks, { eventStore: true, readModels: false, bus: false });
    assert.deepEqual(Object.keys(r.reasons).sort(), ['bus', 'readModels']);
    assert.match(r.reasons.readModels!, /^the read database is unavailable \(Connection terminated unexpectedly\); try again shortly \(failing for \d+\.\d s\)$/);
    assert.match(r.reasons.bus!, /^the event bus did not answer within 50 ms/);
    monitor.close();
  });
});
