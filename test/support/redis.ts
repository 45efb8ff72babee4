import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import Redis from 'ioredis';

/** The machine's shared Redis (never stopped by a test). Tests isolate themselves with a key prefix. */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Resolves to null when Redis answers PING, else to the reason it did not. */
export const probeRedis = async (url: string): Promise<string | null> => {
  const c = new Redis(url, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.ping();
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    c.disconnect();
  }
};

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

export interface PrivateRedis {
  url: string;
  port: number;
  /** Starts it again on the same port (after stop). */
  start(): Promise<void>;
  /** Stops this test's own redis-server (SIGTERM to its pid) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own, on a free port, without persistence: the one a test may stop
 * (the shared one on 6379 is never touched). Throws when redis-server is not installed.
 */
export const privateRedis = async (): Promise<PrivateRedis> => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const start = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      c.once('error', (e) => reject(new Error(`cannot run redis-server: ${e.message}`)));
      c.once('spawn', () => resolve());
    });
    child = c;
    const deadline = Date.now() + 10_000;
    while ((await probeRedis(url)) !== null) {
      if (Date.now() > deadline || c.exitCode !== null) throw new Error(`private redis-server on ${port} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return { url, port, start, stop };
};
