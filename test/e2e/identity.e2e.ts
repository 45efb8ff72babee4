import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { CENTER_TONE_HZ } from '../support/audio';
import { startRtpEndpoint } from '../support/rtp-endpoint';
import { realLiveKit, sippTrunkSetup, type RealLiveKit } from '../support/livekit-real';
import { freeUdpPort, sippAvailable, startSipp } from '../support/sipp';
import { seedShop, type ShopIds } from '../support/shop-setup';

/**
 * Issue 23, the caller's identity in-band on an outbound call, with everything real: webdial places
 * the call through LiveKit SIP, and sipp, the call center, checks the X-Webdial-* headers on the
 * INVITE itself (`ereg check_it`: a missing or different header fails sipp's scenario). The test's
 * RTP endpoint (named in sipp's SDP answer) records the RFC 4733 events LiveKit SIP sends after the
 * 200 OK: for a center that opted in, the session number and `#`. No browser: the call is placed
 * through the widget's GraphQL mutations. Needs `npm run livekit:start`.
 */
describe('in-band identity: X-Webdial-* headers and the session number as DTMF, through LiveKit SIP to sipp', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let ids: ShopIds;
  let sippPort = 0;
  let cleanUp = async (): Promise<void> => undefined;
  const ani = '+33100000102';
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const skip = (t: TestContext) => serviceMissing(t, 'real voice stack', skipped);

  before(async () => {
    const found = await realLiveKit();
    const missing = typeof found === 'string' ? found : sippAvailable();
    if (missing) {
      skipped = missing;
      return;
    }
    lk = found as RealLiveKit;
    const setup = sippTrunkSetup(lk, ani, 10);
    ({ sippPort, cleanUp } = setup);
    server = await startServer(setup.env);
    ids = await seedShop(server.url, { allowedOrigins: null, centerNumber: '+33100000002', anis: [ani] });
  });

  after(async () => {
    await server?.stop();
    await cleanUp();
  });

  /** Downloads and places a call as the widget does; sipp answers and talks until webdial hangs up. */
  const call = async (who: { customerId: string; sessionId: string }, expectHeaders: Record<string, string>, sippTimeoutMs?: number) => {
    const mediaPort = await freeUdpPort();
    const rtp = await startRtpEndpoint(mediaPort, { toneHz: CENTER_TONE_HZ });
    const sipp = startSipp(sippPort, mediaPort, { kind: 'answerUntilBye', ringMs: 300, expectHeaders }, sippTimeoutMs);
    const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
      i: { merchantId: ids.merchant, linkId: ids.link, pageUrl: 'https://shop.example/product/42', ...who },
    });
    const { callId, callToken } = recordDownload as { callId: string; callToken: string };
    await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: callToken });
    return { sipp, rtp, callId, callToken };
  };

  const hangUp = (callToken: string) => gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: callToken });

  test('every INVITE carries the call, merchant, link, customer and session; an opted-in center hears the session number and # after it answers', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const { setCallCenterIdentityDtmf } = await admin(`mutation($c: ID!) { setCallCenterIdentityDtmf(callCenterId: $c, enabled: true) { id identityDtmf } }`, { c: ids.center });
    assert.equal(setCallCenterIdentityDtmf.identityDtmf, true);
    const who = { customerId: 'shopper 7', sessionId: '4711092' };
    // The call id is not known before the call: any value (sipp only checks that the header is there).
    // sipp's header value starts after the colon, with the space.
    const { sipp, rtp, callId, callToken } = await call(who, {
      'X-Webdial-Call-Id': '.+',
      'X-Webdial-Merchant': `^ *${ids.merchant}$`,
      'X-Webdial-Link': `^ *${ids.link}$`,
      'X-Webdial-Customer': '^ *shopper%207$',
      'X-Webdial-Session': '^ *4711092$',
    });
    try {
      await eventually(async () => ((await admin(`query($c: ID!) { call(id: $c) { state } }`, { c: callId })).call?.state === 'ANSWERED' ? true : null), 20_000, 'the answer');
      const digits = await eventually(async () => (rtp.dtmfReceived().join('').endsWith('#') ? rtp.dtmfReceived().join('') : null), 10_000, 'the DTMF after answer');
      console.log(`# the call center received "${digits}" as RFC 4733 events (${rtp.firstPacketAt ? Date.now() - rtp.firstPacketAt : '?'} ms after the first RTP packet)`);
      assert.equal(digits, '4711092#');
      // The screen pop by that number.
      const { callContextBySessionNumber: pop } = await admin(`query($n: String!) { callContextBySessionNumber(number: $n) { callId customerId sessionId } }`, { n: '4711092' });
      assert.deepEqual(pop, { callId, customerId: 'shopper 7', sessionId: '4711092' });
      await hangUp(callToken);
      const result = await sipp.done;
      assert.equal(result.exitCode, 0, `sipp's scenario (with the header checks) failed:\n${result.screen.slice(-2500)}`);
      // The exact header values, from sipp's message log.
      const invite = /INVITE sip:[\s\S]*?\n\n/.exec(result.messages)?.[0] ?? '';
      assert.match(invite, new RegExp(`X-Webdial-Call-Id: ${callId}\\r?\\n`, 'i'));
      assert.match(invite, new RegExp(`X-Webdial-Merchant: ${ids.merchant}\\r?\\n`, 'i'));
    } finally {
      await sipp.stop();
      await rtp.close();
    }
  });

  test('a center that did not opt in gets the headers and no DTMF; a header that is not there fails sipp', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    await admin(`mutation($c: ID!) { setCallCenterIdentityDtmf(callCenterId: $c, enabled: false) { id } }`, { c: ids.center });
    const { sipp, rtp, callId, callToken } = await call({ customerId: 'c-1', sessionId: '555' }, { 'X-Webdial-Session': '^ *555$' });
    try {
      await eventually(async () => ((await admin(`query($c: ID!) { call(id: $c) { state } }`, { c: callId })).call?.state === 'ANSWERED' ? true : null), 20_000, 'the answer');
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(rtp.dtmfReceived(), [], 'no DTMF without the opt-in');
      await hangUp(callToken);
      assert.equal((await sipp.done).exitCode, 0);
    } finally {
      await sipp.stop();
      await rtp.close();
    }
    // The guard itself: sipp expecting a header the INVITE does not carry refuses the call.
    const second = await call({ customerId: 'c-2', sessionId: '556' }, { 'X-Webdial-Not-Sent': '.+' }, 8000);
    try {
      const result = await second.sipp.done;
      assert.notEqual(result.exitCode, 0, 'sipp must fail on a missing header');
    } finally {
      await second.sipp.stop();
      await second.rtp.close();
      await hangUp(second.callToken).catch(() => undefined);
    }
  });
});
