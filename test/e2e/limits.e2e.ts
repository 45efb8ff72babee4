import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { createPostgresDatabase, type PostgresDatabase } from '../support/postgres-db';
import { serviceMissing } from '../support/services';

/**
 * Issue 5 limits under concurrency, through two server processes on one store (a fresh PostgreSQL
 * database, each process with its own data directory): a merchant's
 * concurrent-call limit (LIMIT_EXCEEDED) and a call center's capacity (a full center is never
 * chosen: NO_ROUTE once every center is full) are held as slots, so simultaneous initiations
 * cannot overshoot; hang-ups give the slots back.
 */
describe('merchant limit and center capacity under concurrency (two processes, one PostgreSQL database)', () => {
  const servers: ServerProcess[] = [];
  let db: PostgresDatabase | null = null;
  let missing: string | null = null;
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(servers[0]!.url, q, v, ADMIN_KEY);

  before(async () => {
    const created = await createPostgresDatabase('webdial_limits');
    if (typeof created === 'string') {
      missing = created;
      return;
    }
    db = created;
    const env = { WEBDIAL_MEDIA: 'external', WEBDIAL_ANI_QUARANTINE: '0', WEBDIAL_RATE_CLIENT_PER_MIN: '100000', ...db.env };
    servers.push(await startServer(env));
    await admin(`mutation { createGateway(input: { name: "G", region: "eu", ports: [${Array.from({ length: 40 }, (_, i) => `{ number: ${i + 1}, ani: "+3120000${String(i).padStart(4, '0')}" }`).join(', ')}] }) { id } }`);
    servers.push(await startServer(env));
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db?.drop();
  });

  const setup = async (maxConcurrentCalls: number | null, capacities: number[]) => {
    const m = (await admin(`mutation($n: Int) { createMerchant(input: { name: "L", maxConcurrentCalls: $n }) { id } }`, { n: maxConcurrentCalls })).createMerchant.id;
    const centers: string[] = [];
    for (const [i, capacity] of capacities.entries())
      centers.push((await admin(`mutation($m: ID!, $c: Int!) { addCallCenter(input: { merchantId: $m, name: "C${i}", phoneNumber: "+3120700000${i}", timeZone: "Europe/Amsterdam", capacity: $c, region: "eu" }) { id } }`, { m, c: capacity })).addCallCenter.id);
    const l = (await admin(`mutation($m: ID!, $c: [ID!]!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: $c }) { id } }`, { m, c: centers })).createLink.id;
    return { m, l, centers };
  };

  /** n downloads, then n initiations at once, alternating between the two processes. */
  const storm = async (m: string, l: string, n: number) => {
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) tokens.push((await gql(servers[i % 2]!.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callToken } }`, { i: { merchantId: m, linkId: l, pageUrl: 'https://shop.example/' } })).recordDownload.callToken);
    const results = await Promise.all(tokens.map((t, i) => gqlRaw(servers[i % 2]!.url, `mutation($t: String!) { initiateCall(callToken: $t) { state callCenterId } }`, { t })));
    return results.map((r, i) => ({ token: tokens[i]!, code: r.errors?.[0]?.extensions?.code ?? 'OK', center: (r.data?.initiateCall as { callCenterId?: string } | undefined)?.callCenterId }));
  };

  const count = (xs: Array<{ code: unknown }>) => xs.reduce<Record<string, number>>((acc, x) => ((acc[String(x.code)] = (acc[String(x.code)] ?? 0) + 1), acc), {});

  test('30 simultaneous initiations against a limit of 4: exactly 4 calls, 26 LIMIT_EXCEEDED; hang-ups free the slots', async (t: TestContext) => {
    if (missing) return serviceMissing(t, 'PostgreSQL', missing);
    const { m, l } = await setup(4, [100]);
    const r = await storm(m, l, 30);
    assert.deepEqual(count(r), { OK: 4, LIMIT_EXCEEDED: 26 });
    for (const x of r.filter((x) => x.code === 'OK')) await gql(servers[0]!.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: x.token });
    // A refused call stays DOWNLOADED (the limit is not a termination cause): it may be placed again.
    const retry = r.find((x) => x.code === 'LIMIT_EXCEEDED')!;
    const again = await eventually(async () => {
      const g = await gqlRaw(servers[1]!.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: retry.token });
      return g.errors ? null : g.data!.initiateCall;
    }, 10_000, 'a freed slot to be taken again');
    assert.deepEqual(again, { state: 'INITIATED' });
    await gql(servers[0]!.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: retry.token });
  });

  test('20 simultaneous initiations against centers of capacity 2 and 3: exactly 5 calls, never more than a center takes, 15 NO_ROUTE', async (t: TestContext) => {
    if (missing) return serviceMissing(t, 'PostgreSQL', missing);
    const { m, l, centers } = await setup(null, [2, 3]);
    const r = await storm(m, l, 20);
    assert.deepEqual(count(r), { OK: 5, NO_ROUTE: 15 });
    const per = count(r.filter((x) => x.code === 'OK').map((x) => ({ code: x.center })));
    assert.deepEqual(per, { [centers[0]!]: 2, [centers[1]!]: 3 });
    for (const x of r.filter((x) => x.code === 'OK')) await gql(servers[1]!.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: x.token });
  });
});
