import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalLeases, LocalLeaseTable } from '../adapters/lease/local';
import { noCheckpoints } from '../ports/checkpoint';
import { Cluster } from './cluster';
import { Processes, type Process } from './processes';

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('not in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** One instance's run of the table: which rows run there now, and the order they stopped in. */
const instance = (name: string, table: LocalLeaseTable) => {
  const running = new Set<string>();
  const stopped: string[] = [];
  const row = (p: Omit<Process, 'start'>): Process => ({
    ...p,
    start: async (lease) => {
      assert.equal(lease === null, p.scope === 'instance' || p.sharedGroup === true, `${p.name}: a lease exactly for a leased row`);
      running.add(p.name);
      return {
        stop: async () => {
          running.delete(p.name);
          stopped.push(p.name);
        },
      };
    },
  });
  const processes = new Processes(new Cluster(new LocalLeases(name, () => noCheckpoints, table), { pollMs: 20 }));
  const rows = [
    row({ name: 'live state', scope: 'instance' }),
    row({ name: 'projections', scope: 'cluster', sharedGroup: true }),
    row({ name: 'relay', scope: 'cluster' }),
    row({ name: 'timers', scope: 'cluster' }),
    row({ name: 'metrics', scope: 'instance' }),
  ];
  return { processes, rows, running, stopped };
};

describe('Processes: the table of processes, run by every instance', () => {
  it('instance rows and shared groups run everywhere; each leased row on one instance, taken over when it stops; stops run cluster rows first, then the rest last-started-first', async () => {
    const table = new LocalLeaseTable();
    const a = instance('a', table);
    const b = instance('b', table);
    await a.processes.start(a.rows);
    await b.processes.start(b.rows);
    assert.deepEqual([...a.running].sort(), ['live state', 'metrics', 'projections', 'relay', 'timers']);
    assert.deepEqual([...b.running].sort(), ['live state', 'metrics', 'projections']);
    assert.deepEqual(a.processes.roles(), ['relay', 'timers']);
    assert.deepEqual(b.processes.roles(), []);

    await a.processes.stop(async (_name, stop) => void (await stop()));
    assert.deepEqual(a.stopped.slice(0, 2).sort(), ['relay', 'timers'], 'the cluster rows first (their leases go to another instance)');
    assert.deepEqual(a.stopped.slice(2), ['metrics', 'projections', 'live state'], 'then the others, the last started first');
    await until(() => b.processes.roles().length === 2);
    assert.deepEqual(b.processes.roles(), ['relay', 'timers'], 'b took the leased rows over');
    await b.processes.stop(async (_name, stop) => void (await stop()));
  });
});
