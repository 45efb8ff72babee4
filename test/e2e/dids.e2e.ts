import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { setupMerchant, type TestMerchant } from '../support/merchant';

/**
 * Virtual numbers (DIDs, issue 23) over the real server: assigned by an ADMIN or the owning MERCHANT
 * to a call center, an AGENT key or a link; unique across merchants; bad input gets a stable code
 * (extensions.code and extensions.reason) and changes nothing.
 */
describe('virtual numbers (DIDs) over GraphQL', () => {
  let server: ServerProcess;
  let a: TestMerchant;
  let b: TestMerchant;
  let agentKeyId: string;

  before(async () => {
    server = await startServer({ WEBDIAL_DID_BLOCKS: '+33100000,+44' });
    a = await setupMerchant(server.url, 'A');
    b = await setupMerchant(server.url, 'B');
    const { createApiKey } = await gql(server.url, `mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: a.merchantId, c: a.centerId }, ADMIN_KEY);
    agentKeyId = (createApiKey.key as string).split('.')[1]!;
  });
  after(async () => {
    await server?.stop();
  });

  const ASSIGN = `mutation($i: DidInput!) { assignDid(input: $i) { number merchantId destination callCenterId agentKeyId linkId assignedAt } }`;
  const assign = (key: string, i: Record<string, unknown>) => gqlRaw(server.url, ASSIGN, { i }, key);
  const errorOf = (r: Awaited<ReturnType<typeof gqlRaw>>) => [r.errors?.[0]?.extensions?.code, r.errors?.[0]?.extensions?.reason];
  const list = async (m: TestMerchant) => (await gql(server.url, `query($m: ID!) { dids(merchantId: $m) { number destination callCenterId agentKeyId linkId } }`, { m: m.merchantId }, m.merchantKey)).dids as Array<Record<string, unknown>>;

  test('a merchant assigns its numbers to a call center, an AGENT key and a link; the list shows them', async () => {
    const r = await assign(a.merchantKey, { merchantId: a.merchantId, number: '+33100000201', callCenterId: a.centerId });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.deepEqual({ ...(r.data!.assignDid as Record<string, unknown>), assignedAt: undefined }, {
      number: '+33100000201',
      merchantId: a.merchantId,
      destination: 'CALL_CENTER',
      callCenterId: a.centerId,
      agentKeyId: null,
      linkId: null,
      assignedAt: undefined,
    });
    assert.equal(errorOf(await assign(a.merchantKey, { merchantId: a.merchantId, number: '+33100000202', agentKeyId })).join(), ',');
    assert.equal(errorOf(await assign(ADMIN_KEY, { merchantId: a.merchantId, number: '+4420000001', linkId: a.linkId })).join(), ',', 'an admin assigns for the merchant');
    const listed = await eventually(async () => {
      const l = await list(a);
      return l.length === 3 ? l : null;
    }, 10_000, 'the three numbers in the read model');
    assert.deepEqual(listed, [
      { number: '+33100000201', destination: 'CALL_CENTER', callCenterId: a.centerId, agentKeyId: null, linkId: null },
      { number: '+33100000202', destination: 'AGENT', callCenterId: null, agentKeyId, linkId: null },
      { number: '+4420000001', destination: 'LINK', callCenterId: null, agentKeyId: null, linkId: a.linkId },
    ]);
  });

  test('bad input: malformed, foreign, taken by another merchant, a destination that is not the merchant’s, another merchant’s key; nothing changes', async () => {
    const cases: Array<[string, string, Record<string, unknown>, string[]]> = [
      ['malformed', a.merchantKey, { merchantId: a.merchantId, number: '0100000203', callCenterId: a.centerId }, ['BAD_USER_INPUT', 'DID_MALFORMED']],
      ['16 digits', a.merchantKey, { merchantId: a.merchantId, number: '+3310000020312345', callCenterId: a.centerId }, ['BAD_USER_INPUT', 'DID_MALFORMED']],
      ['a long string', a.merchantKey, { merchantId: a.merchantId, number: `+33${'1'.repeat(5000)}`, callCenterId: a.centerId }, ['BAD_USER_INPUT', 'DID_MALFORMED']],
      ['foreign (outside WEBDIAL_DID_BLOCKS)', a.merchantKey, { merchantId: a.merchantId, number: '+12125550100', callCenterId: a.centerId }, ['BAD_USER_INPUT', 'DID_NOT_OURS']],
      ['taken by another merchant', b.merchantKey, { merchantId: b.merchantId, number: '+33100000201', callCenterId: b.centerId }, ['CONFLICT', 'DID_TAKEN']],
      ['no destination', a.merchantKey, { merchantId: a.merchantId, number: '+33100000204' }, ['BAD_USER_INPUT', 'DID_DESTINATION']],
      ['two destinations', a.merchantKey, { merchantId: a.merchantId, number: '+33100000204', callCenterId: a.centerId, linkId: a.linkId }, ['BAD_USER_INPUT', 'DID_DESTINATION']],
      ["another merchant's center", a.merchantKey, { merchantId: a.merchantId, number: '+33100000204', callCenterId: b.centerId }, ['NOT_FOUND', undefined as unknown as string]],
      ["an AGENT key of another merchant", b.merchantKey, { merchantId: b.merchantId, number: '+33100000204', agentKeyId }, ['NOT_FOUND', undefined as unknown as string]],
      ["for another merchant with one's own key", b.merchantKey, { merchantId: a.merchantId, number: '+33100000204', callCenterId: a.centerId }, ['FORBIDDEN', undefined as unknown as string]],
    ];
    for (const [what, key, input, expected] of cases) assert.deepEqual(errorOf(await assign(key, input)), expected, what);
    const r = await gqlRaw(server.url, `mutation($m: ID!, $n: String!) { releaseDid(merchantId: $m, number: $n) }`, { m: b.merchantId, n: '+33100000201' }, b.merchantKey);
    assert.deepEqual(errorOf(r), ['NOT_FOUND', 'DID_NOT_ASSIGNED'], "B cannot release A's number");
    // Nothing changed: B has no number, A still has its three, +33100000201 still rings at A's center.
    await new Promise((res) => setTimeout(res, 500));
    assert.deepEqual(await list(b), []);
    assert.deepEqual((await list(a)).map((d) => d.number), ['+33100000201', '+33100000202', '+4420000001']);
  });

  test('released, a number may be taken by another merchant', async () => {
    await gql(server.url, `mutation($m: ID!, $n: String!) { releaseDid(merchantId: $m, number: $n) }`, { m: a.merchantId, n: '+33100000202' }, a.merchantKey);
    const r = await assign(b.merchantKey, { merchantId: b.merchantId, number: '+33100000202', callCenterId: b.centerId });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    await eventually(async () => ((await list(b)).length === 1 && (await list(a)).length === 2 ? true : null), 10_000, 'the move in the read model');
  });

  test("a center's opt-in to the session number as DTMF is read back with the merchant (issue 23)", async () => {
    const set = await gql(server.url, `mutation($c: ID!) { setCallCenterIdentityDtmf(callCenterId: $c, enabled: true) { identityDtmf } }`, { c: a.centerId }, a.merchantKey);
    assert.equal(set.setCallCenterIdentityDtmf.identityDtmf, true);
    const r = await gqlRaw(server.url, `mutation($c: ID!) { setCallCenterIdentityDtmf(callCenterId: $c, enabled: true) { identityDtmf } }`, { c: a.centerId }, b.merchantKey);
    assert.equal(r.errors?.[0]?.extensions?.code, 'FORBIDDEN', "another merchant's key");
    await eventually(async () => {
      const { merchant } = await gql(server.url, `query($m: ID!) { merchant(id: $m) { callCenters { id identityDtmf } } }`, { m: a.merchantId }, a.merchantKey);
      return merchant.callCenters.some((c: { id: string; identityDtmf: boolean }) => c.id === a.centerId && c.identityDtmf) ? true : null;
    }, 10_000, 'identityDtmf in the merchants read model');
  });

  test('two merchants racing for one number: exactly one gets it', async () => {
    const results = await Promise.all([
      assign(a.merchantKey, { merchantId: a.merchantId, number: '+33100000299', callCenterId: a.centerId }),
      assign(b.merchantKey, { merchantId: b.merchantId, number: '+33100000299', callCenterId: b.centerId }),
    ]);
    const won = results.filter((r) => !r.errors);
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.errors)));
    assert.deepEqual(errorOf(results.find((r) => r.errors)!), ['CONFLICT', 'DID_TAKEN']);
  });
});
