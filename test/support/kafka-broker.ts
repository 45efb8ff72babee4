/**
 * Test support for a real Kafka broker (not a test file itself). Integration tests call
 * `useKafka(t)` for the shared broker (started through scripts/kafka/kafka.sh when nothing listens),
 * or `privateBroker()` when they must stop and restart a broker without disturbing anyone else.
 */
import type { TestContext } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { serviceMissing } from './services';

/** The repository root: the nearest folder above this file that holds scripts/kafka/kafka.sh. */
const repoRoot = (): string => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'scripts', 'kafka', 'kafka.sh'))) return dir;
  throw new Error(`scripts/kafka/kafka.sh not found above ${__dirname}`);
};

export const KAFKA_SCRIPT = (): string => join(repoRoot(), 'scripts', 'kafka', 'kafka.sh');

/** True when something accepts TCP connections on host:port within a second. */
export const listening = (hostPort: string): Promise<boolean> => {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
};

const splitHostPort = (hostPort: string): [string, number] => {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
};

/** Why the broker cannot be started here (no Java or Maven), or null. */
export const missingTools = (): string | null => {
  for (const [tool, args] of [['java', ['-version']], ['mvn', ['-v']]] as const) {
    const r = spawnSync(tool, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `${tool} is not installed (needed by scripts/kafka/kafka.sh to run a real broker)`;
  }
  return null;
};

/** Runs `kafka.sh <command>` with extra env; rejects with the script's output when it fails. */
export const runKafkaScript = (command: 'start' | 'stop' | 'status', env: Record<string, string> = {}, timeoutMs = 300_000): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn('bash', [KAFKA_SCRIPT(), command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`kafka.sh ${command} exited with ${code}:\n${out}`));
    });
  });

export interface TestBroker {
  brokers: string[];
  /** Stops the broker if this helper started it; a broker found running is left alone. */
  release(): Promise<void>;
}

/**
 * The broker of KAFKA_BROKERS (default 127.0.0.1:9092). When nothing listens there and it is local,
 * starts it with scripts/kafka/kafka.sh. Returns null after `serviceMissing` (skip, or fail under
 * CI=true) when Java or Maven are missing or KAFKA_BROKERS names an unreachable remote broker.
 */
export const useKafka = async (t: TestContext): Promise<TestBroker | null> => {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
  if (await listening(brokers[0]!)) return { brokers, release: async () => undefined };
  const [host, port] = splitHostPort(brokers[0]!);
  if (host !== '127.0.0.1' && host !== 'localhost') {
    serviceMissing(t, 'Kafka', `nothing listens on ${brokers[0]} (KAFKA_BROKERS) and it is not local, so it cannot be started here`);
    return null;
  }
  const missing = missingTools();
  if (missing) {
    serviceMissing(t, 'Kafka', missing);
    return null;
  }
  // Owned by this process: a test run that is killed does not leave the broker behind.
  const env: Record<string, string> = { KAFKA_PORT: String(port), KAFKA_OWNER_PID: String(process.pid) };
  if (port !== 9092 && !process.env.KAFKA_CONTROLLER_PORT) env.KAFKA_CONTROLLER_PORT = String(port + 1);
  await runKafkaScript('start', env);
  return { brokers, release: () => runKafkaScript('stop', env).then(() => undefined) };
};

/** A free TCP port on 127.0.0.1 (the OS picks it; it is closed again at once). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });

const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

/**
 * A free port below the kernel's ephemeral range (32768+ here): a port the OS hands out for
 * outgoing connections can be taken by one (even the broker's own connection to its controller)
 * between the check and the broker's bind, as happened with a hand-picked 39392.
 */
export const freeStaticPort = async (avoid: number[] = []): Promise<number> => {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!avoid.includes(port) && (await canListen(port))) return port;
  }
  throw new Error('no free port found in 20000-31999');
};

export interface PrivateBroker {
  brokers: string[];
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the broker and deletes its data. */
  destroy(): Promise<void>;
}

/**
 * A broker of its own on free ports with its data in a temporary folder, for tests that stop and
 * restart it: the shared broker other engineers' tests use is never touched. Needs Java and Maven.
 */
export const privateBroker = async (): Promise<PrivateBroker> => {
  const port = await freeStaticPort();
  const controllerPort = await freeStaticPort([port]);
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-kafka-'));
  const env = { KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controllerPort), KAFKA_DATA_DIR: dataDir, KAFKA_OWNER_PID: String(process.pid) };
  const broker: PrivateBroker = {
    brokers: [`127.0.0.1:${port}`],
    start: () => runKafkaScript('start', env).then(() => undefined),
    stop: () => runKafkaScript('stop', env).then(() => undefined),
    destroy: async () => {
      await broker.stop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
};
