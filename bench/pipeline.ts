import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { privateBroker } from '../test/support/kafka-broker';
import { benchEmbedded } from './e2e';
import { timeReadSide } from './read-side-timing';

const PG = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh PostgreSQL database for one benchmark, and the environment pointing webdial at it. */
export const freshDatabase = async (): Promise<{ env: Record<string, string>; drop(): Promise<void> }> => {
  const name = `webdial_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(PG);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
};

/**
 * The integration stack (PostgreSQL event store, a real Kafka broker, PostgreSQL read models) on the
 * same workload as the embedded benchmark: end-to-end events/s and append → projection row latency,
 * then (`paced`) calls at a fixed arrival rate on the same server, for the latency at that rate.
 * Uses a private broker and a fresh database, both removed afterwards.
 */
export const benchPipeline = async (opts: { calls?: number; paced?: { calls: number; ratePerSecond: number } } = {}) => {
  timeReadSide();
  const db = await freshDatabase();
  const broker = await privateBroker();
  try {
    return await benchEmbedded({
      calls: opts.calls ?? 2000,
      paced: opts.paced,
      env: {
        ...db.env,
        WEBDIAL_EVENT_STORE: 'postgres',
        WEBDIAL_READ_DB: 'postgres',
        WEBDIAL_BUS: 'kafka',
        KAFKA_BROKERS: broker.brokers.join(','),
        KAFKA_PARTITIONS: '6',
        LOG_LEVEL: 'error',
      },
    });
  } finally {
    await broker.destroy();
    await db.drop();
  }
};
