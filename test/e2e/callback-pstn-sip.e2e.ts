import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RoomServiceClient } from 'livekit-server-sdk';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { liveKitFor, sippTrunkSetup, type RealLiveKit } from '../support/livekit-real';
import { startRtpEndpoint } from '../support/rtp-endpoint';
import { freeUdpPort, startSippCalls } from '../support/sipp';
import { CENTER_TONE_HZ, MICROPHONE_TONE_HZ, describeReport, toneReport, TONE_ABSENT, TONE_PRESENT } from '../support/audio';

/**
 * Issue 25, must-have 2 from a PSTN center, over the real LiveKit + LiveKit SIP, sipp as both phones
 * (one UAS for two calls, test/support/sipp.ts `startSippCalls`, behind webdial's one outbound trunk):
 * a shopper books a callback NOW at a PSTN center; the scheduler places the try and dials the center's
 * number — its INVITE reaches sipp (the center) with the X-Webdial-* headers of the origin click and the
 * port's caller ID; sipp rings 1 s and answers (the agent); webdial then dials the shopper's number
 * into the same room as the call's second leg — the second INVITE reaches sipp (the shopper's phone),
 * which rings 1 s and answers: the callback is DONE. Both SIP participants are in the call's room;
 * each phone's RTP endpoint plays its own tone (the center 440 Hz, the shopper 1000 Hz) and each must
 * hear the other's (Goertzel). The merchant's CRM key hangs up (agentHangUp): the room is deleted and
 * both phones get a BYE (sipp exits 0 after its two calls); the call is charged as CALLBACK.
 * Run it under `flock /tmp/webdial-livekit.lock`: one LiveKit test at a time on a machine.
 */
describe('a callback from a PSTN center over the real LiveKit SIP: the center dialled, then the shopper into the same room (sipp as both phones)', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let sippPort = 0;
  let cleanUp = async (): Promise<void> => undefined;
  const ani = '+12125550301';
  const centerNumber = '+12125550100';
  const shopperNumber = '+12125550198';
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP and sipp', skipped);
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);

  before(async () => {
    const found = await liveKitFor({ sipp: true });
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    const setup = sippTrunkSetup(lk, ani, 20);
    ({ sippPort, cleanUp } = setup);
    server = await startServer(setup.env);
  });
  after(async () => {
    await server?.stop();
    await cleanUp();
  });

  test("the center's INVITE with the click's headers → its answer → the shopper's INVITE into the same room → DONE; audio both ways between the phones; hang-up BYEs both; charged as CALLBACK", { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    const merchantId = (await admin(`mutation { createMerchant(input: { name: "Phone desk shop" }) { id } }`)).createMerchant.id as string;
    const centerId = (
      await admin(`mutation($m: ID!, $n: String!) { addCallCenter(input: { merchantId: $m, name: "Phones", phoneNumber: $n, timeZone: "UTC", capacity: 1, region: "us-east" }) { id kind } }`, { m: merchantId, n: centerNumber })
    ).addCallCenter;
    assert.equal(centerId.kind, 'PSTN');
    const linkId = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Call me", callCenterIds: [$c] }) { id } }`, { m: merchantId, c: centerId.id })).createLink.id as string;
    const merchantKey = (await admin(`mutation($m: ID) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m: merchantId })).createApiKey.key as string;
    const crmKey = (await admin(`mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key } }`, { m: merchantId })).createApiKey.key as string;
    await admin(`mutation($a: String!) { createGateway(input: { name: "GW", region: "us-east", ports: [{ number: 1, ani: $a }] }) { id } }`, { a: ani });
    await admin(
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 5, ratePerMinuteMinor: 60, callbackRatePerMinuteMinor: 120, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
      { m: merchantId },
    );

    // The two phones: one sipp for both calls (the center's INVITE comes first), each call's media its own RTP endpoint and tone.
    const centerPort = await freeUdpPort();
    let shopperPort = await freeUdpPort();
    while (Math.abs(shopperPort - centerPort) < 2) shopperPort = await freeUdpPort();
    let ownPort = await freeUdpPort();
    while ([centerPort, shopperPort].some((p) => Math.abs(ownPort - p) < 2)) ownPort = await freeUdpPort();
    const centerRtp = await startRtpEndpoint(centerPort, { toneHz: CENTER_TONE_HZ });
    const shopperRtp = await startRtpEndpoint(shopperPort, { toneHz: MICROPHONE_TONE_HZ });
    // sipp checks the headers every INVITE carries itself (a missing one fails its scenario); the click's identity is checked below, on the center's INVITE only.
    const phones = startSippCalls(sippPort, [centerPort, shopperPort], ownPort, { kind: 'answerUntilBye', ringMs: 1000, expectHeaders: { 'X-Webdial-Call-Id': '^ *c_', 'X-Webdial-Merchant': `^ *${merchantId}$` } }, 100_000);
    try {
      const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
        i: { merchantId, linkId, customerId: 'cust-pstn', pageUrl: 'https://shop.example/p/desk', context: { cart: ['sku-desk'] } },
      });
      const bookedAt = Date.now();
      const booked = await gql(server.url, `mutation($t: String!, $p: String) { requestCallback(callToken: $t, when: { kind: NOW }, phoneNumber: $p) { id state } }`, { t: recordDownload.callToken, p: shopperNumber });
      const callbackId = booked.requestCallback.id as string;
      const cb = async () =>
        ((await gql(server.url, `query($m: ID!) { callbacks(merchantId: $m) { items { id state attempts lastOutcome callId } } }`, { m: merchantId }, merchantKey)).callbacks.items as Array<Record<string, string | number | null>>).find(
          (c) => c.id === callbackId,
        );
      const trying = await eventually(async () => {
        const c = await cb();
        return c?.callId ? c : null;
      }, 20_000, 'the try placed');
      const callId = String(trying.callId);
      const timeline = async () => (await gql(server.url, `query($c: ID!) { callTimeline(callId: $c) { type data } }`, { c: callId }, merchantKey)).callTimeline as Array<{ type: string; data: Record<string, unknown> }>;

      // The center answers on its phone (sipp, after 1 s): the call's answer is its agent's.
      const answered = await eventually(async () => (await timeline()).find((e) => e.type === 'CallAnswered') ?? null, 30_000, "the center's answer");
      assert.equal(answered.data.answeredBy, null, 'answered on the phone, not in a console');
      const done = await eventually(async () => {
        const c = await cb();
        return c?.state === 'DONE' ? c : null;
      }, 40_000, "the callback DONE (the shopper's phone answered)");
      assert.deepEqual([done.attempts, done.lastOutcome], [1, 'ANSWERED']);
      const doneAt = Date.now();

      // Both phones in the call's room: the center's leg (the call's id) and the shopper's (its second leg).
      const rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
      const inRoom = (await rooms.listParticipants(`call-${callId}`)).filter((p) => p.attributes['sip.callStatus'] !== undefined || p.attributes.callId !== undefined);
      const legs = inRoom.map((p) => p.attributes.callId).filter(Boolean).sort();
      assert.deepEqual(legs, [callId, `${callId}.shopper`], `both SIP legs in call-${callId}: ${JSON.stringify(inRoom.map((p) => [p.identity, p.attributes]))}`);

      // Audio both ways between the two phones, through the room.
      await new Promise((r) => setTimeout(r, 3000));
      const centerHeard = toneReport(centerRtp.samples(), 8000, [CENTER_TONE_HZ, MICROPHONE_TONE_HZ]);
      const shopperHeard = toneReport(shopperRtp.samples(), 8000, [CENTER_TONE_HZ, MICROPHONE_TONE_HZ]);
      assert.ok(centerHeard.loudSeconds >= 1 && centerHeard.share[MICROPHONE_TONE_HZ]! >= TONE_PRESENT && centerHeard.share[CENTER_TONE_HZ]! < TONE_ABSENT, `the center hears the shopper's 1000 Hz: ${describeReport(centerHeard)}`);
      assert.ok(shopperHeard.loudSeconds >= 1 && shopperHeard.share[CENTER_TONE_HZ]! >= TONE_PRESENT && shopperHeard.share[MICROPHONE_TONE_HZ]! < TONE_ABSENT, `the shopper hears the center's 440 Hz: ${describeReport(shopperHeard)}`);

      // The merchant's CRM ends the call: the room goes, both phones get a BYE, sipp's two calls end 0.
      assert.equal((await gql(server.url, `mutation($c: ID!) { agentHangUp(callId: $c) { state } }`, { c: callId }, crmKey)).agentHangUp.state, 'TERMINATED');
      const sipp = await phones.done;
      assert.equal(sipp.exitCode, 0, `both phones answered and got a BYE:\n${sipp.screen.slice(-2500)}`);
      assert.equal(sipp.received.BYE, 2, 'a BYE to each phone');

      // The INVITEs: the center's number first, then the shopper's; both from the port's caller ID, with the click's identity.
      const invites = sipp.invites.filter((inv, i, all) => all.findIndex((o) => /Call-ID: *(\S+)/i.exec(o.text)?.[1] === /Call-ID: *(\S+)/i.exec(inv.text)?.[1]) === i);
      assert.equal(invites.length, 2, `two calls reached sipp: ${invites.map((i) => i.text.split('\n')[0]).join(' | ')}`);
      assert.match(invites[0]!.text, new RegExp(`^INVITE sip:\\${centerNumber}@`), "the center's number first");
      assert.match(invites[1]!.text, new RegExp(`^INVITE sip:\\${shopperNumber}@`), "then the shopper's");
      for (const inv of invites) assert.match(inv.text, new RegExp(`From:[^\\n]*\\${ani}`), "the seized port's caller ID");
      assert.match(invites[0]!.text, new RegExp(`X-Webdial-Call-Id: ${callId}\\s`), "the center's INVITE names the call (its CRM's look-up)");
      assert.match(invites[1]!.text, new RegExp(`X-Webdial-Call-Id: ${callId}\\s`), "the shopper's leg names its call");
      assert.match(invites[0]!.text, new RegExp(`X-Webdial-Link: ${linkId}\\s[\\s\\S]*X-Webdial-Customer: cust-pstn\\s|X-Webdial-Customer: cust-pstn\\s[\\s\\S]*X-Webdial-Link: ${linkId}\\s`), "the center learns the click's link and customer");
      assert.doesNotMatch(invites[1]!.text, /X-Webdial-(Link|Customer|Session):/, "the shopper's carrier is told nothing of the click");

      const charge = await eventually(async () => (await admin(`query($c: ID!) { call(id: $c) { charge { currency direction sourcePage } } }`, { c: callId })).call?.charge ?? null, 20_000, 'the charge');
      assert.deepEqual({ ...charge }, { currency: 'USD', direction: 'CALLBACK', sourcePage: 'https://shop.example/p/desk' });
      const ended = (await timeline()).find((e) => e.type === 'CallTerminated')!;
      assert.deepEqual([ended.data.cause, ended.data.by], ['HANGUP', 'CALLEE']);

      const answeredAt = Date.parse(String(answered.data.at));
      console.log(
        `# measured: booking (NOW) → the center's INVITE at sipp ${invites[0]!.at - bookedAt} ms; the center's answer (CallAnswered) → the shopper's INVITE at sipp ${invites[1]!.at - answeredAt} ms; ` +
          `→ callback DONE seen by polling ${doneAt - answeredAt} ms (1 s of it the phone's ringing); the center heard ${describeReport(centerHeard)}; the shopper heard ${describeReport(shopperHeard)}`,
      );
    } finally {
      await phones.stop();
      await centerRtp.close();
      await shopperRtp.close();
    }
  });
});
