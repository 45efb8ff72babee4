import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, collect, eventually, startServer, wsClient, type ServerProcess } from '../support/server';

/**
 * Issue 5 through the real server: DTMF sequences become the merchant's commands and reach the
 * caller's customerSession (refused pushes are recorded, not pushed); chat both ways on an opened
 * channel; timeouts end calls as SYSTEM and free their ports.
 */
describe('DTMF commands, chat and timeouts (external media)', () => {
  let server: ServerProcess;
  const ids: Record<string, string> = {};
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);

  before(async () => {
    server = await startServer({ WEBDIAL_MEDIA: 'external', WEBDIAL_RINGING_TIMEOUT: '2', WEBDIAL_ANI_QUARANTINE: '0' });
    ids.m = (await admin(`mutation { createMerchant(input: { name: "DTMF shop", allowedOrigins: ["https://shop.example"] }) { id } }`)).createMerchant.id;
    ids.c = (await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+33140000000", timeZone: "Europe/Paris", capacity: 5, region: "eu-west" }) { id } }`, { m: ids.m })).addCallCenter.id;
    ids.g = (await admin(`mutation { createGateway(input: { name: "G", region: "eu-west", ports: [{ number: 1, ani: "+33140000101" }, { number: 2, ani: "+33140000102" }] }) { id } }`)).createGateway.id;
    ids.l = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m: ids.m, c: ids.c })).createLink.id;
    for (const [seq, action, arg] of [['*76', 'PUSH_PAGE', 'https://shop.example/offer'], ['*77', 'PUSH_PAGE', 'https://elsewhere.example/'], ['*22', 'VOLUME', '+20']])
      await admin(`mutation($m: ID!, $s: String!, $a: DtmfAction!, $g: String) { setDtmfCommand(merchantId: $m, sequence: $s, action: $a, argument: $g) }`, { m: ids.m, s: seq, a: action, g: arg });
    ids.gw = (await admin(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key;
    ids.crm = (await admin(`mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key } }`, { m: ids.m })).createApiKey.key;
  });
  after(async () => {
    await server?.stop();
  });

  const place = async () => {
    const d = (await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: ids.m, linkId: ids.l, pageUrl: 'https://shop.example/p' } })).recordDownload;
    await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken });
    return d as { callId: string; callToken: string };
  };
  const gw = (q: string, v: Record<string, unknown>) => gql(server.url, q, v, ids.gw);

  test('agent DTMF pushes a page and volume to the caller; a page outside allowedOrigins is refused and recorded', async () => {
    const call = await place();
    const ws = wsClient(server.wsUrl);
    const pushes = collect<{ kind: string; url: string | null; volumePercent: number | null; channelId: string | null; text: string | null }>(
      ws,
      `subscription($t: String!) { customerSession(callToken: $t) { kind state url volumePercent channelId text at } }`,
      { t: call.callToken },
      (items) => items.some((i) => i.kind === 'CHAT_MESSAGE'),
    );
    await new Promise((r) => setTimeout(r, 300));
    await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: call.callId });
    // Digits one at a time and several at once.
    for (const [i, digits] of ['*', '7', '6'].entries()) await gw(`mutation($id: ID!, $d: String!, $e: String!) { reportDtmf(callId: $id, digits: $d, gatewayEventId: $e) { id } }`, { id: call.callId, d: digits, e: `d${i}` });
    await gw(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "*77*22", gatewayEventId: "d3") { id } }`, { id: call.callId });
    await gw(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "#12#", gatewayEventId: "d4") { id } }`, { id: call.callId });
    // Chat: the agent writes on the opened channel; the caller answers with its token.
    const codeClosed = (await gqlRaw(server.url, `mutation($id: ID!) { sendChannelMessage(callId: $id, channelId: "99", text: "hi") }`, { id: call.callId }, ids.crm)).errors?.[0]?.extensions?.code;
    assert.equal(codeClosed, 'CONFLICT', 'a channel that was never opened');
    assert.equal((await gql(server.url, `mutation($id: ID!) { sendChannelMessage(callId: $id, channelId: "12", text: "Here is your code: 4711") }`, { id: call.callId }, ids.crm)).sendChannelMessage, true);
    assert.equal((await gql(server.url, `mutation($t: String!) { sendChannelMessage(callToken: $t, channelId: "12", text: "thanks") }`, { t: call.callToken })).sendChannelMessage, true);

    const got = (await pushes.done).filter((p) => p.kind !== 'CALL_STATE');
    await ws.dispose();
    assert.deepEqual(
      got.map((p) => [p.kind, p.url ?? p.volumePercent ?? p.channelId]),
      [['PAGE', 'https://shop.example/offer'], ['VOLUME', 20], ['CHANNEL_OPENED', '12'], ['CHAT_MESSAGE', '12']],
    );
    assert.equal(got[3]!.text, 'Here is your code: 4711');

    const timeline = (await eventually(async () => {
      const t = (await gql(server.url, `query($id: ID!) { callTimeline(callId: $id) { type data } }`, { id: call.callId }, ids.crm)).callTimeline as Array<{ type: string; data: any }>;
      return t.filter((e) => e.type === 'ChannelMessageSent').length === 2 ? t : null;
    }, 10_000, 'timeline with both chat messages'));
    const commands = timeline.filter((e) => e.type === 'DtmfCommandRecognized').map((e) => [e.data.sequence, e.data.accepted]);
    assert.deepEqual(commands, [['*76', true], ['*77', false], ['*22', true], ['#12#', true]]);
    assert.deepEqual(timeline.filter((e) => e.type === 'ChannelMessageSent').map((e) => e.data.from), ['AGENT', 'CALLER']);
    await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: call.callToken });
  });

  test('issue 24: ##FS media settings reach the caller\'s customerSession, an unknown code is refused; the caller\'s reports are recorded once, on its own call only; CONFLICT after the end', async () => {
    const call = await place();
    const other = await place();
    // Answered at once: the ringing timeout (2 s here) must not end either call during the test.
    await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: other.callId });
    const ws = wsClient(server.wsUrl);
    const pushes = collect<{ kind: string; setting: string | null; enabled: boolean | null }>(
      ws,
      `subscription($t: String!) { customerSession(callToken: $t) { kind setting enabled at } }`,
      { t: call.callToken },
      (items) => items.filter((i) => i.kind === 'MEDIA_SETTING').length >= 3,
    );
    await new Promise((r) => setTimeout(r, 300));
    await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "a") { id } }`, { id: call.callId });
    for (const [i, digits] of ['#', '#', '1', '0'].entries()) await gw(`mutation($id: ID!, $d: String!, $e: String!) { reportDtmf(callId: $id, digits: $d, gatewayEventId: $e) { id } }`, { id: call.callId, d: digits, e: `m${i}` });
    await gw(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "##57##21", gatewayEventId: "m4") { id } }`, { id: call.callId });
    await gql(server.url, `mutation($id: ID!) { agentCommand(callId: $id, action: MEDIA_SETTING, argument: "AUTO_GAIN:OFF") { sequence accepted } }`, { id: call.callId }, ids.crm);
    const got = (await pushes.done).filter((p) => p.kind === 'MEDIA_SETTING');
    await ws.dispose();
    assert.deepEqual(got.map((p) => [p.setting, p.enabled]), [['ECHO_CANCELLATION', false], ['ECHO_SUPPRESSION', true], ['AUTO_GAIN', false]]);

    const report = (token: string, input: Record<string, unknown>) =>
      gqlRaw(server.url, `mutation($t: String!, $i: CallerMediaSettingsInput!) { reportMediaSettings(callToken: $t, input: $i) }`, { t: token, i: input });
    const applied = { echoCancellation: false, noiseSuppression: true, autoGainControl: true, echoSuppression: false, requested: [{ setting: 'ECHO_CANCELLATION', enabled: false }], note: 'restartTrack' };
    assert.equal((await report(call.callToken, applied)).data?.reportMediaSettings, true);
    assert.equal((await report(call.callToken, applied)).data?.reportMediaSettings, true, 'a repeat is accepted, and records nothing');
    // Another call's token reports on that call only.
    assert.equal((await report(other.callToken, { ...applied, choice: 'HEADSET', requested: [] })).data?.reportMediaSettings, true);
    assert.equal((await report(`${call.callToken}x`, applied)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'a forged token');
    assert.equal((await report(call.callToken, { ...applied, requested: [{ setting: 'LOUDNESS', enabled: true }] })).errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'not a setting');

    const timeline = async (id: string) => (await gql(server.url, `query($id: ID!) { callTimeline(callId: $id) { type data } }`, { id }, ids.crm)).callTimeline as Array<{ type: string; data: any }>;
    const mine = await eventually(async () => {
      const t = await timeline(call.callId);
      return t.some((e) => e.type === 'CallerMediaSettingsApplied') ? t : null;
    }, 10_000, 'the report in the timeline');
    assert.deepEqual(
      mine.filter((e) => e.type === 'DtmfCommandRecognized').map((e) => [e.data.sequence, e.data.argument, e.data.accepted, e.data.source]),
      [['##10', 'ECHO_CANCELLATION:OFF', true, 'DTMF'], ['##57', null, false, 'DTMF'], ['##21', 'ECHO_SUPPRESSION:ON', true, 'DTMF'], ['##40', 'AUTO_GAIN:OFF', true, 'AGENT']],
    );
    assert.equal(mine.filter((e) => e.type === 'CallerMediaSettingsApplied').length, 1, 'the repeated report recorded nothing');
    assert.equal(mine.find((e) => e.type === 'CallerMediaSettingsApplied')!.data.honoured, true);
    const theirs = await eventually(async () => {
      const t = await timeline(other.callId);
      return t.some((e) => e.type === 'CallerMediaSettingsApplied') ? t : null;
    }, 10_000, "the other call's report on the other call");
    assert.equal(theirs.find((e) => e.type === 'CallerMediaSettingsApplied')!.data.choice, 'HEADSET');

    await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: call.callToken });
    await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: other.callToken });
    assert.equal((await report(call.callToken, { ...applied, echoCancellation: true })).errors?.[0]?.extensions?.code, 'CONFLICT');
    const late = await gqlRaw(server.url, `mutation($id: ID!) { reportDtmf(callId: $id, digits: "##11", gatewayEventId: "m9") { id } }`, { id: call.callId }, ids.gw);
    assert.equal(late.errors?.[0]?.extensions?.code, 'CONFLICT');
  });

  test('a line that never rings ends FAILED by SYSTEM with the reason TRUNK_NO_RESPONSE, not NO_ANSWER (issue 22)', async () => {
    const call = await place();
    const ended = await eventually(async () => {
      const c = (await gql(server.url, `query($id: ID!) { call(id: $id) { state terminationCause terminatedBy } }`, { id: call.callId }, ids.crm)).call;
      return c?.state === 'TERMINATED' ? c : null;
    }, 10_000, 'the ringing timeout');
    assert.deepEqual(ended, { state: 'TERMINATED', terminationCause: 'FAILED', terminatedBy: 'SYSTEM' });
    const timeline = (await admin(`query($c: ID!) { callTimeline(callId: $c) { type data } }`, { c: call.callId })).callTimeline as Array<{ type: string; data: { reason?: string } }>;
    assert.equal(timeline.find((e) => e.type === 'CallTerminated')?.data.reason, 'TRUNK_NO_RESPONSE');
  });

  test('ringing past the limit ends the call as NO_ANSWER by SYSTEM and frees the port', async () => {
    const call = await place();
    await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "r") { id } }`, { id: call.callId });
    const ended = await eventually(async () => {
      const c = (await gql(server.url, `query($id: ID!) { call(id: $id) { state terminationCause terminatedBy } }`, { id: call.callId }, ids.crm)).call;
      return c?.state === 'TERMINATED' ? c : null;
    }, 10_000, 'the ringing timeout');
    assert.deepEqual(ended, { state: 'TERMINATED', terminationCause: 'NO_ANSWER', terminatedBy: 'SYSTEM' });
    const ports = await eventually(async () => {
      const g = (await admin(`query($g: ID!) { gateway(id: $g) { ports { busy } } }`, { g: ids.g })).gateway;
      return g.ports.every((p: { busy: boolean }) => !p.busy) ? g.ports : null;
    }, 10_000, 'the port to be released');
    assert.equal(ports.length, 2);
  });
});
