import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, collect, eventually, startServer, wsClient, type ServerProcess } from '../support/server';

/**
 * Issue 25, transfer through the real server (simulator media: no room, so this is the API, the
 * holder and the refusals; test/browser/transfer.browser.ts has the media): a browser call answered
 * at desk A is transferred blind to desk B (its console gets the pop, its agent takes the call and
 * from then on holds it), then warm back to a colleague at desk A (declined once, then completed);
 * a transfer open when the call ends is cancelled CALL_ENDED. Refusals change nothing; repeats are
 * answered with the same transfer.
 */
describe('transfer between consoles (issue 25): API, holder, refusals, idempotency', () => {
  let server: ServerProcess;
  const ids: Record<string, string> = {};
  const keyIdOf = (key: string) => key.split('.')[1]!;
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const as = (key: string) => (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, key);
  const refusalOf = async (key: string, q: string, v: Record<string, unknown>) => {
    const e = (await gqlRaw(server.url, q, v, key)).errors?.[0]?.extensions as { code?: string; reason?: string } | undefined;
    return [e?.code, e?.reason ?? null];
  };
  const T = 'callId transferId mode status fromCallCenterId fromAgent toCallCenterId toAgent cancelReason';
  const blind = (key: string, callId: string, to: string) => as(key)(`mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { ${T} } }`, { c: callId, to }).then((d) => d.transferCall);
  const warm = (key: string, callId: string, to: string) => as(key)(`mutation($c: ID!, $to: ID!) { consultTransfer(callId: $c, toAgent: $to) { ${T} } }`, { c: callId, to }).then((d) => d.consultTransfer);
  const complete = (key: string, callId: string, t: string) => as(key)(`mutation($c: ID!, $t: ID!) { completeTransfer(callId: $c, transferId: $t) { ${T} } }`, { c: callId, t }).then((d) => d.completeTransfer);
  const cancel = (key: string, callId: string, t: string) => as(key)(`mutation($c: ID!, $t: ID!) { cancelTransfer(callId: $c, transferId: $t) { ${T} } }`, { c: callId, t }).then((d) => d.cancelTransfer);
  const transfers = (key: string, callId: string) => as(key)(`query($c: ID!) { callTransfers(callId: $c) { ${T} } }`, { c: callId }).then((d) => d.callTransfers as Array<Record<string, unknown>>);
  const volume = (key: string, callId: string) => as(key)(`mutation($c: ID!) { agentCommand(callId: $c, action: VOLUME, argument: "+20") { accepted } }`, { c: callId });

  const place = async () => {
    const d = (
      await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
        i: { merchantId: ids.m, linkId: ids.link, customerId: 'cust-7', pageUrl: 'https://shop.example/p/lamp', context: { cart: ['sku-1'] } },
      })
    ).recordDownload as { callId: string; callToken: string };
    await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: d.callToken });
    return d;
  };

  before(async () => {
    server = await startServer({ WEBDIAL_ANI_QUARANTINE: '0' });
    const merchant = async (name: string) => (await admin(`mutation($n: String!) { createMerchant(input: { name: $n, allowedOrigins: ["https://shop.example"] }) { id } }`, { n: name })).createMerchant.id as string;
    const center = async (m: string, name: string, kind: string) =>
      (
        await admin(
          `mutation($m: ID!, $n: String!, $k: CallCenterKind) { addCallCenter(input: { merchantId: $m, name: $n, phoneNumber: "+14155550100", timeZone: "UTC", capacity: 3, region: "us-east", kind: $k }) { id } }`,
          { m, n: name, k: kind },
        )
      ).addCallCenter.id as string;
    const key = async (m: string, role: string, c: string | null = null) =>
      (await admin(`mutation($r: Role!, $m: ID, $c: ID) { createApiKey(role: $r, merchantId: $m, callCenterId: $c) { key } }`, { r: role, m, c })).createApiKey.key as string;
    ids.m = await merchant('Lamp shop');
    ids.deskA = await center(ids.m, 'Desk A', 'BROWSER');
    ids.deskB = await center(ids.m, 'Desk B', 'BROWSER');
    ids.phone = await center(ids.m, 'Phone room', 'PSTN');
    ids.other = await merchant('Other shop');
    ids.otherDesk = await center(ids.other, 'Their desk', 'BROWSER');
    await admin(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m: ids.m });
    ids.link = (await admin(`mutation($m: ID!, $c: [ID!]!) { createLink(input: { merchantId: $m, label: "Talk", callCenterIds: $c }) { id } }`, { m: ids.m, c: [ids.deskA] })).createLink.id;
    ids.a1 = await key(ids.m, 'AGENT', ids.deskA);
    ids.a2 = await key(ids.m, 'AGENT', ids.deskA);
    ids.b1 = await key(ids.m, 'AGENT', ids.deskB);
    ids.crm = await key(ids.m, 'CRM');
    ids.theirs = await key(ids.other, 'AGENT', ids.otherDesk);
  });
  after(async () => {
    await server?.stop();
  });

  test('blind to desk B, then warm back to a colleague at desk A: the holder moves; refusals change nothing; repeats answer the same', async () => {
    const { callId } = await place();
    await as(ids.a1)(`mutation($c: ID!) { answerCall(callId: $c) { state } }`, { c: callId });
    const B = 'mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { transferId } }';
    const W = 'mutation($c: ID!, $to: ID!) { consultTransfer(callId: $c, toAgent: $to) { transferId } }';

    // Refusals, each with its stable reason, and nothing recorded.
    assert.deepEqual(await refusalOf(ids.a1, B, { c: callId, to: ids.otherDesk }), ['FORBIDDEN', 'TRANSFER_OTHER_MERCHANT'], "another merchant's center");
    assert.deepEqual(await refusalOf(ids.a1, B, { c: callId, to: 'cc_nope' }), ['FORBIDDEN', 'TRANSFER_OTHER_MERCHANT'], 'an unknown center: the same answer');
    assert.deepEqual(await refusalOf(ids.a1, W, { c: callId, to: keyIdOf(ids.theirs) }), ['FORBIDDEN', 'TRANSFER_OTHER_MERCHANT'], "another merchant's agent");
    assert.deepEqual(await refusalOf(ids.a1, B, { c: callId, to: ids.deskA }), ['BAD_USER_INPUT', 'TRANSFER_SAME_CENTER']);
    assert.deepEqual(await refusalOf(ids.a1, W, { c: callId, to: keyIdOf(ids.a1) }), ['BAD_USER_INPUT', 'TRANSFER_TO_SELF']);
    assert.deepEqual(await refusalOf(ids.a1, B, { c: callId, to: ids.phone }), ['CONFLICT', 'TRANSFER_PSTN_UNSUPPORTED']);
    assert.deepEqual(await refusalOf(ids.a2, B, { c: callId, to: ids.deskB }), ['CONFLICT', 'TRANSFER_NOT_CALL_AGENT'], 'a colleague who does not hold the call');
    assert.deepEqual(await refusalOf(ids.b1, B, { c: callId, to: ids.deskB }), ['FORBIDDEN', null], 'an agent of a center not on the call');
    assert.deepEqual(await refusalOf(ids.theirs, B, { c: callId, to: ids.deskB }), ['FORBIDDEN', null], "another merchant's key");
    assert.deepEqual(await refusalOf(ids.a1, B, { c: callId, to: 'x'.repeat(101) }), ['BAD_USER_INPUT', null], 'an id longer than 100');
    assert.deepEqual(await transfers(ids.a1, callId), [], 'no refusal recorded anything');

    // Blind: offered to desk B, whose console gets the call's screen pop.
    const pops = collect<{ callId: string; customerId: string; context: unknown }>(wsClient(server.wsUrl, ids.b1), `subscription($m: ID!) { screenPops(merchantId: $m) { callId customerId context } }`, { m: ids.m }, (i) => i.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    const offered = await blind(ids.a1, callId, ids.deskB);
    assert.deepEqual([offered.mode, offered.status, offered.fromCallCenterId, offered.fromAgent, offered.toCallCenterId, offered.toAgent], ['BLIND', 'OPEN', ids.deskA, keyIdOf(ids.a1), ids.deskB, null]);
    assert.equal((await blind(ids.a1, callId, ids.deskB)).transferId, offered.transferId, 'the same click again: the open transfer');
    assert.deepEqual(await refusalOf(ids.a1, W, { c: callId, to: keyIdOf(ids.a2) }), ['CONFLICT', 'TRANSFER_IN_PROGRESS']);
    const [pop] = await pops.done;
    assert.deepEqual([pop!.callId, pop!.customerId, pop!.context], [callId, 'cust-7', { cart: ['sku-1'] }], "desk B's console: the call's pop");
    // Desk B's agent may follow the call now (its events, its timeline), and only desk B's agent takes it.
    const followed = collect<{ type: string }>(wsClient(server.wsUrl, ids.b1), `subscription($m: ID!, $c: ID!) { callEvents(merchantId: $m, callId: $c) { type } }`, { m: ids.m, c: callId }, (i) => i.some((e) => e.type === 'TransferCompleted'));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await as(ids.b1)(`query($c: ID!) { callTimeline(callId: $c) { type } }`, { c: callId })).callTimeline.length > 0, "desk B's agent reads the call's timeline");
    const C = 'mutation($c: ID!, $t: ID!) { completeTransfer(callId: $c, transferId: $t) { status } }';
    assert.deepEqual(await refusalOf(ids.a1, C, { c: callId, t: offered.transferId }), ['FORBIDDEN', 'TRANSFER_NOT_TARGET'], 'the agent who handed over cannot take it');
    assert.deepEqual(await refusalOf(ids.b1, C, { c: callId, t: 'tr_nope' }), ['NOT_FOUND', 'TRANSFER_UNKNOWN']);
    const taken = await complete(ids.b1, callId, offered.transferId);
    assert.deepEqual([taken.status, taken.toCallCenterId, taken.toAgent], ['COMPLETED', ids.deskB, keyIdOf(ids.b1)]);
    assert.deepEqual(await complete(ids.b1, callId, offered.transferId), taken, 'completed again: the same');
    assert.deepEqual(await refusalOf(ids.b1, 'mutation($c: ID!, $t: ID!) { cancelTransfer(callId: $c, transferId: $t) { status } }', { c: callId, t: offered.transferId }), ['CONFLICT', 'TRANSFER_CLOSED']);
    await followed.done;

    // Desk B's agent holds the call: its buttons work; desk A's agent is off it.
    assert.equal((await volume(ids.b1, callId)).agentCommand.accepted, true);
    assert.deepEqual(await refusalOf(ids.a1, 'mutation($c: ID!) { agentCommand(callId: $c, action: VOLUME, argument: "+20") { accepted } }', { c: callId }), ['FORBIDDEN', null]);
    assert.deepEqual(await refusalOf(ids.a1, 'mutation($c: ID!) { agentHangUp(callId: $c) { state } }', { c: callId }), ['FORBIDDEN', null]);
    assert.deepEqual(await refusalOf(ids.a1, B, { c: callId, to: ids.deskB }), ['FORBIDDEN', null], 'nor can it transfer it again');

    // Warm, back to a colleague at desk A: declined once (TARGET_UNAVAILABLE), then completed by the colleague.
    const first = await warm(ids.b1, callId, keyIdOf(ids.a2));
    assert.deepEqual([first.mode, first.status, first.toCallCenterId, first.toAgent], ['WARM', 'OPEN', ids.deskA, keyIdOf(ids.a2)]);
    const colleagues = (await as(ids.b1)(`query($c: ID!) { transferColleagues(callId: $c) { agent callCenterId } }`, { c: callId })).transferColleagues as Array<{ agent: string }>;
    assert.ok(colleagues.some((c) => c.agent === keyIdOf(ids.a2)) && !colleagues.some((c) => c.agent === keyIdOf(ids.b1) || c.agent === keyIdOf(ids.theirs)), 'the merchant\'s other agents, not oneself, not another merchant\'s');
    const declined = await cancel(ids.a2, callId, first.transferId);
    assert.deepEqual([declined.status, declined.cancelReason], ['CANCELLED', 'TARGET_UNAVAILABLE']);
    assert.deepEqual(await cancel(ids.a2, callId, first.transferId), declined, 'cancelled again: the same');
    const second = await warm(ids.b1, callId, keyIdOf(ids.a2));
    assert.notEqual(second.transferId, first.transferId);
    const done = await complete(ids.a2, callId, second.transferId);
    assert.deepEqual([done.status, done.toAgent], ['COMPLETED', keyIdOf(ids.a2)]);
    assert.equal((await volume(ids.a2, callId)).agentCommand.accepted, true, 'the colleague holds it now');
    assert.deepEqual(await refusalOf(ids.b1, 'mutation($c: ID!) { agentCommand(callId: $c, action: VOLUME, argument: "+20") { accepted } }', { c: callId }), ['FORBIDDEN', null]);
    // The CRM key of the merchant sees every transfer, in order.
    assert.deepEqual((await transfers(ids.crm, callId)).map((t) => [t.mode, t.status, t.cancelReason]), [
      ['BLIND', 'COMPLETED', null],
      ['WARM', 'CANCELLED', 'TARGET_UNAVAILABLE'],
      ['WARM', 'COMPLETED', null],
    ]);
    const ended = (await as(ids.a2)(`mutation($c: ID!) { agentHangUp(callId: $c) { state terminatedBy } }`, { c: callId })).agentHangUp;
    assert.deepEqual([ended.state, ended.terminatedBy], ['TERMINATED', 'CALLEE'], "the new holder's hang-up ends the call");
    // Billing: one leg per holder (desk A's agent, desk B's, desk A's colleague), the charge their sum, on the call's source page.
    const charge = await eventually(
      async () => (await admin(`query($c: ID!) { call(id: $c) { charge { amountMinor billableSeconds sourcePage legs { callCenterId agent talkMs billableSeconds amountMinor } } } }`, { c: callId })).call.charge,
      10_000,
      'the charge',
    );
    assert.deepEqual(
      charge.legs.map((l: { callCenterId: string; agent: string }) => [l.callCenterId, l.agent]),
      [
        [ids.deskA, keyIdOf(ids.a1)],
        [ids.deskB, keyIdOf(ids.b1)],
        [ids.deskA, keyIdOf(ids.a2)],
      ],
    );
    assert.equal(charge.amountMinor, charge.legs.reduce((n: number, l: { amountMinor: number }) => n + Number(l.amountMinor), 0));
    assert.equal(charge.sourcePage, 'https://shop.example/p/lamp');
    // callTimeline shows each hand-over among the call's own events, in the store's order.
    const timeline = await eventually(
      async () => {
        const rows = (await as(ids.crm)(`query($c: ID!) { callTimeline(callId: $c) { type position data } }`, { c: callId })).callTimeline as Array<{ type: string; position: string; data: { mode?: string } }>;
        return rows.some((r) => r.type === 'CallTerminated') && rows.filter((r) => r.type.startsWith('Transfer')).length === 6 ? rows : null;
      },
      10_000,
      'the hand-overs in the timeline',
    );
    assert.deepEqual(
      timeline.filter((r) => r.type.startsWith('Transfer') || r.type === 'CallAnswered' || r.type === 'CallTerminated').map((r) => (r.data.mode ? `${r.type} ${r.data.mode}` : r.type)),
      ['CallAnswered', 'TransferStarted BLIND', 'TransferCompleted BLIND', 'TransferStarted WARM', 'TransferCancelled', 'TransferStarted WARM', 'TransferCompleted WARM', 'CallTerminated'],
    );
    assert.deepEqual(timeline.map((r) => r.position), timeline.map((r) => r.position).sort(), 'in position order');
  });

  test('a transfer still open when the call ends is cancelled (CALL_ENDED)', async () => {
    const { callId, callToken } = await place();
    await as(ids.a1)(`mutation($c: ID!) { answerCall(callId: $c) { state } }`, { c: callId });
    const open = await blind(ids.a1, callId, ids.deskB);
    await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: callToken });
    const t = await eventually(async () => {
      const [x] = await transfers(ids.crm, callId);
      return x?.status === 'CANCELLED' ? x : null;
    }, 10_000, 'the open transfer cancelled');
    assert.deepEqual([t.transferId, t.cancelReason], [open.transferId, 'CALL_ENDED']);
    assert.deepEqual(await refusalOf(ids.b1, 'mutation($c: ID!, $t: ID!) { completeTransfer(callId: $c, transferId: $t) { status } }', { c: callId, t: open.transferId }), ['CONFLICT', 'TRANSFER_CLOSED'], 'too late to take it');
  });
});
