import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventStore } from '../src/adapters/eventstore';
import { openReadModels, progressBar } from '../src/projections';
import { callHistory } from './rebuild';
import { round } from './stats';

/**
 * Restart time against history (issue 21): `events` stored events of whole calls, then a server
 * process started on them three times, each timed from spawn to its first `/readyz` 200:
 *   first      no snapshot yet: the live index, the supervisor and the webhook registry fold the history
 *   clean      after SIGTERM (snapshots written on stop)
 *   kill -9    after SIGKILL: the snapshots of up to 5 s before, plus the tail
 * The read models are rebuilt in the bench process before the first start, so that the first start
 * measures the write side's folds and not the read side's catch-up (a separate benchmark: rebuild).
 */
export const benchRestart = async (opts: { events: number; store: 'sqlite' | 'postgres'; env?: Record<string, string> }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-restart-'));
  const env: Record<string, string> = {
    LOG_LEVEL: 'error',
    WEBDIAL_DATA_DIR: dataDir,
    WEBDIAL_DEMO: '0',
    WEBDIAL_MEDIA: 'external',
    PORT: '4791',
    ...(opts.store === 'postgres' ? { WEBDIAL_EVENT_STORE: 'postgres', WEBDIAL_READ_DB: 'postgres' } : {}),
    ...(opts.env ?? {}),
  };
  try {
    const seeded = await seed(opts.events, opts.store, dataDir, env.DATABASE_URL);
    const first = await timeStart(env);
    await stop(first.child, 'SIGTERM');
    const clean = await timeStart(env);
    // Some traffic of its own would only move the tail: the kill lands on a process at rest, as after a deploy.
    await stop(clean.child, 'SIGKILL');
    const killed = await timeStart(env);
    await stop(killed.child, 'SIGTERM');
    return { store: opts.store, events: seeded, firstStartSeconds: first.seconds, cleanRestartSeconds: clean.seconds, killRestartSeconds: killed.seconds };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
};

export const seed = async (target: number, kind: 'sqlite' | 'postgres', dataDir: string, databaseUrl?: string): Promise<number> => {
  const store = await createEventStore({ kind, dataDir, databaseUrl });
  const reads = await openReadModels({ kind, dataDir, databaseUrl });
  try {
    const events = callHistory(target);
    const load = progressBar(`store ${events.length} events (${kind})`, events.length);
    // 2,000 events at a time, one append per stream with its expected version: the store's group commit takes them together.
    for (let i = 0; i < events.length; ) {
      const byStream = new Map<string, typeof events>();
      for (const end = Math.min(i + 2000, events.length); i < end; i++) {
        const e = events[i]!;
        if (!byStream.has(e.streamId)) byStream.set(e.streamId, []);
        byStream.get(e.streamId)!.push(e);
      }
      await Promise.all(
        [...byStream].map(([streamId, es]) =>
          store.append(
            streamId,
            es.map((e) => ({ eventId: e.eventId, type: e.type, data: e.data, occurredAt: e.occurredAt, merchantId: e.merchantId, correlationId: e.correlationId, causationId: null })),
            es[0]!.streamVersion - 1,
          ),
        ),
      );
      load.tick([...byStream.values()].reduce((n, es) => n + es.length, 0));
    }
    load.done();
    const total = (await store.stats()).events;
    const bar = progressBar('read models rebuilt', total);
    await reads.rebuild('all', (after, limit) => store.readAll({ after, limit }), total, (done, t) => bar.set(done, t));
    bar.done();
    return total;
  } finally {
    await reads.close();
    await store.close();
  }
};

const timeStart = async (env: Record<string, string>): Promise<{ child: ChildProcess; seconds: number }> => {
  const url = `http://127.0.0.1:${env.PORT}/readyz`;
  // Someone else on the port would answer for the server under test.
  if (await fetch(url).then(() => true, () => false)) throw new Error(`port ${env.PORT} is taken: stop what listens there first`);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['bin/webdial.js', 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${stderr}`);
    // Ready, and this very process (its /readyz names the instance: host:port:pid:…).
    const ok = await fetch(url)
      .then(async (r) => r.status === 200 && ((await r.json()) as { instance?: string }).instance?.split(':')[2] === String(child.pid))
      .catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, seconds: round(Number(process.hrtime.bigint() - started) / 1e9, 2) };
};

const stop = (child: ChildProcess, signal: NodeJS.Signals): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
