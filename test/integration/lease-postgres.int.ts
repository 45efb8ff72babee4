import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from 'pg';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import { leaseContract } from '../../src/adapters/lease/contract';
import { PostgresLeases } from '../../src/adapters/lease/postgres';

const freshSchema = () => `lease_test_${randomBytes(6).toString('hex')}`;

const dropSchema = async (schema: string) => {
  const admin = new Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
};

// A dead owner: its session is ended by the server (what a kill -9 or an idle timeout does).
const terminate = async (holder: string) => {
  const admin = new Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`webdial-leases:${holder}`]);
  } finally {
    await admin.end();
  }
};

leaseContract('postgres', async (t) => {
  const missing = await probePostgres();
  if (missing) {
    serviceMissing(t, 'PostgreSQL', missing);
    return null;
  }
  const schema = freshSchema();
  const opened: PostgresLeases[] = [];
  return {
    open: async (holder) => {
      const l = new PostgresLeases(POSTGRES_URL, { schema, holder: `${schema}-${holder}`, ttlMs: 2_000 });
      opened.push(l);
      return l;
    },
    kill: async (leases) => terminate(leases.holder),
    close: async () => {
      for (const l of opened) await l.close();
      await dropSchema(schema);
    },
  };
});

/**
 * Split brain, by construction impossible: an owner paused (SIGSTOP) past its lease loses it to
 * another instance, and when it resumes, the checkpoint write it had in hand is refused.
 */
test('postgres leases: a paused owner loses its lease after its ttl, and its write on resuming is fenced', async (t) => {
  const missing = await probePostgres();
  if (missing) return serviceMissing(t, 'PostgreSQL', missing);
  const schema = freshSchema();
  const child = spawn(process.execPath, [join(__dirname, '..', 'support', 'lease-owner.js')], {
    env: { ...process.env, LEASE_URL: POSTGRES_URL, LEASE_SCHEMA: schema, LEASE_TTL_MS: '1500' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const l = lines.shift();
        if (l !== undefined) return resolve(l);
        if (child.exitCode !== null) return reject(new Error(`the owner exited (${child.exitCode})`));
        setTimeout(check, 20);
      };
      check();
    });
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const other = new PostgresLeases(POSTGRES_URL, { schema, holder: `${schema}-other`, ttlMs: 1500 });
  try {
    assert.equal(await nextLine(), 'granted epoch 1');
    assert.equal(await other.tryAcquire('relay'), null, 'the running owner holds the job');
    child.kill('SIGSTOP');
    const paused = Date.now();
    let lease = null;
    while (!lease) {
      lease = await other.tryAcquire('relay');
      if (!lease) await new Promise((r) => setTimeout(r, 200));
      assert.ok(Date.now() - paused < 10_000, 'the paused owner lost its lease within 10 s');
    }
    const tookMs = Date.now() - paused;
    assert.equal(lease.epoch, 2);
    assert.equal(await lease.checkpoint(), '0001', 'the last checkpoint of the paused owner');
    await lease.saveCheckpoint('0002');
    child.kill('SIGCONT');
    child.stdin.write('save 0009\n');
    assert.equal(await nextLine(), 'refused LEASE_LOST', 'the resumed owner cannot move the checkpoint');
    await lease.release();
    const again = await other.tryAcquire('relay');
    assert.equal(await again!.checkpoint(), '0002', 'the checkpoint is the new owner\'s');
    t.diagnostic(`the paused owner's lease (ttl 1.5 s) went to the other instance ${tookMs} ms after SIGSTOP`);
  } finally {
    child.kill('SIGKILL');
    await other.close();
    await dropSchema(schema);
  }
});
