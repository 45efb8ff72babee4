import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { LeaseLostError, type Leases } from '../../ports/lease';

export interface LeaseHarness {
  /** Two instances of the cluster (for the local adapter: one process, so the same leases twice). */
  open(holder: string): Promise<Leases>;
  /** Ends `leases`' hold on every job the way a dead or paused owner loses it (the session killed, the lease revoked). */
  kill(leases: Leases, job: string): Promise<void>;
  close(): Promise<void>;
}

const waitUntil = async (what: string, check: () => Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/**
 * The lease port's contract: one owner per job, fenced checkpoints, hand-over on release and on
 * loss. Run against every adapter (./local.spec.ts, test/integration/lease-postgres.int.ts).
 */
export const leaseContract = (name: string, harness: (t: TestContext) => Promise<LeaseHarness | null>) => {
  describe(`lease contract: ${name}`, () => {
    const withHarness = (title: string, body: (h: LeaseHarness) => Promise<void>): void =>
      void test(title, async (t) => {
        const h = await harness(t);
        if (!h) return;
        try {
          await body(h);
        } finally {
          await h.close();
        }
      });

    withHarness('a job has one owner at a time; a release hands it over with a newer epoch and the checkpoint', async (h) => {
      const a = await h.open('a');
      const b = await h.open('b');
      const la = await a.tryAcquire('relay');
      assert.ok(la, 'the first request is granted');
      assert.equal(la.held, true);
      assert.equal(await b.tryAcquire('relay'), null, 'a second owner is refused while the first holds the job');
      assert.equal(await la.checkpoint(), null, 'no checkpoint yet');
      await la.saveCheckpoint('0001');
      await la.saveCheckpoint('0002');
      await la.release();
      assert.equal(la.held, false);
      const lb = await waitFor(() => b.tryAcquire('relay'));
      assert.ok(lb.epoch > la.epoch, `epoch grows: ${la.epoch} → ${lb.epoch}`);
      assert.equal(await lb.checkpoint(), '0002', 'the new owner resumes where the last one left');
      await lb.release();
    });

    withHarness('jobs are independent: owning one does not block another', async (h) => {
      const a = await h.open('a');
      const b = await h.open('b');
      assert.ok(await a.tryAcquire('relay'));
      const timers = await b.tryAcquire('timers');
      assert.ok(timers, 'another job is granted');
      const held = await a.holders();
      assert.deepEqual(
        held.filter((x) => x.holder !== null).map((x) => x.job),
        ['relay', 'timers'],
      );
    });

    withHarness('an owner that lost its lease is fenced: its checkpoint write is refused, the new owner keeps its own', async (h) => {
      const a = await h.open('a');
      const b = await h.open('b');
      const la = (await a.tryAcquire('call-effects'))!;
      await la.saveCheckpoint('0010');
      await h.kill(a, 'call-effects');
      await la.lost; // resolves: the owner learns it lost the job
      assert.equal(la.held, false);
      const lb = await waitFor(() => b.tryAcquire('call-effects'));
      assert.equal(await lb.checkpoint(), '0010');
      await lb.saveCheckpoint('0020');
      await assert.rejects(la.saveCheckpoint('0015'), (e: unknown) => e instanceof LeaseLostError && e.code === 'LEASE_LOST' && e.job === 'call-effects');
      await lb.release();
      const again = await waitFor(() => b.tryAcquire('call-effects'));
      assert.equal(await again.checkpoint(), '0020', 'the fenced write changed nothing');
    });

    withHarness('close releases every lease at once', async (h) => {
      const a = await h.open('a');
      const b = await h.open('b');
      const la = (await a.tryAcquire('webhooks'))!;
      await a.close();
      await la.lost;
      assert.ok(await waitFor(() => b.tryAcquire('webhooks')));
    });
  });
};

const waitFor = async <T>(get: () => Promise<T | null>): Promise<T> => {
  let got: T | null = null;
  await waitUntil('the lease is granted', async () => (got = await get()) !== null);
  return got!;
};
