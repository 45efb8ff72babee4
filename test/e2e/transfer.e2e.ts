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

  const place = () => placeCall(server.url, ids.m!, ids.link!);

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
    ids.p1 = await key(ids.m, 'AGENT', ids.phone);
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
    assert.deepEqual(await refusalOf(ids.a1, W, { c: callId, to: keyIdOf(ids.p1) }), ['CONFLICT', 'TRANSFER_PSTN_UNSUPPORTED'], 'warm, to an agent of a PSTN center');
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

/**
 * Issue 25, a browser call transferred BLIND to a PSTN center through the real server, the simulator
 * playing the center's phone (a second leg of the call, `<callId>.t<n>`): answered → the transfer is
 * completed by that center's phone, which holds the call; its hang-up ends the call; two legs billed;
 * the transfer's port released, and its caller ID finds the call. A busy center → cancelled
 * TARGET_BUSY, the call stays with the first agent, the port released. The Chromium + LiveKit SIP
 * test (test/browser/transfer-pstn.browser.ts) has the media.
 */
describe('transfer to a PSTN center (issue 25): the center dialled as a second leg of the call', () => {
  const PORT_ANI = '+14155550777';
  const T = 'transferId mode status fromCallCenterId fromAgent toCallCenterId toAgent cancelReason';
  const keyIdOf = (key: string) => key.split('.')[1]!;

  /** A server whose simulated PSTN center answers (talks `talkMs`, then hangs up), or is busy. */
  const setup = async (env: Record<string, string>) => {
    const serverEnv = { WEBDIAL_MEDIA: 'simulator', WEBDIAL_SIM_RING_MS: '100', WEBDIAL_SIM_ANSWER_MS: '200', WEBDIAL_ANI_QUARANTINE: '0', ...env };
    let server = await startServer(serverEnv);
    const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
    const ids: Record<string, string> = {};
    const merchant = async (name: string) => (await admin(`mutation($n: String!) { createMerchant(input: { name: $n, allowedOrigins: ["https://shop.example"] }) { id } }`, { n: name })).createMerchant.id as string;
    const center = async (m: string, name: string, kind: string, phoneNumber: string) =>
      (
        await admin(
          `mutation($m: ID!, $n: String!, $k: CallCenterKind, $p: String!) { addCallCenter(input: { merchantId: $m, name: $n, phoneNumber: $p, timeZone: "UTC", capacity: 3, region: "us-east", kind: $k }) { id } }`,
          { m, n: name, k: kind, p: phoneNumber },
        )
      ).addCallCenter.id as string;
    const key = async (m: string, role: string, c: string | null = null) =>
      (await admin(`mutation($r: Role!, $m: ID, $c: ID) { createApiKey(role: $r, merchantId: $m, callCenterId: $c) { key } }`, { r: role, m, c })).createApiKey.key as string;
    ids.m = await merchant('Lamp shop');
    ids.desk = await center(ids.m, 'Desk', 'BROWSER', '+14155550100');
    ids.phone = await center(ids.m, 'Phone room', 'PSTN', '+14155550199');
    ids.deskB = await center(ids.m, 'Desk B', 'BROWSER', '+14155550101');
    ids.other = await merchant('Other shop');
    ids.otherPhone = await center(ids.other, 'Their phones', 'PSTN', '+14155550188');
    ids.g = (await admin(`mutation($a: String!) { createGateway(input: { name: "GW", region: "us-east", ports: [{ number: 1, ani: $a }] }) { id } }`, { a: PORT_ANI })).createGateway.id;
    await admin(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m: ids.m });
    ids.link = (await admin(`mutation($m: ID!, $c: [ID!]!) { createLink(input: { merchantId: $m, label: "Talk", callCenterIds: $c }) { id } }`, { m: ids.m, c: [ids.desk] })).createLink.id;
    ids.a1 = await key(ids.m, 'AGENT', ids.desk);
    ids.crm = await key(ids.m, 'CRM');
    ids.b1 = await key(ids.m, 'AGENT', ids.deskB);
    const as = (k: string) => (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, k);
    const answered = async () => {
      const d = await placeCall(server.url, ids.m!, ids.link!);
      await as(ids.a1)(`mutation($c: ID!) { answerCall(callId: $c) { state } }`, { c: d.callId });
      return d;
    };
    const blind = (callId: string, to: string) => as(ids.a1)(`mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { ${T} } }`, { c: callId, to }).then((d) => d.transferCall);
    const transfers = (callId: string) => as(ids.crm)(`query($c: ID!) { callTransfers(callId: $c) { ${T} } }`, { c: callId }).then((d) => d.callTransfers as Array<Record<string, unknown>>);
    const port = async () => (await admin(`query($g: ID!) { gateway(id: $g) { ports { busy callId } } }`, { g: ids.g })).gateway.ports[0] as { busy: boolean; callId: string | null };
    const call = async (callId: string) => (await admin(`query($c: ID!) { call(id: $c) { state terminatedBy terminationCause } }`, { c: callId })).call;
    /** kill -9, then the same store again (the simulator's legs are gone with the process). */
    const crashAndRestart = async () => {
      await server.crash();
      server = await startServer(serverEnv, server.dataDir);
    };
    return {
      get server() {
        return server;
      },
      crashAndRestart,
      ids,
      admin,
      as,
      answered,
      blind,
      transfers,
      port,
      call,
    };
  };

  test('answered: completed by the center\'s phone, which holds the call; its caller ID finds the call; its hang-up ends it; two legs billed; the port released', async () => {
    const t = await setup({ WEBDIAL_SIM_TALK_MS: '2500' });
    try {
      const { ids } = t;
      const { callId } = await t.answered();
      assert.deepEqual(await blindRefusal(t.server.url, ids.a1, callId, ids.otherPhone), ['FORBIDDEN', 'TRANSFER_OTHER_MERCHANT'], "another merchant's PSTN center");
      assert.deepEqual(await t.transfers(callId), [], 'the refusal recorded nothing');
      const open = await t.blind(callId, ids.phone);
      assert.deepEqual([open.mode, open.status, open.fromAgent, open.toCallCenterId, open.toAgent], ['BLIND', 'OPEN', keyIdOf(ids.a1), ids.phone, null]);
      await eventually(async () => ((await t.port()).callId === callId ? true : null), 5000, "the transfer's port, seized for the call");
      // The center's CRM finds the call by the port's caller ID.
      const pop = await eventually(async () => (await t.as(ids.crm)(`query($a: String!) { callContextByAni(ani: $a) { callId customerId pageUrl } }`, { a: PORT_ANI })).callContextByAni, 5000, 'the call by caller ID');
      assert.deepEqual(pop, { callId, customerId: 'cust-7', pageUrl: 'https://shop.example/p/lamp' });
      const done = await eventually(async () => {
        const [x] = await t.transfers(callId);
        return x?.status === 'COMPLETED' ? x : null;
      }, 5000, 'completed by the phone');
      assert.deepEqual([done.transferId, done.toCallCenterId, done.toAgent], [open.transferId, ids.phone, null], "the center's phone has the call (no agent key)");
      // The first agent is off the call.
      const refused = (await gqlRaw(t.server.url, `mutation($c: ID!) { agentHangUp(callId: $c) { state } }`, { c: callId }, ids.a1)).errors?.[0]?.extensions as { code?: string };
      assert.equal(refused?.code, 'FORBIDDEN', 'the first agent no longer holds the call');
      assert.equal((await t.call(callId)).state, 'ANSWERED', 'the call goes on with the center');
      // The simulated center hangs up after its talk time: the call ends, the callee's hang-up.
      const ended = await eventually(async () => {
        const c = await t.call(callId);
        return c.state === 'TERMINATED' ? c : null;
      }, 10_000, 'the call ended by the center');
      assert.deepEqual([ended.terminatedBy, ended.terminationCause], ['CALLEE', 'HANGUP']);
      await eventually(async () => ((await t.port()).busy ? null : true), 5000, 'the port released');
      const charge = await eventually(
        async () => (await t.admin(`query($c: ID!) { call(id: $c) { charge { amountMinor sourcePage legs { callCenterId agent talkMs amountMinor } } } }`, { c: callId })).call.charge,
        10_000,
        'the charge',
      );
      assert.deepEqual(charge.legs.map((l: { callCenterId: string; agent: string | null }) => [l.callCenterId, l.agent]), [
        [ids.desk, keyIdOf(ids.a1)],
        [ids.phone, null],
      ]);
      assert.ok(charge.legs[1].talkMs >= 2000, `the center's leg is its talk time (${charge.legs[1].talkMs} ms)`);
      assert.equal(charge.amountMinor, charge.legs.reduce((n: number, l: { amountMinor: number }) => n + Number(l.amountMinor), 0));
      assert.equal(charge.sourcePage, 'https://shop.example/p/lamp');
      const timeline = await eventually(
        async () => {
          const rows = (await t.as(ids.crm)(`query($c: ID!) { callTimeline(callId: $c) { type } }`, { c: callId })).callTimeline as Array<{ type: string }>;
          return rows.some((r) => r.type === 'CallTerminated') && rows.some((r) => r.type === 'TransferCompleted') ? rows : null;
        },
        10_000,
        'the hand-over in the timeline',
      );
      assert.deepEqual(
        timeline.map((r) => r.type).filter((x) => x.startsWith('Transfer') || x === 'CallAnswered' || x === 'CallTerminated'),
        ['CallAnswered', 'TransferStarted', 'TransferDialled', 'TransferCompleted', 'CallTerminated'],
      );
    } finally {
      await t.server.stop();
    }
  });

  test('busy: cancelled TARGET_BUSY, the call stays with the first agent, the port released', async () => {
    const t = await setup({ WEBDIAL_SIM_TALK_MS: '600000', WEBDIAL_SIM_BUSY_RATE: '1' });
    try {
      const { ids } = t;
      const { callId } = await t.answered();
      const open = await t.blind(callId, ids.phone);
      assert.equal(open.status, 'OPEN');
      const over = await eventually(async () => {
        const [x] = await t.transfers(callId);
        return x?.status === 'CANCELLED' ? x : null;
      }, 5000, 'cancelled');
      assert.deepEqual([over.transferId, over.cancelReason], [open.transferId, 'TARGET_BUSY']);
      await eventually(async () => ((await t.port()).busy ? null : true), 5000, 'the port released');
      assert.equal((await t.call(callId)).state, 'ANSWERED', 'the call goes on');
      const volume = await t.as(ids.a1)(`mutation($c: ID!) { agentCommand(callId: $c, action: VOLUME, argument: "+20") { accepted } }`, { c: callId });
      assert.equal(volume.agentCommand.accepted, true, 'the first agent still holds the call');
      const ended = (await t.as(ids.a1)(`mutation($c: ID!) { agentHangUp(callId: $c) { state terminatedBy } }`, { c: callId })).agentHangUp;
      assert.deepEqual([ended.state, ended.terminatedBy], ['TERMINATED', 'CALLEE']);
    } finally {
      await t.server.stop();
    }
  });

  test('a call the PSTN center holds is handed on blind by a CRM key (not warm): desk B takes it, the phone leaves and its port comes back; three legs', async () => {
    const t = await setup({ WEBDIAL_SIM_TALK_MS: '600000' });
    try {
      const { ids } = t;
      const { callId } = await t.answered();
      await t.blind(callId, ids.phone);
      await eventually(async () => ((await t.transfers(callId))[0]?.status === 'COMPLETED' ? true : null), 5000, 'the phone holds the call');
      const W = 'mutation($c: ID!, $to: ID!) { consultTransfer(callId: $c, toAgent: $to) { transferId } }';
      const warmRefused = (await gqlRaw(t.server.url, W, { c: callId, to: keyIdOf(ids.b1) }, ids.crm)).errors?.[0]?.extensions as { code?: string; reason?: string };
      assert.deepEqual([warmRefused.code, warmRefused.reason], ['CONFLICT', 'TRANSFER_PSTN_UNSUPPORTED'], 'nobody at the phone consults a colleague');
      const onward = (await t.as(ids.crm)(`mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { ${T} } }`, { c: callId, to: ids.deskB })).transferCall;
      assert.deepEqual([onward.status, onward.fromCallCenterId, onward.fromAgent, onward.toCallCenterId], ['OPEN', ids.phone, null, ids.deskB], 'from the phone (no agent key)');
      await eventually(async () => ((await t.port()).callId === callId ? true : null), 5000, 'the phone holds its port');
      const taken = (await t.as(ids.b1)(`mutation($c: ID!, $t: ID!) { completeTransfer(callId: $c, transferId: $t) { ${T} } }`, { c: callId, t: onward.transferId })).completeTransfer;
      assert.deepEqual([taken.status, taken.toAgent], ['COMPLETED', keyIdOf(ids.b1)]);
      await eventually(async () => ((await t.port()).busy ? null : true), 5000, 'the phone left: its port released');
      assert.equal((await t.as(ids.b1)(`mutation($c: ID!) { agentCommand(callId: $c, action: VOLUME, argument: "+20") { accepted } }`, { c: callId })).agentCommand.accepted, true, 'desk B holds the call');
      await new Promise((r) => setTimeout(r, 300));
      const ended = (await t.as(ids.b1)(`mutation($c: ID!) { agentHangUp(callId: $c) { state terminatedBy } }`, { c: callId })).agentHangUp;
      assert.deepEqual([ended.state, ended.terminatedBy], ['TERMINATED', 'CALLEE']);
      const charge = await eventually(async () => (await t.admin(`query($c: ID!) { call(id: $c) { charge { legs { callCenterId agent } } } }`, { c: callId })).call.charge, 10_000, 'the charge');
      assert.deepEqual(charge.legs.map((l: { callCenterId: string; agent: string | null }) => [l.callCenterId, l.agent]), [
        [ids.desk, keyIdOf(ids.a1)],
        [ids.phone, null],
        [ids.deskB, keyIdOf(ids.b1)],
      ]);
    } finally {
      await t.server.stop();
    }
  });

  test("a crash while the center rings: the transfer's port is the call's, so the call's end after the restart releases it and cancels the transfer (CALL_ENDED)", async () => {
    const t = await setup({ WEBDIAL_SIM_ANSWER_MS: '600000' });
    try {
      const { ids } = t;
      const { callId, callToken } = await t.answered();
      await t.blind(callId, ids.phone);
      await eventually(async () => ((await t.port()).callId === callId ? true : null), 5000, "the transfer's port seized");
      await t.crashAndRestart();
      assert.equal((await t.port()).busy, true, 'still held after the restart');
      assert.deepEqual((await t.transfers(callId)).map((x) => x.status), ['OPEN']);
      await gql(t.server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: callToken });
      await eventually(async () => ((await t.port()).busy ? null : true), 10_000, 'the port released at the end');
      const [over] = await eventually(async () => {
        const list = await t.transfers(callId);
        return list[0]?.status === 'CANCELLED' ? list : null;
      }, 10_000, 'the transfer cancelled');
      assert.equal(over!.cancelReason, 'CALL_ENDED');
    } finally {
      await t.server.stop();
    }
  });
});

/** The refusal of a blind transfer: [code, reason]. */
const blindRefusal = async (url: string, key: string, callId: string, to: string) => {
  const e = (await gqlRaw(url, 'mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { transferId } }', { c: callId, to }, key)).errors?.[0]?.extensions as { code?: string; reason?: string } | undefined;
  return [e?.code, e?.reason ?? null];
};

/** A shopper's click on the lamp page of `linkId`, initiated (it rings in the link's browser center). */
const placeCall = async (url: string, merchantId: string, linkId: string) => {
  const d = (
    await gql(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
      i: { merchantId, linkId, customerId: 'cust-7', pageUrl: 'https://shop.example/p/lamp', context: { cart: ['sku-1'] } },
    })
  ).recordDownload as { callId: string; callToken: string };
  await gql(url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: d.callToken });
  return d;
};
