import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';

export interface ServerProcess {
  url: string;
  wsUrl: string;
  dataDir: string;
  output: () => string;
  /** null while the process runs; its exit code (or signal) once it ended. */
  exitCode: () => number | string | null;
  stop(): Promise<void>;
  /** kill -9: no shutdown at all (crash tests); resolves once the process is gone. */
  crash(): Promise<void>;
}

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export const tempDataDir = (prefix = 'webdial-test-') => mkdtempSync(join(tmpdir(), prefix));

/** Starts `webdial serve` as a real child process on a free port and waits for its URL. */
export const startServer = async (env: Record<string, string> = {}, dataDir = tempDataDir()): Promise<ServerProcess> => {
  const child: ChildProcess = spawn(process.execPath, ['bin/webdial.js', 'serve'], {
    env: { ...process.env, PORT: '0', WEBDIAL_DATA_DIR: dataDir, WEBDIAL_ADMIN_KEY: ADMIN_KEY, WEBDIAL_DEMO: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never leak a half-started server
      reject(new Error(`server did not start in 30 s:\n${out}`));
    }, 30_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+\/graphql)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    dataDir,
    output: () => out,
    exitCode: () => child.exitCode ?? child.signalCode ?? null,
    stop: () =>
      new Promise<void>((resolve) => {
        // A process killed by a signal (crash()) has no exit code, only its signal.
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
    crash: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
};

export const wsClient = (wsUrl: string, key?: string): Client =>
  createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: key ? { authorization: `Bearer ${key}` } : {}, retryAttempts: 0, lazy: true });

/** Collects a subscription's results until `until` says stop (or the timeout). */
export const collect = <T>(client: Client, query: string, variables: Record<string, unknown>, until: (items: T[]) => boolean, timeoutMs = 15_000) => {
  const items: T[] = [];
  let unsubscribe = () => {};
  const done = new Promise<T[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`subscription timed out with ${items.length} item(s): ${JSON.stringify(items).slice(0, 500)}`));
    }, timeoutMs);
    unsubscribe = client.subscribe<T>(
      { query, variables },
      {
        next: (r) => {
          if (r.errors) {
            clearTimeout(timer);
            reject(new Error(JSON.stringify(r.errors)));
            return;
          }
          items.push(Object.values(r.data as object)[0] as T);
          if (until(items)) {
            clearTimeout(timer);
            unsubscribe();
            resolve(items);
          }
        },
        error: (e) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(JSON.stringify(e)));
        },
        complete: () => undefined,
      },
    );
  });
  return { done, items, stop: () => unsubscribe() };
};

/** Polls `fn` until it returns a truthy value. */
export const eventually = async <T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
