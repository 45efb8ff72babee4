import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoomServiceClient } from 'livekit-server-sdk';
import type { Browser, Page } from 'playwright-core';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { launchChromium, recordPeerConnections, recordRemoteAudio, startShop } from '../support/browser';
import { describeReport, toneReport, writeToneWav, TONE_ABSENT, TONE_PRESENT, type ToneReport } from '../support/audio';
import { liveKitFor, sippTrunkSetup, webhookLines, type RealLiveKit } from '../support/livekit-real';
import { startRtpEndpoint, type RtpEndpointOptions } from '../support/rtp-endpoint';
import { freeUdpPort, startSipp } from '../support/sipp';
import { seedShop, widgetTag, type ShopIds } from '../support/shop-setup';

/** Each party plays its own tone, so that who hears whom is measured, not guessed. */
const { SHOPPER_HZ, AGENT_HZ, CENTER_HZ } = { SHOPPER_HZ: 1000, AGENT_HZ: 440, CENTER_HZ: 700 };
const TONES = [SHOPPER_HZ, AGENT_HZ, CENTER_HZ];

/**
 * Issue 25's transfer to a PSTN call center with real media: the shopper's widget on a shop page of
 * another origin (127.0.0.7, a fake microphone playing 1000 Hz) calls the browser desk, whose agent
 * (the console, 440 Hz) answers, then transfers the call BLIND to the merchant's PSTN center. webdial
 * seizes a port (the trunk's caller ID) and dials the center's number through LiveKit SIP's outbound
 * trunk into the call's room: sipp plays the center (test/support/sipp.ts; its RTP endpoint plays
 * 700 Hz and keeps what it hears, and keys *76 once it holds the call). The INVITE goes to the center's
 * number from the port's caller ID with the click's X-Webdial headers; sipp rings 1 s and answers: the transfer completes, the agent is removed from the
 * room, the shopper hears the center and no longer the agent, the center hears the shopper, its DTMF
 * is the call's (a recognized command); then sipp hangs up (BYE) and the call ends in the widget.
 * Two legs charged (the desk's agent, the center's phone). Prints TransferStarted → INVITE at the
 * center, and the center's answer → the shopper hears it (ms). Then a busy center (cancelled, the call
 * stays with the agent; dialled again, answered; the shopper's hang-up sends the center its BYE), and a
 * call handed on from the phone back to the desk by the CRM key (the old phone alone leaves the room).
 */
describe('blind transfer to a PSTN center over the real LiveKit SIP (issue 25)', () => {
  let [skipped, phoneRoom, agentKey, crmKey, sippPort] = ['', '', '', '', 0];
  let lk: RealLiveKit, server: ServerProcess, ids: ShopIds, agent: Page, shopperBrowser: Browser;
  let shop: { origin: string; close(): Promise<void> };
  const browsers: Browser[] = [];
  let cleanUp = async (): Promise<void> => undefined;
  const ani = '+33100000171';
  const centerNumber = '+33100000555';
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP, Chromium and sipp', skipped);
  const keyIdOf = (key: string) => key.split('.')[1]!;

  before(async () => {
    const found = await liveKitFor({ chromium: true, sipp: true });
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    const setup = sippTrunkSetup(lk, ani, 20);
    ({ sippPort, cleanUp } = setup);
    server = await startServer(setup.env);
    const base = new URL(server.url).origin;
    shop = await startShop('127.0.0.7', () => widgetTag(base, ids));
    ids = await seedShop(server.url, { name: 'Lamp shop', allowedOrigins: [shop.origin], anis: [ani], pushUrl: `${shop.origin}/product/offer` });
    await admin(`mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { kind } }`, { c: ids.center });
    phoneRoom = (
      await admin(
        `mutation($m: ID!, $p: String!) { addCallCenter(input: { merchantId: $m, name: "Phone room", phoneNumber: $p, timeZone: "Europe/Paris", capacity: 5, region: "eu-west", kind: PSTN }) { id } }`,
        { m: ids.merchant, p: centerNumber },
      )
    ).addCallCenter.id;
    agentKey = (await admin(`mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: ids.merchant, c: ids.center })).createApiKey.key as string;
    crmKey = (await admin(`mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key } }`, { m: ids.merchant })).createApiKey.key as string;
    const launch = async (hz: number) => {
      const wav = join(tmpdir(), `webdial-transfer-pstn-${hz}.wav`);
      writeToneWav(wav, hz, 120);
      const b = await launchChromium('fake', { microphoneWav: wav });
      browsers.push(b);
      return b;
    };
    shopperBrowser = await launch(SHOPPER_HZ);
    const ctx = await (await launch(AGENT_HZ)).newContext({ viewport: { width: 1280, height: 1000 } });
    await recordPeerConnections(ctx);
    agent = await ctx.newPage();
    agent.on('pageerror', (e) => assert.fail(`console page error: ${e.message}`));
    await agent.goto(`${base}/console`);
    await agent.fill('#api-key', agentKey);
    await agent.keyboard.press('Enter');
    await agent.getByTestId('signed-in').waitFor();
  });

  after(async () => {
    for (const b of browsers) await b.close();
    await shop?.close();
    await server?.stop();
    await cleanUp();
  });

  /** What a page hears for `ms`: its remote audio, by tone. */
  const hears = async (page: Page, where: 'widget' | 'page', ms: number): Promise<ToneReport> => {
    const r = await recordRemoteAudio(page, ms, where);
    return toneReport(r.samples, r.sampleRate, TONES);
  };
  /** Until `page` hears `hz` (dominant) and not `not` (when given), or the timeout. */
  const untilHears = async (page: Page, where: 'widget' | 'page', hz: number, not: number | null, what: string) => {
    let last: ToneReport | null = null;
    return eventually(
      async () => {
        last = await hears(page, where, 1500);
        return last.loudSeconds >= 0.5 && last.share[hz]! >= TONE_PRESENT && (not === null || last.share[not]! < TONE_ABSENT) ? last : null;
      },
      30_000,
      `${what} (last: ${last ? describeReport(last) : 'nothing recorded'}; server: ${server.output().split('\n').filter((l) => /error|warn|transfer/i.test(l)).slice(-6).join('\n')})`,
    );
  };
  const participants = async (callId: string) => (await new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret).listParticipants(`call-${callId}`)).map((p) => p.identity).sort();
  const callOf = async (callId: string) =>
    (await admin(`query($c: ID!) { call(id: $c) { state terminatedBy terminationCause charge { amountMinor sourcePage legs { callCenterId agent talkMs amountMinor } } } }`, { c: callId })).call;
  const transfersOf = async (callId: string) =>
    (await admin(`query($c: ID!) { callTransfers(callId: $c) { transferId status toCallCenterId toAgent startedAt cancelReason } }`, { c: callId })).callTransfers as Array<{
      status: string;
      toCallCenterId: string;
      toAgent: string | null;
      startedAt: string;
      cancelReason: string | null;
    }>;

  /** The shopper clicks; the console rings; the agent answers; they hear each other. */
  const answeredByAgent = async () => {
    const shopper = await shopperBrowser.newContext();
    await recordPeerConnections(shopper);
    const page = await shopper.newPage();
    await page.goto(`${shop.origin}/product/lamp`);
    await page.locator('[data-webdial] button.b').click();
    await agent.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 30_000 });
    await agent.getByTestId('call-item').first().click();
    const callId = (await page.locator('[data-webdial] .w').getAttribute('data-call-id'))!;
    await agent.click('button:text-is("Answer")');
    await agent.locator('[data-testid=media][data-audio=connected]').waitFor({ timeout: 30_000 });
    await untilHears(page, 'widget', AGENT_HZ, null, 'the shopper hears the agent');
    await untilHears(agent, 'page', SHOPPER_HZ, null, 'the agent hears the shopper');
    return { shopper, page, callId };
  };
  const charged = (callId: string) =>
    eventually(async () => {
      const c = await callOf(callId);
      return c.charge ? c : null;
    }, 20_000, 'the charge');
  /** The charge's legs: [center, agent]. */
  const legsOf = (c: { charge: { legs: Array<{ callCenterId: string; agent: string | null }> } }) => c.charge.legs.map((l) => [l.callCenterId, l.agent]);
  /** The center's RTP endpoint (sipp's SDP names it): its 700 Hz tone, and `dtmf` keyed. */
  const centerLine = async (dtmf: RtpEndpointOptions['dtmf'] = []) => {
    const mediaPort = await freeUdpPort();
    return { mediaPort, rtp: await startRtpEndpoint(mediaPort, { toneHz: CENTER_HZ, dtmf }) };
  };
  const portBusy = async () => (await admin(`query($g: ID!) { gateway(id: $g) { ports { busy } } }`, { g: ids.gateway })).gateway.ports[0].busy as boolean;

  test('the agent transfers blind to the PSTN center: sipp gets the INVITE with the X-Webdial headers and answers; the shopper hears the center, not the agent; the center hears the shopper; the agent is removed; its DTMF counts; its BYE ends the call in the widget; two legs charged', { timeout: 240_000 }, async (t) => {
    if (skipped) return skip(t);
    const { shopper, page, callId } = await answeredByAgent();

    // The center: sipp rings 1 s, answers, and hangs up 25 s later;
    // its RTP endpoint plays 700 Hz and, once it holds the call, keys *76 (the merchant's PUSH_PAGE).
    const { mediaPort, rtp } = await centerLine([{ atMs: 8000, keys: ['*', '7', '6'] }]);
    const center = startSipp(
      sippPort,
      mediaPort,
      { kind: 'answer', ringMs: 1000, hangUpAfterMs: 25_000 },
      120_000,
    );
    try {
      // Blind transfer to the phone room (the only other center: the console's default target).
      const box = agent.getByTestId('transfer');
      assert.match(await box.getByTestId('transfer-center').innerText(), /Phone room \(phone\)/);
      await box.locator('button:text-is("Blind transfer")').click();
      await agent.getByText(/Dialling Phone room/).waitFor({ timeout: 15_000 });

      // The shopper hears the center, no longer the agent; the center hears the shopper.
      const shopperHears = await untilHears(page, 'widget', CENTER_HZ, AGENT_HZ, 'the shopper hears the center and not the agent');
      const shopperHeardAt = Date.now();
      const centerHears = await eventually(async () => {
        const r = toneReport(rtp.samples(), 8000, TONES);
        return r.loudSeconds >= 1 && r.share[SHOPPER_HZ]! >= TONE_PRESENT ? r : null;
      }, 30_000, "the center hears the shopper's tone");
      const [transfer] = await transfersOf(callId);
      assert.deepEqual([transfer!.status, transfer!.toCallCenterId, transfer!.toAgent], ['COMPLETED', phoneRoom, null], "completed by the center's phone");
      // The agent was removed from the room: the shopper, the center's phone (and webdial's listener) remain; the call goes on.
      const left = await eventually(async () => {
        const p = await participants(callId);
        return p.includes(`agent-${keyIdOf(agentKey)}`) ? null : p;
      }, 15_000, 'the agent removed');
      assert.deepEqual(left, [`caller-${callId}`, `pstn-${callId}.t1`, `webdial-${callId}.t1`].sort(), "the shopper and the center's phone (and webdial's listener) stay");
      // webdial removed it (its console would also leave by itself, 3 s later), and its leaving ended nothing.
      const gone = await eventually(
        async () => webhookLines(server.output(), `call-${callId}`).find((h) => h.event === 'participant_left' && h.identity === `agent-${keyIdOf(agentKey)}`),
        15_000,
        "the agent's participant_left",
      );
      assert.deepEqual([gone.disconnectReason, gone.outcome], ['PARTICIPANT_REMOVED', 'agent-left: nothing to end']);
      assert.equal((await callOf(callId)).state, 'ANSWERED', "the agent's leaving did not end the call");
      await agent.getByText(/The call was transferred to Phone room/).waitFor({ timeout: 10_000 });

      // The center's DTMF is the call's: *76 recognized as the merchant's PUSH_PAGE command.
      const pushed = await eventually(async () => {
        const rows = (await admin(`query($c: ID!) { callTimeline(callId: $c) { type data } }`, { c: callId })).callTimeline as Array<{ type: string; data: { sequence?: string; accepted?: boolean } }>;
        return rows.find((r) => r.type === 'DtmfCommandRecognized') ?? null;
      }, 20_000, "the center's *76 recognized");
      assert.deepEqual([pushed.data.sequence, pushed.data.accepted], ['*76', true]);

      // The center hangs up (BYE): the call ends, in the widget too.
      await page
        .locator('[data-webdial] .w[data-state="terminated"]')
        .waitFor({ timeout: 40_000 })
        .catch(async (e: Error) => {
          const lines = server.output().split('\n').filter((l) => l.includes(callId) || /warn|error/i.test(l));
          throw new Error(`${e.message}\nthe call: ${JSON.stringify(await callOf(callId))}\nserver:\n${lines.slice(-40).join('\n')}`);
        });
      const sipp = await center.done;
      assert.equal(sipp.exitCode, 0, `sipp: answered, sent its BYE:\n${sipp.screen.slice(-2000)}`);
      // The INVITE to the center's number, from the port's caller ID, names the call (not the leg) and the click.
      const invite = sipp.messages.slice(sipp.messages.indexOf('INVITE sip:'));
      assert.match(invite, new RegExp(`^INVITE sip:\\${centerNumber}@`), 'to the center\'s number');
      for (const [name, value] of Object.entries({ 'X-Webdial-Call-Id': callId, 'X-Webdial-Merchant': ids.merchant, 'X-Webdial-Link': ids.link, 'X-Webdial-Customer': 'shopper-1' }))
        assert.match(invite, new RegExp(`\\n\\s*${name}: ${value}\\r?\\n`, 'i'), `the INVITE's ${name}`);
      assert.match(invite, new RegExp(`From:[^\\n]*\\${ani}@`), "from the port's caller ID");
      const ended = await charged(callId);
      assert.deepEqual([ended.state, ended.terminatedBy, ended.terminationCause], ['TERMINATED', 'CALLEE', 'HANGUP']);
      assert.deepEqual(
        legsOf(ended),
        [
          [ids.center, keyIdOf(agentKey)],
          [phoneRoom, null],
        ],
      );
      assert.equal(Number(ended.charge.amountMinor), ended.charge.legs.reduce((n: number, l: { amountMinor: number }) => n + Number(l.amountMinor), 0));
      assert.equal(ended.charge.sourcePage, `${shop.origin}/product/lamp`);
      assert.equal(await portBusy(), false, "the transfer's port released");

      const inviteMs = sipp.inviteAt === null ? '?' : sipp.inviteAt - Date.parse(transfer!.startedAt);
      const hearsMs = sipp.answeredAt === null ? '?' : shopperHeardAt - sipp.answeredAt;
      console.log(`# measured: TransferStarted → the INVITE at the center ${inviteMs} ms; the center's 200 OK → the shopper hears the center (and no longer the agent) ${hearsMs} ms (1.5 s recordings: an upper bound)`);
      console.log(`#   the shopper hears: ${describeReport(shopperHears)}; the center hears: ${describeReport(centerHears)}`);
      await shopper.close();
    } finally {
      await center.stop();
      await rtp.close();
    }
  });

  test('a busy PSTN center: cancelled (target busy) in the console, the shopper still hears the agent, the port released; dialled again it answers; the shopper hangs up: the center gets its BYE', { timeout: 240_000 }, async (t) => {
    if (skipped) return skip(t);
    const { shopper, page, callId } = await answeredByAgent();
    const { mediaPort, rtp } = await centerLine();
    let center = startSipp(sippPort, mediaPort, { kind: 'busy', ringMs: 500 }, 60_000);
    try {
      const box = agent.getByTestId('transfer');
      await box.locator('button:text-is("Blind transfer")').click();
      await box.locator('li[data-status=CANCELLED]', { hasText: 'target busy' }).waitFor({ timeout: 30_000 });
      assert.equal((await center.done).exitCode, 0, 'the center answered 486 Busy Here');
      await eventually(async () => ((await portBusy()) ? null : true), 10_000, "the busy transfer's port released");
      await untilHears(page, 'widget', AGENT_HZ, CENTER_HZ, 'the shopper still hears the agent');
      assert.equal((await callOf(callId)).state, 'ANSWERED');

      // Again: the center answers, and talks until the other side hangs up.
      center = startSipp(sippPort, mediaPort, { kind: 'answerUntilBye', ringMs: 500 }, 90_000);
      await box.locator('button:text-is("Blind transfer")').click();
      await untilHears(page, 'widget', CENTER_HZ, AGENT_HZ, 'the shopper hears the center and not the agent');
      assert.deepEqual(
        (await transfersOf(callId)).map((x) => [x.status, x.cancelReason, x.toAgent]),
        [
          ['CANCELLED', 'TARGET_BUSY', null],
          ['COMPLETED', null, null],
        ],
      );
      // The shopper hangs up in the widget: the call ends, the center gets its BYE (sipp's scenario ends 0).
      await page.locator('[data-webdial] button.b').click();
      const sipp = await center.done;
      assert.equal(sipp.exitCode, 0, `the center got its BYE:\n${sipp.screen.slice(-2000)}`);
      const ended = await charged(callId);
      assert.deepEqual([ended.state, ended.terminatedBy], ['TERMINATED', 'CALLER']);
      assert.deepEqual(legsOf(ended), [
        [ids.center, keyIdOf(agentKey)],
        [phoneRoom, null],
      ]);
      await eventually(async () => ((await portBusy()) ? null : true), 10_000, 'the port released at the end');
      await shopper.close();
    } finally {
      await center.stop();
      await rtp.close();
    }
  });

  test('handed on from the phone: the CRM key transfers the call the center holds back to the desk; the agent takes it in the console; the shopper hears the agent, not the center; the center gets its BYE; three legs', { timeout: 240_000 }, async (t) => {
    if (skipped) return skip(t);
    const { shopper, page, callId } = await answeredByAgent();
    const { mediaPort, rtp } = await centerLine();
    const center = startSipp(sippPort, mediaPort, { kind: 'answerUntilBye', ringMs: 500 }, 120_000);
    try {
      await agent.getByTestId('transfer').locator('button:text-is("Blind transfer")').click();
      await untilHears(page, 'widget', CENTER_HZ, AGENT_HZ, 'the shopper hears the center and not the agent');
      await agent.getByText(/The call was transferred to Phone room/).waitFor({ timeout: 15_000 });
      // Nobody at the phone clicks a console: the merchant's CRM key hands the call back to the desk.
      const back = (await gql(server.url, `mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { transferId status fromCallCenterId fromAgent } }`, { c: callId, to: ids.center }, crmKey)).transferCall;
      assert.deepEqual([back.status, back.fromCallCenterId, back.fromAgent], ['OPEN', phoneRoom, null]);
      const take = agent.locator('[data-testid=transfer][data-role=take] button:text-is("Take the call")');
      await take.waitFor({ timeout: 20_000 });
      await take.click();
      await untilHears(page, 'widget', AGENT_HZ, CENTER_HZ, 'the shopper hears the agent again, and no longer the center');
      await untilHears(agent, 'page', SHOPPER_HZ, null, 'the agent hears the shopper');
      // Only the phone left the room (a BYE to it: sipp's scenario ends 0); the call goes on; its port came back.
      const sipp = await center.done;
      assert.equal(sipp.exitCode, 0, `the center got its BYE:\n${sipp.screen.slice(-2000)}`);
      assert.equal((await callOf(callId)).state, 'ANSWERED', "the phone's leaving did not end the call");
      await eventually(async () => ((await portBusy()) ? null : true), 10_000, "the phone's port released");
      await agent.click('[data-testid=call-panel] button:text-is("Hang up")');
      const ended = await charged(callId);
      assert.deepEqual(legsOf(ended), [
        [ids.center, keyIdOf(agentKey)],
        [phoneRoom, null],
        [ids.center, keyIdOf(agentKey)],
      ]);
      await shopper.close();
    } finally {
      await center.stop();
      await rtp.close();
    }
  });
});
