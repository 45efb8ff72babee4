import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql, gqlRaw } from '../../src/cli/client';
import { rateCall } from '../../src/domain/rating/rating';
import { talkMsBetween } from '../../src/domain/call/call';
import { ADMIN_KEY, collect, eventually, startServer, wsClient, type ServerProcess } from '../support/server';

/**
 * Issue 12 through the real server, as the agent console uses the API: a browser (PC-to-PC) call
 * center whose calls ring in the console; the agent answers, gives the DTMF commands with buttons,
 * chats and hangs up; the call is billed like any other. A link mixes a browser and a PSTN center
 * (the simulator plays the PSTN one). Then the dashboard's CSV export (streamed, single-use, with a
 * limit) and its re-rate what-if (a dry run that changes nothing).
 */
describe('PC-to-PC: browser call centers and the agent console (simulator media)', () => {
  let server: ServerProcess;
  const ids: Record<string, string> = {};
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const as = (key: string) => (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, key);
  const codeOf = async (q: string, v: Record<string, unknown>, key?: string) => (await gqlRaw(server.url, q, v, key)).errors?.[0]?.extensions?.code;
  const place = async (linkId: string, customerId = 'cust-42') => {
    const d = (
      await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
        i: { merchantId: ids.m, linkId, customerId, pageUrl: 'https://shop.example/p/lamp', referrer: 'https://search.example/?q=lamp', context: { cart: ['sku-1', 'sku-2'] } },
      })
    ).recordDownload as { callId: string; callToken: string };
    const call = (await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { id state media callCenterId ani gatewayId port } }`, { t: d.callToken })).initiateCall;
    return { ...d, call };
  };

  before(async () => {
    server = await startServer({ WEBDIAL_SIM_RING_MS: '100', WEBDIAL_SIM_ANSWER_MS: '100', WEBDIAL_SIM_TALK_MS: '60000', WEBDIAL_ANI_QUARANTINE: '0' });
    ids.m = (await admin(`mutation { createMerchant(input: { name: "Lamp shop", allowedOrigins: ["https://shop.example"] }) { id } }`)).createMerchant.id;
    const center = async (name: string, kind: string, capacity: number) =>
      (
        await admin(
          `mutation($m: ID!, $n: String!, $k: CallCenterKind, $c: Int!) { addCallCenter(input: { merchantId: $m, name: $n, phoneNumber: "+14155550100", timeZone: "UTC", capacity: $c, region: "us-east", kind: $k }) { id kind } }`,
          { m: ids.m, n: name, k: kind, c: capacity },
        )
      ).addCallCenter;
    const desk = await center('Browser desk', 'BROWSER', 1);
    assert.equal(desk.kind, 'BROWSER');
    ids.desk = desk.id;
    ids.phone = (await center('Phone room', 'PSTN', 5)).id;
    await admin(`mutation { createGateway(input: { name: "GW", region: "us-east", ports: [{ number: 1, ani: "+14155550201" }, { number: 2, ani: "+14155550202" }] }) { id } }`);
    const link = async (label: string, centers: string[]) =>
      (await admin(`mutation($m: ID!, $l: String!, $c: [ID!]!) { createLink(input: { merchantId: $m, label: $l, callCenterIds: $c }) { id } }`, { m: ids.m, l: label, c: centers })).createLink.id;
    ids.browserLink = await link('Talk in the browser', [ids.desk]);
    ids.mixedLink = await link('Call us', [ids.desk, ids.phone]);
    await admin(
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`,
      { m: ids.m },
    );
    await admin(`mutation($m: ID!) { setDtmfCommand(merchantId: $m, sequence: "*76", action: PUSH_PAGE, argument: "https://shop.example/offers") }`, { m: ids.m });
    const key = async (role: string, callCenterId?: string) =>
      (await admin(`mutation($r: Role!, $m: ID, $c: ID) { createApiKey(role: $r, merchantId: $m, callCenterId: $c) { key callCenterId } }`, { r: role, m: ids.m, c: callCenterId ?? null })).createApiKey;
    const agent = await key('AGENT', ids.desk);
    assert.equal(agent.callCenterId, ids.desk);
    ids.agent = agent.key;
    ids.agent2 = (await key('AGENT', ids.desk)).key;
    ids.phoneAgent = (await key('AGENT', ids.phone)).key;
    ids.merchantKey = (await key('MERCHANT')).key;
  });
  after(async () => {
    await server?.stop();
  });

  test('an AGENT key needs a call center of its merchant', async () => {
    assert.equal(await codeOf(`mutation($m: ID) { createApiKey(role: AGENT, merchantId: $m) { key } }`, { m: ids.m }, ADMIN_KEY), 'BAD_USER_INPUT');
    assert.equal(await codeOf(`mutation($m: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: "cc_nope") { key } }`, { m: ids.m }, ADMIN_KEY), 'NOT_FOUND');
    assert.equal(await codeOf(`mutation($m: ID, $c: ID) { createApiKey(role: CRM, merchantId: $m, callCenterId: $c) { key } }`, { m: ids.m, c: ids.desk }, ADMIN_KEY), 'BAD_USER_INPUT');
    assert.deepEqual((await as(ids.agent)(`{ viewer { role merchantId merchantName callCenterId } }`)).viewer, { role: 'AGENT', merchantId: ids.m, merchantName: 'Lamp shop', callCenterId: ids.desk });
  });

  test('a browser call rings in the console with its screen pop, the agent answers, commands and chat reach the caller, hang-up, billing', async () => {
    // An earlier call of the same customer, for the pop's history (ended at once by the caller).
    const earlier = await place(ids.browserLink);
    await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: earlier.callToken });

    const ws = wsClient(server.wsUrl, ids.agent);
    const pops = collect<{ callId: string; state: string; media: string; ani: string | null; pageUrl: string; referrer: string; context: unknown; earlierCalls: Array<{ id: string }> }>(
      ws,
      `subscription($m: ID!) { screenPops(merchantId: $m) { callId state media ani callCenterId pageUrl referrer context earlierCalls(first: 3) { id state } } }`,
      { m: ids.m },
      (items) => items.length >= 1,
    );
    await new Promise((r) => setTimeout(r, 300));
    const { callId, callToken, call } = await place(ids.browserLink);
    // Rings at once, with no port and no caller ID: nothing is dialled.
    assert.deepEqual([call.state, call.media, call.callCenterId, call.ani, call.gatewayId, call.port], ['RINGING', 'BROWSER', ids.desk, null, null, null]);
    const [pop] = await pops.done;
    assert.equal(pop!.callId, callId);
    assert.deepEqual([pop!.state, pop!.media, pop!.ani, pop!.pageUrl, pop!.referrer], ['RINGING', 'BROWSER', null, 'https://shop.example/p/lamp', 'https://search.example/?q=lamp']);
    assert.deepEqual(pop!.context, { cart: ['sku-1', 'sku-2'] });
    assert.deepEqual(await eventually(async () => {
      const again = (await as(ids.agent)(`query($id: ID!) { call(id: $id) { context { earlierCalls { id } } } }`, { id: callId })).call;
      return again?.context?.earlierCalls.length ? again.context.earlierCalls.map((c: { id: string }) => c.id) : null;
    }, 10_000, 'earlier calls in the read model'), [earlier.callId]);

    const pushes = collect<{ kind: string; url: string | null; volumePercent: number | null; channelId: string | null; text: string | null; state: string | null }>(
      wsClient(server.wsUrl),
      `subscription($t: String!) { customerSession(callToken: $t) { kind state url volumePercent channelId text } }`,
      { t: callToken },
      (items) => items.some((i) => i.kind === 'CALL_STATE' && i.state === 'TERMINATED'),
    );
    await new Promise((r) => setTimeout(r, 300));

    // Commands before the answer are refused; the agent of another center cannot even see the call.
    assert.equal(await codeOf(`mutation($id: ID!) { agentCommand(callId: $id, action: VOLUME, argument: "+20") { accepted } }`, { id: callId }, ids.agent), 'CONFLICT');
    assert.equal(await codeOf(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: callId }, ids.phoneAgent), 'FORBIDDEN');
    const answered = (await as(ids.agent)(`mutation($id: ID!) { answerCall(callId: $id) { state answeredAt } }`, { id: callId })).answerCall;
    assert.equal(answered.state, 'ANSWERED');
    assert.equal((await as(ids.agent)(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: callId })).answerCall.state, 'ANSWERED', 'a double click is a no-op');
    assert.equal(await codeOf(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: callId }, ids.agent2), 'CONFLICT', 'another agent');
    assert.deepEqual((await as(ids.agent)(`query($id: ID!) { agentMediaJoin(callId: $id) { provider url token room } }`, { id: callId })).agentMediaJoin, {
      provider: 'simulator',
      url: null,
      token: null,
      room: null,
    });

    const command = (action: string, argument: string) =>
      as(ids.agent)(`mutation($id: ID!, $a: DtmfAction!, $g: String) { agentCommand(callId: $id, action: $a, argument: $g) { action argument sequence accepted reason } }`, { id: callId, a: action, g: argument }).then(
        (d) => d.agentCommand,
      );
    assert.deepEqual(await command('PUSH_PAGE', 'https://shop.example/offers'), { action: 'PUSH_PAGE', argument: 'https://shop.example/offers', sequence: '*76', accepted: true, reason: null });
    const refused = await command('PUSH_PAGE', 'https://elsewhere.example/win');
    assert.equal(refused.accepted, false);
    assert.match(refused.reason, /origin https:\/\/elsewhere\.example is not among the merchant's allowed origins/);
    assert.equal(await codeOf(`mutation($id: ID!) { agentCommand(callId: $id, action: PUSH_PAGE, argument: "not a url") { accepted } }`, { id: callId }, ids.agent), 'BAD_USER_INPUT');
    assert.equal((await command('VOLUME', '+20')).accepted, true);
    assert.equal((await command('OPEN_CHANNEL', '07')).sequence, '#07#');
    assert.equal((await as(ids.agent)(`mutation($id: ID!) { sendChannelMessage(callId: $id, channelId: "07", text: "Your code: 4711") }`, { id: callId })).sendChannelMessage, true);
    assert.equal((await gql(server.url, `mutation($t: String!) { sendChannelMessage(callToken: $t, channelId: "07", text: "thanks!") }`, { t: callToken })).sendChannelMessage, true);

    await new Promise((r) => setTimeout(r, 1100)); // a billable second or more
    const ended = (await as(ids.agent)(`mutation($id: ID!) { agentHangUp(callId: $id) { state terminatedBy terminationCause talkSeconds } }`, { id: callId })).agentHangUp;
    assert.deepEqual([ended.state, ended.terminatedBy, ended.terminationCause], ['TERMINATED', 'CALLEE', 'HANGUP']);
    assert.ok(ended.talkSeconds >= 1);
    // Buttons are refused once the call has ended.
    const late = await gqlRaw(server.url, `mutation($id: ID!) { agentCommand(callId: $id, action: VOLUME, argument: "-20") { accepted } }`, { id: callId }, ids.agent);
    assert.equal(late.errors?.[0]?.extensions?.code, 'CONFLICT');
    assert.match(late.errors![0]!.message, /TERMINATED/);
    assert.equal(await codeOf(`query($id: ID!) { agentMediaJoin(callId: $id) { provider } }`, { id: callId }, ids.agent), 'CONFLICT');

    const got = (await pushes.done).map((p) => [p.kind, p.state ?? p.url ?? p.volumePercent ?? p.channelId]);
    assert.deepEqual(got, [
      ['CALL_STATE', 'ANSWERED'],
      ['PAGE', 'https://shop.example/offers'],
      ['VOLUME', 20],
      ['CHANNEL_OPENED', '07'],
      ['CHAT_MESSAGE', '07'],
      ['CALL_STATE', 'TERMINATED'],
    ]);

    // The same lifecycle events as a PSTN call, and the console's commands as DTMF's typed events.
    const timeline = await eventually(async () => {
      const t = (await as(ids.agent)(`query($id: ID!) { callTimeline(callId: $id) { type data } }`, { id: callId })).callTimeline as Array<{ type: string; data: any }>;
      return t.some((e) => e.type === 'CallTerminated') ? t : null;
    }, 10_000, 'the timeline');
    assert.deepEqual(
      timeline.map((e) => e.type),
      ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfCommandRecognized', 'DtmfCommandRecognized', 'DtmfCommandRecognized', 'DtmfCommandRecognized', 'ChannelMessageSent', 'ChannelMessageSent', 'CallTerminated'],
    );
    const commands = timeline.filter((e) => e.type === 'DtmfCommandRecognized').map((e) => [e.data.source, e.data.action, e.data.accepted]);
    assert.deepEqual(commands, [['AGENT', 'PUSH_PAGE', true], ['AGENT', 'PUSH_PAGE', false], ['AGENT', 'VOLUME', true], ['AGENT', 'OPEN_CHANNEL', true]]);
    assert.equal(timeline[3]!.data.answeredBy, ids.agent.split('.')[1]);

    const charge = await eventually(async () => (await as(ids.merchantKey)(`query($id: ID!) { call(id: $id) { charge { amountMinor currency billableSeconds sourcePage } } }`, { id: callId })).call?.charge, 10_000, 'the charge');
    assert.equal(charge.currency, 'USD');
    assert.equal(charge.sourcePage, 'https://shop.example/p/lamp');
    assert.equal(charge.amountMinor, 10 + Math.ceil((charge.billableSeconds * 6) / 60));
    await ws.dispose();
  });

  test('one link mixes a browser and a PSTN center: the browser desk first, the phone room once it is full', async () => {
    const first = await place(ids.mixedLink);
    assert.deepEqual([first.call.media, first.call.callCenterId, first.call.state], ['BROWSER', ids.desk, 'RINGING']);
    const second = await place(ids.mixedLink);
    assert.deepEqual([second.call.media, second.call.callCenterId, second.call.state], ['PSTN', ids.phone, 'INITIATED']);
    assert.ok(second.call.ani && second.call.gatewayId, 'the PSTN call seized a port');
    // The simulator rings and answers the PSTN leg; the phone room's agent uses the same buttons.
    await eventually(async () => (await as(ids.phoneAgent)(`query($id: ID!) { call(id: $id) { state } }`, { id: second.callId })).call?.state === 'ANSWERED', 10_000, 'the PSTN call answered');
    assert.equal(await codeOf(`mutation($id: ID!) { answerCall(callId: $id) { state } }`, { id: second.callId }, ids.phoneAgent), 'CONFLICT', 'a PSTN call is answered on the phone');
    assert.equal((await as(ids.phoneAgent)(`mutation($id: ID!) { agentCommand(callId: $id, action: VOLUME, argument: "-20") { accepted } }`, { id: second.callId })).agentCommand.accepted, true);
    for (const c of [first, second]) await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: c.callToken });
    // An unanswered browser call: routed and counted, not billed.
    const stats = await eventually(async () => {
      const rows = (await as(ids.merchantKey)(`query($m: ID!) { callCenterStats(merchantId: $m, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { callCenterId name kind calls answered answerRate talkSeconds } }`, { m: ids.m })).callCenterStats;
      return rows.length === 2 && rows.find((r: { callCenterId: string }) => r.callCenterId === ids.phone)?.answered === 1 ? rows : null;
    }, 10_000, 'center stats');
    const desk = stats.find((r: { callCenterId: string }) => r.callCenterId === ids.desk);
    assert.deepEqual([desk.name, desk.kind, desk.calls, desk.answered], ['Browser desk', 'BROWSER', 3, 1]);
    assert.equal(desk.answerRate, 1 / 3);
  });

  test('the charges CSV streams with a one-time ticket; a period over the limit is refused with the limit', async () => {
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 86_400_000).toISOString();
    const { url } = (await as(ids.merchantKey)(`mutation($m: ID!, $f: DateTime!, $t: DateTime!) { createChargesExport(merchantId: $m, from: $f, to: $t) { url expiresAt maxDays } }`, { m: ids.m, f: from, t: to })).createChargesExport;
    assert.doesNotMatch(url, /wd\./, 'no API key in the URL');
    const base = server.url.replace(/\/graphql$/, '');
    const res = await fetch(base + url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="charges-/);
    const lines = (await res.text()).trim().split('\r\n');
    assert.equal(lines[0], 'call_id,started_at,terminated_at,link_id,call_center_id,source_page,referrer,destination,talk_seconds,billable_seconds,rate_per_minute_minor,amount_minor,currency,plan_version,rerated,direction');
    assert.ok(lines.length >= 3, `charges of the browser and the PSTN call: ${lines.length - 1} rows`);
    assert.ok(lines.slice(1).every((l) => l.includes('https://shop.example/p/lamp,https://search.example/?q=lamp')));
    assert.ok(lines.slice(1).every((l) => l.endsWith(',OUTBOUND')), 'clicks are OUTBOUND');
    assert.equal((await fetch(base + url)).status, 401, 'the ticket is single-use');
    assert.equal((await fetch(`${base}/exports/charges.csv?ticket=forged`)).status, 401);
    const tooLong = await gqlRaw(server.url, `mutation($m: ID!) { createChargesExport(merchantId: $m, from: "2020-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { url } }`, { m: ids.m }, ids.merchantKey);
    assert.equal(tooLong.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(tooLong.errors![0]!.message, /at most 366 days/);
  });

  test('the re-rate what-if draws a plan against today\'s charges and writes nothing', async () => {
    const q = `query($m: ID!) { billingSummary(merchantId: $m, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { amountMinor calls } }`;
    const before = (await as(ids.merchantKey)(q, { m: ids.m })).billingSummary;
    const whatIf = (
      await as(ids.merchantKey)(
        `query($m: ID!) { rerateDryRun(plan: { merchantId: $m, currency: "USD", connectionFeeMinor: 100, ratePerMinuteMinor: 60, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { calls currentMinor whatIfMinor diffMinor days { day calls currentMinor whatIfMinor } } }`,
        { m: ids.m },
      )
    ).rerateDryRun;
    assert.equal(whatIf.calls, before.calls);
    assert.equal(whatIf.currentMinor, before.amountMinor);
    // What the rating rules give each billed call under the what-if plan (60/60 increments, 100 connection fee).
    const plan = { version: 2, currency: 'USD', connectionFeeMinor: 100, ratePerMinuteMinor: 60, firstIncrementSeconds: 60, nextIncrementSeconds: 60, minimumChargeMinor: 0, prefixRates: [] };
    const billed = ((await as(ids.merchantKey)(`{ calls(first: 50) { edges { node { answeredAt terminatedAt destination charge { amountMinor } } } } }`)).calls.edges as Array<{ node: { answeredAt: string; terminatedAt: string; destination: string; charge: unknown } }>)
      .map((e) => e.node)
      .filter((n) => n.charge !== null);
    assert.equal(billed.length, before.calls);
    assert.equal(whatIf.whatIfMinor, billed.reduce((s, n) => s + rateCall(plan, n.destination, talkMsBetween(n.answeredAt, n.terminatedAt)).amountMinor, 0));
    assert.equal(whatIf.diffMinor, whatIf.whatIfMinor - whatIf.currentMinor);
    assert.equal(whatIf.days.reduce((s: number, d: { whatIfMinor: number }) => s + d.whatIfMinor, 0), whatIf.whatIfMinor);
    assert.deepEqual((await as(ids.merchantKey)(q, { m: ids.m })).billingSummary, before, 'a dry run changes nothing');
    const bad = await gqlRaw(server.url, `query($m: ID!) { rerateDryRun(plan: { merchantId: $m, currency: "dollars", connectionFeeMinor: 0, ratePerMinuteMinor: 1, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { calls } }`, { m: ids.m }, ids.merchantKey);
    assert.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });
});
