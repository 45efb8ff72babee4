import { existsSync, readFileSync } from 'node:fs';
import proxyAddr from 'proxy-addr';
import type { WebhookConfig } from '../webhooks/worker';
import { parseTracingEnv, type TracingConfig } from '../observability/otel-config';
import type { SimulatorOptions } from '../media/simulator/simulator';

/**
 * The runtime contract of ARCHITECTURE §9: configuration from the environment (a `.env` file is read
 * too), every variable with a working embedded default, and a bad value stops start-up with one line
 * naming the variable.
 */
/** True for a bind address only this machine reaches (127.0.0.0/8, ::1, localhost). */
export const isLoopbackHost = (host: string): boolean => /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i.test(host);

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  adminKey: string | null;
  eventStore: 'sqlite' | 'postgres' | 'kurrentdb';
  readDb: 'sqlite' | 'postgres';
  databaseUrl: string | null;
  /** The read models' PostgreSQL (WEBDIAL_READ_DATABASE_URL), default databaseUrl: the read side may live on its own database. */
  readDatabaseUrl: string | null;
  kurrentDbUrl: string | null;
  bus: 'memory' | 'kafka';
  kafkaBrokers: string[];
  kafkaPartitions: number;
  /** Prefix of the topics (and consumer groups) webdial uses, so several deployments can share a broker. */
  kafkaTopicPrefix: string;
  media: 'simulator' | 'livekit' | 'external';
  /** WEBDIAL_DID_BLOCKS: the deployment's blocks of virtual numbers as E.164 prefixes (+3310000); empty: any E.164 number may be assigned. */
  didBlocks: string[];
  livekit: {
    url: string | null;
    /** The URL browsers use (differs from `url` inside a container network). */
    publicUrl: string | null;
    apiKey: string | null;
    apiSecret: string | null;
    sipTrunkId: string | null;
    /** Create the outbound trunk at start when no trunk id is configured. */
    outboundTrunk: { name: string; address: string; numbers: string[]; authUsername?: string; authPassword?: string } | null;
    /** LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES: the carrier's addresses (CIDRs); set, webdial keeps an inbound trunk of the DIDs (issue 23). */
    inboundAllowedAddresses: string[];
  };
  demo: boolean;
  tokenSecret: string | null;
  callTokenTtlSeconds: number;
  /** Cluster jobs' leases (PostgreSQL): how long a silent owner keeps them, and how often the others ask. */
  cluster: { leaseTtlMs: number; pollMs: number };
  simulator: SimulatorOptions;
  limits: {
    downloadsPerMinutePerClient: number;
    downloadsPerMinutePerMerchant: number;
    maxQueryDepth: number;
    maxQueryCost: number;
    maxBodyBytes: number;
    /** Longest a read asking for its own writes (minPosition) waits for the projections, ms. */
    readWaitMs: number;
    introspection: boolean;
    /** WEBDIAL_TRUST_PROXY: whose X-Forwarded-For names the client (false: nobody's). */
    trustProxy: false | number | string[];
    /** Open WebSocket connections per client address. */
    maxConnectionsPerAddress: number;
    /** Subscriptions (operations) open at once on one WebSocket connection. */
    maxSubscriptionsPerConnection: number;
  };
  timeouts: { abandonAfterSeconds: number; ringingTimeoutSeconds: number; maxCallDurationSeconds: number; aniQuarantineSeconds: number };
  webhooks: WebhookConfig;
  /** Redis for rate limits shared by every instance (null: in-process). */
  redisUrl: string | null;
  redisKeyPrefix: string;
  /** OpenTelemetry traces from the standard OTEL_* variables; null: off (the default). */
  tracing: TracingConfig | null;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads KEY=VALUE lines; existing environment variables win. */
export const readDotEnv = (path: string, env: Env): Env => {
  if (!existsSync(path)) return env;
  const out: Env = { ...env };
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const value = m[2].replace(/^(['"])(.*)\1$/, '$2');
    if (out[m[1]] === undefined) out[m[1]] = value;
  }
  return out;
};

const int = (env: Env, name: string, dflt: number, min: number, max: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
};
const num = (env: Env, name: string, dflt: number, min: number, max: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(name, `must be a number from ${min} to ${max}, got "${raw}"`);
  return n;
};
const oneOf = <T extends string>(env: Env, name: string, values: readonly T[], dflt: T): T => {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
};
const bool = (env: Env, name: string, dflt: boolean): boolean => {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be 1/0, true/false, yes/no or on/off, got "${raw}"`);
};
const str = (env: Env, name: string): string | null => {
  const raw = env[name];
  return raw === undefined || raw === '' ? null : raw;
};

export const loadConfig = (rawEnv: Env = process.env): Config => {
  const env = readDotEnv('.env', rawEnv);
  const eventStore = oneOf(env, 'WEBDIAL_EVENT_STORE', ['sqlite', 'postgres', 'kurrentdb'] as const, 'sqlite');
  const readDb = oneOf(env, 'WEBDIAL_READ_DB', ['sqlite', 'postgres'] as const, 'sqlite');
  const bus = oneOf(env, 'WEBDIAL_BUS', ['memory', 'kafka'] as const, 'memory');
  const media = oneOf(env, 'WEBDIAL_MEDIA', ['simulator', 'livekit', 'external'] as const, 'simulator');
  const databaseUrl = str(env, 'DATABASE_URL');
  const readDatabaseUrl = str(env, 'WEBDIAL_READ_DATABASE_URL') ?? databaseUrl;
  if (eventStore === 'postgres' && !databaseUrl) throw new ConfigError('DATABASE_URL', 'is required when WEBDIAL_EVENT_STORE is postgres');
  if (readDb === 'postgres' && !readDatabaseUrl)
    throw new ConfigError('DATABASE_URL', 'is required when WEBDIAL_READ_DB is postgres (or set WEBDIAL_READ_DATABASE_URL for the read models alone)');
  for (const [name, url] of [['DATABASE_URL', databaseUrl], ['WEBDIAL_READ_DATABASE_URL', readDatabaseUrl]] as const)
    if (url && !/^postgres(ql)?:\/\//.test(url)) throw new ConfigError(name, `must be a postgres:// URL, got "${url}"`);
  const kurrentDbUrl = str(env, 'KURRENTDB_URL');
  if (eventStore === 'kurrentdb' && !kurrentDbUrl) throw new ConfigError('KURRENTDB_URL', 'is required when WEBDIAL_EVENT_STORE=kurrentdb');
  const kafkaBrokers = (str(env, 'KAFKA_BROKERS') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (bus === 'kafka' && kafkaBrokers.length === 0) throw new ConfigError('KAFKA_BROKERS', 'is required when WEBDIAL_BUS=kafka (e.g. 127.0.0.1:9092)');
  for (const b of kafkaBrokers) if (!/^[^:\s]+:\d+$/.test(b)) throw new ConfigError('KAFKA_BROKERS', `each broker must be host:port, got "${b}"`);
  const didBlocks = (str(env, 'WEBDIAL_DID_BLOCKS') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const b of didBlocks) if (!/^\+[1-9]\d{0,14}$/.test(b)) throw new ConfigError('WEBDIAL_DID_BLOCKS', `each block must be an E.164 prefix like +3310000, got "${b}"`);
  const inboundAllowedAddresses = (str(env, 'LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of inboundAllowedAddresses)
    if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a)) throw new ConfigError('LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES', `each entry must be an IP address or CIDR like 203.0.113.0/24, got "${a}"`);
  const trunkAddress = str(env, 'LIVEKIT_SIP_TRUNK_ADDRESS');
  const livekit = {
    url: str(env, 'LIVEKIT_URL'),
    publicUrl: str(env, 'LIVEKIT_PUBLIC_URL'),
    apiKey: str(env, 'LIVEKIT_API_KEY'),
    apiSecret: str(env, 'LIVEKIT_API_SECRET'),
    sipTrunkId: str(env, 'LIVEKIT_SIP_TRUNK_ID'),
    outboundTrunk: trunkAddress
      ? {
          // One trunk per deployment, found by this name at start-up (issue 22).
          name: str(env, 'LIVEKIT_SIP_TRUNK_NAME') ?? 'webdial',
          address: trunkAddress,
          numbers: (str(env, 'LIVEKIT_SIP_TRUNK_NUMBERS') ?? '').split(',').map((n) => n.trim()).filter(Boolean),
          authUsername: str(env, 'LIVEKIT_SIP_TRUNK_USER') ?? undefined,
          authPassword: str(env, 'LIVEKIT_SIP_TRUNK_PASSWORD') ?? undefined,
        }
      : null,
    inboundAllowedAddresses,
  };
  if (media === 'livekit')
    for (const [k, v] of [['LIVEKIT_URL', livekit.url], ['LIVEKIT_API_KEY', livekit.apiKey], ['LIVEKIT_API_SECRET', livekit.apiSecret]] as const)
      if (!v) throw new ConfigError(k, 'is required when WEBDIAL_MEDIA=livekit');
  if (media === 'livekit' && !livekit.sipTrunkId && !livekit.outboundTrunk)
    throw new ConfigError('LIVEKIT_SIP_TRUNK_ID', 'is required when WEBDIAL_MEDIA=livekit (or set LIVEKIT_SIP_TRUNK_ADDRESS to create the outbound trunk)');
  const embedded = eventStore === 'sqlite' && readDb === 'sqlite' && bus === 'memory';
  const host = str(env, 'HOST') ?? '127.0.0.1';
  const redisUrl = str(env, 'REDIS_URL');
  if (redisUrl !== null && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) throw new ConfigError('REDIS_URL', `must be a redis:// or rediss:// URL, got "${redisUrl}"`);
  const adminKey = str(env, 'WEBDIAL_ADMIN_KEY');
  if (adminKey !== null && adminKey.length < 16) throw new ConfigError('WEBDIAL_ADMIN_KEY', 'must be at least 16 characters');
  return {
    port: int(env, 'PORT', 4000, 0, 65535),
    host,
    dataDir: str(env, 'WEBDIAL_DATA_DIR') ?? './data',
    adminKey,
    eventStore,
    readDb,
    databaseUrl,
    readDatabaseUrl,
    kurrentDbUrl,
    bus,
    kafkaBrokers,
    kafkaPartitions: int(env, 'KAFKA_PARTITIONS', 6, 1, 1000),
    kafkaTopicPrefix: str(env, 'KAFKA_TOPIC_PREFIX') ?? '',
    media,
    didBlocks,
    livekit,
    demo: bool(env, 'WEBDIAL_DEMO', embedded),
    tokenSecret: str(env, 'WEBDIAL_TOKEN_SECRET'),
    callTokenTtlSeconds: int(env, 'WEBDIAL_CALL_TOKEN_TTL', 4 * 3600, 60, 7 * 24 * 3600),
    cluster: {
      leaseTtlMs: int(env, 'WEBDIAL_LEASE_TTL_MS', 10_000, 1_000, 300_000),
      pollMs: int(env, 'WEBDIAL_LEASE_POLL_MS', 1_000, 100, 60_000),
    },
    simulator: {
      seed: int(env, 'WEBDIAL_SIM_SEED', 42, 0, 2 ** 31 - 1),
      ringDelayMs: int(env, 'WEBDIAL_SIM_RING_MS', 300, 0, 600_000),
      answerDelayMs: int(env, 'WEBDIAL_SIM_ANSWER_MS', 700, 0, 600_000),
      talkMs: int(env, 'WEBDIAL_SIM_TALK_MS', 2000, 0, 3_600_000),
      busyRate: num(env, 'WEBDIAL_SIM_BUSY_RATE', 0, 0, 1),
      noAnswerRate: num(env, 'WEBDIAL_SIM_NO_ANSWER_RATE', 0, 0, 1),
      dtmfScript: str(env, 'WEBDIAL_SIM_DTMF') ?? '',
    },
    limits: {
      downloadsPerMinutePerClient: int(env, 'WEBDIAL_RATE_CLIENT_PER_MIN', 120, 1, 1_000_000),
      downloadsPerMinutePerMerchant: int(env, 'WEBDIAL_RATE_MERCHANT_PER_MIN', 6000, 1, 10_000_000),
      maxQueryDepth: int(env, 'WEBDIAL_MAX_QUERY_DEPTH', 8, 2, 100),
      maxQueryCost: int(env, 'WEBDIAL_MAX_QUERY_COST', 5000, 10, 10_000_000),
      maxBodyBytes: int(env, 'WEBDIAL_MAX_BODY_BYTES', 100_000, 1000, 100_000_000),
      introspection: bool(env, 'WEBDIAL_INTROSPECTION', true),
      readWaitMs: int(env, 'WEBDIAL_READ_WAIT_MS', 5000, 0, 60_000),
      trustProxy: trustProxy(env),
      maxConnectionsPerAddress: int(env, 'WEBDIAL_WS_MAX_CONNECTIONS_PER_ADDRESS', 256, 1, 1_000_000),
      maxSubscriptionsPerConnection: int(env, 'WEBDIAL_WS_MAX_SUBSCRIPTIONS', 64, 1, 10_000),
    },
    timeouts: {
      abandonAfterSeconds: int(env, 'WEBDIAL_ABANDON_AFTER', 30 * 60, 1, 7 * 24 * 3600),
      ringingTimeoutSeconds: int(env, 'WEBDIAL_RINGING_TIMEOUT', 45, 1, 3600),
      maxCallDurationSeconds: int(env, 'WEBDIAL_MAX_CALL_DURATION', 3600, 1, 24 * 3600),
      aniQuarantineSeconds: int(env, 'WEBDIAL_ANI_QUARANTINE', 10, 0, 24 * 3600),
    },
    webhooks: {
      // Internal targets only when nobody but this machine can reach the server (and so register one).
      urlPolicy: oneOf(env, 'WEBDIAL_WEBHOOK_URL_POLICY', ['public', 'any'] as const, isLoopbackHost(host) ? 'any' : 'public'),
      concurrency: int(env, 'WEBDIAL_WEBHOOK_CONCURRENCY', 16, 1, 1000),
      timeoutMs: int(env, 'WEBDIAL_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
      retry: {
        baseMs: int(env, 'WEBDIAL_WEBHOOK_RETRY_BASE_MS', 1000, 10, 3_600_000),
        maxMs: int(env, 'WEBDIAL_WEBHOOK_RETRY_MAX_MS', 600_000, 10, 86_400_000),
      },
      failingAfterMs: int(env, 'WEBDIAL_WEBHOOK_FAILING_AFTER', 86_400, 1, 30 * 86_400) * 1000,
      retentionMs: int(env, 'WEBDIAL_WEBHOOK_RETENTION_DAYS', 7, 1, 365) * 86_400_000,
      pollMs: int(env, 'WEBDIAL_WEBHOOK_POLL_MS', 1000, 10, 60_000),
    },
    redisUrl,
    redisKeyPrefix: str(env, 'WEBDIAL_REDIS_PREFIX') ?? 'webdial:',
    tracing: parseTracingEnv(env, (variable, message) => {
      throw new ConfigError(variable, message);
    }),
    logLevel: oneOf(env, 'LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
  };
};

/**
 * WEBDIAL_TRUST_PROXY: unset or `false`, the socket's address is the client; a number, that many
 * proxies in front (the client is the address that many hops back in X-Forwarded-For); otherwise a
 * comma-separated list of proxy addresses or CIDRs (or `loopback`, `linklocal`, `uniquelocal`)
 * whose X-Forwarded-For is believed. Trusting everyone (`true`) is refused: any client could then
 * choose its own address and so its own rate-limit budget.
 */
const trustProxy = (env: Record<string, string | undefined>): false | number | string[] => {
  const v = str(env, 'WEBDIAL_TRUST_PROXY');
  if (v === null || v === 'false' || v === '0') return false;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n > 10) throw new ConfigError('WEBDIAL_TRUST_PROXY', `a hop count must be from 0 to 10, got ${v}`);
    return n;
  }
  if (v === 'true' || v === '*') throw new ConfigError('WEBDIAL_TRUST_PROXY', 'trusting every address would let any client choose its own; give a hop count or the proxies\' addresses/CIDRs');
  const list = v.split(',').map((x) => x.trim()).filter(Boolean);
  try {
    proxyAddr.compile(list);
  } catch (e) {
    throw new ConfigError('WEBDIAL_TRUST_PROXY', `${(e as Error).message}; give a hop count or addresses/CIDRs such as 10.0.0.0/8,loopback`);
  }
  return list;
};
