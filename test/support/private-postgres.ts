import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freeStaticPort } from '../../src/adapters/bus/kafka/test-broker';

/**
 * A PostgreSQL cluster of a test's own: `initdb` in a temporary directory, a free port on
 * 127.0.0.1, trusted `postgres` role, no fsync. A test that needs to stop PostgreSQL stops this one,
 * never the shared server on 5432 that other people's tests use.
 *
 *   const pg = await privatePostgres();     // started; pg.url is postgres://postgres@127.0.0.1:<port>/postgres
 *   await pg.stop();                        // pg_ctl stop -m immediate: connections drop as in a crash
 *   await pg.start();                       // the same data directory, the same port
 *   await pg.destroy();                     // stopped and removed (also on process exit)
 *
 * Run as root, the server runs as the `postgres` OS user (PostgreSQL refuses root), through
 * `runuser`; otherwise as the current user. The binaries come from PG_BIN, or the newest
 * /usr/lib/postgresql/<major>/bin (Debian's packages, installed by scripts/services/services.sh).
 */
export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  /** `url` with another database name. */
  urlOf(database: string): string;
  /** Creates a database (CREATE DATABASE) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops it as a crash would (`-m immediate`): every connection drops at once. */
  stop(): Promise<void>;
  /** Starts it again on the same port, and waits until it accepts connections. */
  start(): Promise<void>;
  readonly running: boolean;
  /** Stops it and removes its directory. Idempotent. */
  destroy(): Promise<void>;
  /** The server's log (for a failing test's message). */
  log(): string;
}

/** The directory holding initdb and pg_ctl, or null. */
export const postgresBinDir = (): string | null => {
  if (process.env.PG_BIN) return existsSync(join(process.env.PG_BIN, 'pg_ctl')) ? process.env.PG_BIN : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of majors) if (existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  return null;
};

/** Why a private cluster cannot be started here (null: it can). */
export const privatePostgresMissing = (): string | null => {
  const bin = postgresBinDir();
  if (!bin) return 'no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/<major>/bin or PG_BIN';
  if (isRoot() && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root, and there is no postgres OS user to run the server as';
  return null;
};

const isRoot = () => userInfo().uid === 0;

const live = new Set<() => void>();
let exitHook = false;

/** Starts a fresh cluster; see {@link PrivatePostgres}. */
export const privatePostgres = async (options: { settings?: Record<string, string> } = {}): Promise<PrivatePostgres> => {
  const missing = privatePostgresMissing();
  if (missing) throw new Error(`cannot start a private PostgreSQL: ${missing}`);
  const bin = postgresBinDir()!;
  const dir = mkdtempSync(join(tmpdir(), 'webdial-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const asOwner = (cmd: string, args: string[]): [string, string[]] => (isRoot() ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args]);
  if (isRoot()) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asOwner(cmd, args);
    const r = spawnSync(file, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}${existsSync(logFile) ? `\n${readFileSync(logFile, 'utf8').slice(-2000)}` : ''}`);
    return r.stdout;
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--locale=C']);
  // Below the ephemeral range: while the server is stopped, an outgoing connection must not take its port.
  const port = await freeStaticPort();
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    // Commits stay durable against a killed server (`stop -m immediate` is what the tests do):
    // synchronous_commit=off would lose acknowledged commits, which no real deployment accepts.
    // fsync and full-page writes only matter when the machine itself crashes.
    fsync: 'off',
    full_page_writes: 'off',
    max_connections: '100',
    shared_buffers: '32MB',
    ...options.settings,
  };
  const serverOptions = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  let running = false;
  let destroyed = false;
  const stopNow = () => {
    if (!running) return;
    running = false;
    run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  const pg: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    urlOf: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    createDatabase: async (name) => {
      const { Client } = await import('pg');
      const c = new Client({ connectionString: pg.url });
      await c.connect();
      try {
        await c.query(`create database "${name.replace(/"/g, '')}"`);
      } finally {
        await c.end();
      }
      return pg.urlOf(name);
    },
    stop: async () => stopNow(),
    start: async () => {
      if (running || destroyed) return;
      run('pg_ctl', ['-D', data, '-o', serverOptions, '-l', logFile, '-w', '-t', '60', 'start']);
      running = true;
    },
    get running() {
      return running;
    },
    destroy: async () => {
      if (destroyed) return;
      try {
        stopNow();
      } finally {
        destroyed = true;
        live.delete(cleanup);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  // A test process that dies before its after() hook must not leave a server behind.
  const cleanup = () => {
    try {
      stopNow();
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(cleanup);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c();
    });
  }
  await pg.start();
  return pg;
};
