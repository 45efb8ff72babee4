import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { createConnection } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { haproxyCommand, haproxyConfig } from './haproxy';

/**
 * `webdial stack` (issue 21): the production topology on one machine, without Docker. PostgreSQL
 * and Redis (scripts/services/services.sh), Kafka (scripts/kafka/kafka.sh), optionally LiveKit
 * (scripts/livekit/livekit.sh), then N `webdial serve` processes on one event store, one read
 * database, one topic prefix and one Redis, behind Debian's HAProxy (round-robin, health checks on
 * /readyz, WebSockets passed through). The cluster test (test/cluster/) starts the same stack.
 */
export interface StackOptions {
  instances: number;
  /** The proxy's port (the one URL); instance i listens on port + 1 + i. */
  port: number;
  /** HAProxy's statistics page (default port + 99). */
  statsPort?: number;
  host: string;
  /** The deployment's name: its PostgreSQL database, Kafka topic prefix (`name.`) and Redis key prefix (`name:`). */
  name: string;
  /** State: the shared secrets, each instance's data directory and log, haproxy.cfg, stack.json. */
  dir: string;
  /** A PostgreSQL URL the stack may create its database with (the database in the URL is only used to connect). */
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string;
  /** Start PostgreSQL, Redis and Kafka when they are not running (false: they must already answer). */
  startServices: boolean;
  /** Also start LiveKit and LiveKit SIP, and run the instances with WEBDIAL_MEDIA=livekit. */
  livekit: boolean;
  /** Leave Kafka (and LiveKit) running at stop even when this stack started them. */
  keepServices: boolean;
  /** Extra environment for every instance (e.g. simulator timings in the tests). */
  env: Record<string, string>;
  /** Progress lines. */
  log: (line: string) => void;
  /** Install HAProxy with apt-get when it is absent (root only). */
  installHaproxy: boolean;
}

export interface StackInstance {
  readonly index: number;
  readonly name: string;
  readonly port: number;
  /** http://host:port/graphql of this instance alone (bypassing the proxy). */
  readonly url: string;
  readonly base: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pid: number | null;
  readonly running: boolean;
  /** Starts it (again) and waits until its /readyz answers 200. */
  start(): Promise<void>;
  /** SIGTERM, waits for the exit (SIGKILL after 20 s). */
  stop(): Promise<void>;
  /** How many times a SIGTERM was not enough: the process was still there 20 s later and got SIGKILL. */
  readonly forcedKills: number;
  /** kill -9, resolves once the process is gone. */
  kill(): Promise<void>;
  /** The last lines of its output. */
  tail(lines?: number): string;
}

export interface Stack {
  /** The one URL: http://host:port/graphql through HAProxy. */
  readonly url: string;
  readonly base: string;
  readonly statsUrl: string;
  readonly adminKey: string;
  readonly instances: StackInstance[];
  /** The environment every instance runs with (without PORT and WEBDIAL_DATA_DIR). */
  readonly env: Record<string, string>;
  /**
   * Restarts one instance without failing a request: drained in HAProxy (no new requests), its
   * requests in flight finished, stopped (SIGTERM), started, ready, and back in the rotation.
   */
  restartInstance(x: StackInstance): Promise<void>;
  /** A rolling restart: restartInstance for each instance in turn. */
  rollingRestart(): Promise<void>;
  /** Stops the proxy, then the instances, then what this stack started (unless keepServices). */
  stop(): Promise<void>;
}

export const defaultStackOptions = (over: Partial<StackOptions> = {}): StackOptions => ({
  instances: 2,
  port: 4000,
  host: '127.0.0.1',
  name: 'webdial_stack',
  dir: join('data', 'stack'),
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  kafkaBrokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
  startServices: true,
  livekit: false,
  keepServices: false,
  env: {},
  log: (l) => console.log(l),
  installHaproxy: true,
  ...over,
});

/** The repository root: the folder above this file that holds scripts/services/services.sh. */
const repoRoot = (): string => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'scripts', 'services', 'services.sh'))) return dir;
  throw new Error(`scripts/services/services.sh not found above ${__dirname}`);
};

/** True when something accepts TCP connections on host:port within a second. */
export const tcpOpen = (host: string, port: number, timeoutMs = 1000): Promise<boolean> =>
  new Promise((resolveOpen) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolveOpen(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });

const hostPort = (hp: string): [string, number] => {
  const i = hp.lastIndexOf(':');
  return [hp.slice(0, i), Number(hp.slice(i + 1))];
};

/** Runs a project script, each output line prefixed and logged as it comes; rejects on a non-zero exit. */
const runScript = (log: (l: string) => void, prefix: string, args: string[], env: Record<string, string> = {}): Promise<string> =>
  new Promise((resolveRun, reject) => {
    const child = spawn('bash', args, { cwd: repoRoot(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let partial = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      partial += d.toString();
      const lines = partial.split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) log(`${prefix}${l}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('close', (code) => {
      if (partial.trim()) log(`${prefix}${partial}`);
      if (code === 0) resolveRun(out);
      else reject(new Error(`${args.join(' ')} exited with ${code}`));
    });
  });

/** Every child the stacks of this process started: killed when the process exits, however it exits. */
const children = new Set<ChildProcess>();
let exitHook = false;
const own = (child: ChildProcess): ChildProcess => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
  return child;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A secret kept in the stack's directory: every instance, and every restart, signs with the same one. */
const sharedSecret = (dir: string, file: string, bytes: number): string => {
  const path = join(dir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = randomBytes(bytes).toString('base64url');
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return value;
};

/** Creates the stack's database when it does not exist; returns its URL. */
const ensureDatabase = async (adminUrl: string, name: string): Promise<string> => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`--name must be a PostgreSQL identifier (lower case, digits, _), got "${name}"`);
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const r = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (r.rowCount === 0) await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
};

/** `haproxy` on the PATH, installed from Debian's packages when absent (and allowed); null: the reason it is not. */
export const ensureHaproxy = (log: (l: string) => void, install: boolean): string | null => {
  if (spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0) return null;
  if (!install) return 'haproxy is not installed (apt-get install haproxy)';
  if (process.getuid?.() !== 0) return 'haproxy is not installed, and installing it needs root (apt-get install haproxy)';
  log('stack: installing HAProxy from Debian\'s packages (apt-get install haproxy)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env }).status !== 0) return 'apt-get update failed';
  if (spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'haproxy'], { stdio: 'inherit', env }).status !== 0) return 'apt-get install haproxy failed';
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0 ? null : 'haproxy still does not run after apt-get install';
};

/** Reads KEY=value lines (livekit.sh env). */
const parseEnvLines = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

/** One column of a backend server's row in HAProxy's `show stat` (e.g. scur: requests now; status: UP, DOWN, DRAIN…), or null. */
const serverStat = async (socket: string, server: string, column: string): Promise<string | null> => {
  const [backend, name] = server.split('/');
  const csv = await haproxyCommand(socket, 'show stat').catch(() => '');
  const header = csv.split('\n')[0]?.replace(/^# /, '').split(',') ?? [];
  const i = header.indexOf(column);
  const row = csv.split('\n').find((l) => l.startsWith(`${backend},${name},`));
  return row && i >= 0 ? (row.split(',')[i] ?? null) : null;
};

/** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
/** Sends `signal` and resolves once the child is gone: true when it took a SIGKILL after `graceMs`. */
const ended = (child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<boolean> =>
  new Promise((resolveEnd) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveEnd(false);
    let forced = false;
    const timer = setTimeout(() => {
      forced = signal !== 'SIGKILL';
      child.kill('SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveEnd(forced);
    });
    child.kill(signal);
  });

/** GET url; the status code, or 0 when nothing answered. */
const statusOf = async (url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> => {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, body: await r.text() };
  } catch (e) {
    return { status: 0, body: (e as Error).message };
  }
};

/** Polls `url` until it answers 200, logging what it answers every few seconds. */
const waitReady = async (url: string, what: string, log: (l: string) => void, timeoutMs: number, alive: () => string | null): Promise<void> => {
  const started = Date.now();
  let lastLog = started;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(`${what} ${dead}`);
    const r = await statusOf(url);
    if (r.status === 200) return;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not ready after ${timeoutMs / 1000} s: ${r.status || 'no answer'} ${r.body.slice(0, 300)}`);
    if (Date.now() - lastLog > 3000) {
      lastLog = Date.now();
      log(`stack: ${what}: waiting for ${url} (${((Date.now() - started) / 1000).toFixed(0)} s; ${r.status ? `HTTP ${r.status}` : 'no answer yet'})`);
    }
    await sleep(200);
  }
};

/**
 * Starts the stack and resolves once the proxy answers /readyz through an instance. Throws (after
 * stopping what it started) when a step fails, with the step's reason.
 */
export const startStack = async (o: StackOptions): Promise<Stack> => {
  const log = o.log;
  const root = repoRoot();
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const started = { kafka: false, livekit: false };
  const cleanups: Array<() => Promise<void>> = [];
  const undo = async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`stack: ${(e as Error).message}`));
  };
  try {
    // 1. PostgreSQL, Redis, Kafka, LiveKit.
    const [kHost, kPort] = hostPort(o.kafkaBrokers.split(',')[0].trim());
    const kafkaEnv: Record<string, string> = { KAFKA_CACHE_DIR: process.env.KAFKA_CACHE_DIR ?? join(homedir(), '.cache', 'webdial', 'kafka'), KAFKA_PORT: String(kPort) };
    if (o.startServices) {
      log('stack: PostgreSQL and Redis (scripts/services/services.sh start: installs what is absent, starts what is down)');
      await runScript(log, '  ', [join(root, 'scripts/services/services.sh'), 'start']);
      if (await tcpOpen(kHost, kPort)) log(`stack: Kafka already answers on ${kHost}:${kPort}`);
      else {
        log(`stack: starting Kafka on ${kHost}:${kPort} (scripts/kafka/kafka.sh; the first start downloads its jars)`);
        await runScript(log, '  ', [join(root, 'scripts/kafka/kafka.sh'), 'start'], kafkaEnv);
        started.kafka = true;
        cleanups.push(async () => {
          if (o.keepServices) return log('stack: Kafka left running (--keep-services); npm run kafka:stop stops it');
          log('stack: stopping Kafka (this stack started it)');
          await runScript(log, '  ', [join(root, 'scripts/kafka/kafka.sh'), 'stop'], kafkaEnv);
        });
      }
    } else if (!(await tcpOpen(kHost, kPort))) throw new Error(`nothing answers on ${kHost}:${kPort} (Kafka)`);
    let media: Record<string, string> = { WEBDIAL_MEDIA: o.env.WEBDIAL_MEDIA ?? 'simulator' };
    if (o.livekit) {
      if (!process.env.LIVEKIT_SIP_TRUNK_ID && !process.env.LIVEKIT_SIP_TRUNK_ADDRESS)
        throw new Error('--livekit needs LIVEKIT_SIP_TRUNK_ID or LIVEKIT_SIP_TRUNK_ADDRESS (the SIP trunk the instances dial through) in the environment');
      log('stack: LiveKit and LiveKit SIP (scripts/livekit/livekit.sh start; the first start builds them with Go: several minutes)');
      const lkEnv = { LIVEKIT_WEBHOOK_URL: `http://${o.host}:${o.port}/webhooks/livekit` };
      const status = spawnSync('bash', [join(root, 'scripts/livekit/livekit.sh'), 'status'], { encoding: 'utf8' });
      const wasRunning = status.status === 0 && /running/i.test(status.stdout) && !/not running/i.test(status.stdout);
      await runScript(log, '  ', [join(root, 'scripts/livekit/livekit.sh'), 'start'], lkEnv);
      if (!wasRunning) {
        started.livekit = true;
        cleanups.push(async () => {
          if (o.keepServices) return log('stack: LiveKit left running (--keep-services); npm run livekit:stop stops it');
          log('stack: stopping LiveKit (this stack started it)');
          await runScript(log, '  ', [join(root, 'scripts/livekit/livekit.sh'), 'stop']);
        });
      }
      const lk = parseEnvLines(spawnSync('bash', [join(root, 'scripts/livekit/livekit.sh'), 'env'], { encoding: 'utf8' }).stdout);
      media = { WEBDIAL_MEDIA: 'livekit', LIVEKIT_URL: lk.LIVEKIT_URL ?? '', LIVEKIT_PUBLIC_URL: lk.LIVEKIT_WS_URL ?? '', LIVEKIT_API_KEY: lk.LIVEKIT_API_KEY ?? '', LIVEKIT_API_SECRET: lk.LIVEKIT_API_SECRET ?? '' };
    }

    // 2. HAProxy, the database, the shared secrets.
    const missing = ensureHaproxy(log, o.installHaproxy);
    if (missing) throw new Error(missing);
    log(`stack: PostgreSQL database "${o.name}" (created when absent)`);
    const databaseUrl = await ensureDatabase(o.databaseUrl, o.name);
    const adminKey = process.env.WEBDIAL_ADMIN_KEY ?? sharedSecret(dir, 'admin.key', 24);
    const tokenSecret = process.env.WEBDIAL_TOKEN_SECRET ?? sharedSecret(dir, 'token.secret', 32);

    // 3. The instances.
    const env: Record<string, string> = {
      HOST: o.host,
      WEBDIAL_EVENT_STORE: 'postgres',
      WEBDIAL_READ_DB: 'postgres',
      DATABASE_URL: databaseUrl,
      WEBDIAL_BUS: 'kafka',
      KAFKA_BROKERS: o.kafkaBrokers,
      KAFKA_TOPIC_PREFIX: `${o.name}.`,
      REDIS_URL: o.redisUrl,
      WEBDIAL_REDIS_PREFIX: `${o.name}:`,
      // The same keys everywhere: a call token or API key issued by one instance works on every other.
      WEBDIAL_ADMIN_KEY: adminKey,
      WEBDIAL_TOKEN_SECRET: tokenSecret,
      // One proxy (HAProxy, `option forwardfor`) in front: the client is the last X-Forwarded-For hop.
      WEBDIAL_TRUST_PROXY: '1',
      WEBDIAL_DEMO: '0',
      ...media,
      ...o.env,
    };
    const instances: StackInstance[] = [];
    for (let i = 0; i < o.instances; i++) instances.push(makeInstance(i, o, dir, env, log));
    cleanups.push(async () => {
      log(`stack: stopping ${instances.filter((x) => x.running).length} instance(s) (SIGTERM)`);
      await Promise.all(instances.map((x) => x.stop()));
    });
    log(`stack: starting ${o.instances} webdial instance(s) on ports ${o.port + 1}–${o.port + o.instances} (logs in ${dir})`);
    // One after the other: the first creates the schemas and topics the others find.
    for (const x of instances) await x.start();

    // 4. The proxy.
    const cfg = join(dir, 'haproxy.cfg');
    const socket = join(dir, 'haproxy.sock');
    const statsPort = o.statsPort ?? o.port + 99;
    writeFileSync(
      cfg,
      haproxyConfig({ bind: { host: o.host, port: o.port }, servers: instances.map((x) => ({ name: x.name, host: o.host, port: x.port })), stats: { host: o.host, port: statsPort }, adminSocket: socket }),
    );
    const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy -c refused ${cfg}: ${check.stderr}${check.stdout}`);
    if (await tcpOpen(o.host, o.port)) throw new Error(`${o.host}:${o.port} is taken: choose another --port`);
    log(`stack: HAProxy on ${o.host}:${o.port} (${cfg})`);
    const proxyLog = createWriteStream(join(dir, 'haproxy.log'), { flags: 'a' });
    const proxy = own(spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] }));
    proxy.stdout!.pipe(proxyLog);
    proxy.stderr!.pipe(proxyLog);
    cleanups.push(async () => {
      log('stack: stopping HAProxy');
      // SIGUSR1: soft stop (finish the requests in flight); then SIGTERM.
      await ended(proxy, 'SIGUSR1', 5000);
      proxyLog.end();
    });
    const base = `http://${o.host}:${o.port}`;
    await waitReady(`${base}/readyz`, 'HAProxy', log, 30_000, () => (proxy.exitCode !== null ? `exited with ${proxy.exitCode} (see ${join(dir, 'haproxy.log')})` : null));

    writeFileSync(
      join(dir, 'stack.json'),
      JSON.stringify({ pid: process.pid, url: `${base}/graphql`, stats: `http://${o.host}:${statsPort}/`, instances: instances.map((x) => ({ name: x.name, url: x.url, log: x.logFile })) }, null, 2),
    );
    cleanups.push(async () => {
      try {
        writeFileSync(join(dir, 'stack.json'), JSON.stringify({ pid: null, stopped: new Date().toISOString() }));
      } catch {
        /* the directory is gone */
      }
    });
    const restartInstance = async (x: StackInstance): Promise<void> => {
      const t0 = Date.now();
      const server = `webdial/${x.name}`;
      log(`stack: restarting ${x.name}: drained in HAProxy, then SIGTERM`);
      await haproxyCommand(socket, `set server ${server} state drain`);
      // The requests it is answering finish; new ones go to the others (WebSockets stay until it stops).
      const drainedBy = Date.now() + 10_000;
      while (Date.now() < drainedBy && Number(await serverStat(socket, server, 'scur')) > 0) await sleep(100);
      await x.stop();
      await x.start();
      await haproxyCommand(socket, `set server ${server} state ready`);
      // Back only once HAProxy's own checks see it UP (`rise 2`): the next instance is drained after that,
      // or for a moment no instance would take requests.
      const upBy = Date.now() + 30_000;
      while (Date.now() < upBy && !(await serverStat(socket, server, 'status'))?.startsWith('UP')) await sleep(100);
      log(`stack: ${x.name} back in the rotation ${((Date.now() - t0) / 1000).toFixed(1)} s after the restart began`);
    };
    let stopped: Promise<void> | null = null;
    return {
      url: `${base}/graphql`,
      base,
      statsUrl: `http://${o.host}:${statsPort}/`,
      adminKey,
      instances,
      env,
      restartInstance: (x) => restartInstance(x),
      rollingRestart: async () => {
        for (const x of instances) await restartInstance(x);
      },
      stop: () => (stopped ??= undo()),
    };
  } catch (e) {
    await undo();
    throw e;
  }
};

const makeInstance = (index: number, o: StackOptions, dir: string, env: Record<string, string>, log: (l: string) => void): StackInstance => {
  const name = `webdial${index}`;
  const port = o.port + 1 + index;
  const dataDir = join(dir, name);
  const logFile = join(dir, `${name}.log`);
  const base = `http://${o.host}:${port}`;
  let child: ChildProcess | null = null;
  let forcedKills = 0;
  let out = '';
  let file: WriteStream | null = null;
  const running = () => child !== null && child.exitCode === null && child.signalCode === null;
  const x: StackInstance = {
    index,
    name,
    port,
    url: `${base}/graphql`,
    base,
    dataDir,
    logFile,
    get pid() {
      return running() ? (child!.pid ?? null) : null;
    },
    get running() {
      return running();
    },
    start: async () => {
      if (running()) return;
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      file = createWriteStream(logFile, { flags: 'a' });
      const t0 = Date.now();
      const c = own(
        spawn(process.execPath, [join(repoRoot(), 'bin', 'webdial.js'), 'serve'], {
          cwd: repoRoot(),
          env: { ...process.env, ...env, PORT: String(port), WEBDIAL_DATA_DIR: dataDir },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      child = c;
      const f = file;
      const keep = (d: Buffer) => {
        out = (out + d.toString()).slice(-20_000);
        f.write(d);
      };
      c.stdout!.on('data', keep);
      c.stderr!.on('data', keep);
      c.once('exit', (code, signal) => {
        f.end();
        if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') log(`stack: ${name} exited (${signal ?? `code ${code}`}); see ${logFile}`);
      });
      await waitReady(`${base}/readyz`, name, log, 90_000, () => (c.exitCode !== null || c.signalCode !== null ? `exited (${c.signalCode ?? `code ${c.exitCode}`}):\n${out.slice(-3000)}` : null));
      log(`stack: ${name} ready on ${base} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${c.pid})`);
    },
    stop: async () => {
      if (!child) return;
      const t0 = Date.now();
      if (await ended(child, 'SIGTERM', 20_000)) {
        forcedKills++;
        log(`stack: ${name} did not exit within 20 s of SIGTERM: killed (see ${logFile})`);
      } else log(`stack: ${name} stopped in ${Date.now() - t0} ms`);
    },
    get forcedKills() {
      return forcedKills;
    },
    kill: async () => {
      if (child) await ended(child, 'SIGKILL', 0);
    },
    tail: (lines = 40) => out.split('\n').slice(-lines).join('\n'),
  };
  return x;
};
