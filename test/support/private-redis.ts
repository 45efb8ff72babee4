import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freeStaticPort } from '../../src/adapters/bus/kafka/test-broker';

/**
 * A redis-server of a test's own on a free port (no persistence), for tests that stop Redis: the
 * shared one on 6379 is never touched. stop() kills it with SIGKILL, as a crash would; start()
 * runs it again on the same port (empty: it keeps nothing, like the limits' fixed windows).
 */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** Why a private Redis cannot be started here (null: it can). */
export const privateRedisMissing = (): string | null =>
  spawnSync('redis-server', ['--version']).status === 0 ? null : 'redis-server is not installed (scripts/services/services.sh installs it)';

const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
    s.once('error', () => done(false));
  });

export const privateRedis = async (): Promise<PrivateRedis> => {
  const missing = privateRedisMissing();
  if (missing) throw new Error(`cannot start a private Redis: ${missing}`);
  const port = await freeStaticPort();
  let child: ChildProcess | null = null;
  const kill = () => {
    child?.kill('SIGKILL');
    child = null;
  };
  process.once('exit', kill);
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    start: async () => {
      if (child) return;
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      while (!(await answers(port))) {
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port} within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      const c = child;
      if (!c) return;
      const exited = new Promise((r) => c.once('exit', r));
      kill();
      await exited;
    },
    destroy: async () => {
      await redis.stop();
      process.removeListener('exit', kill);
    },
  };
  await redis.start();
  return redis;
};
