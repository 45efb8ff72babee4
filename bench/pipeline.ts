import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { privateBroker } from '../src/adapters/bus/kafka/test-broker';
import { benchEmbedded } from './e2e';

const PG = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The integration stack (PostgreSQL event store, a real Kafka broker, PostgreSQL read models) on the
 * same workload as the embedded benchmark: end-to-end events/s and append → projection row latency.
 * Uses a private broker and a fresh database, both removed afterwards.
 */
export const benchPipeline = async (opts: { calls?: number } = {}) => {
  const db = `webdial_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`create database ${db}`);
  const broker = await privateBroker();
  try {
    const url = new URL(PG);
    url.pathname = `/${db}`;
    return await benchEmbedded({
      calls: opts.calls ?? 400,
      env: {
        WEBDIAL_EVENT_STORE: 'postgres',
        WEBDIAL_READ_DB: 'postgres',
        DATABASE_URL: url.toString(),
        WEBDIAL_BUS: 'kafka',
        KAFKA_BROKERS: broker.brokers.join(','),
        KAFKA_PARTITIONS: '6',
        LOG_LEVEL: 'error',
      },
    });
  } finally {
    await broker.destroy();
    await admin.query(`drop database if exists ${db} with (force)`);
    await admin.end();
  }
};
