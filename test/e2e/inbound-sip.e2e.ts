import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SipClient } from 'livekit-server-sdk';
import { ensureInboundRouting, removeInboundRouting } from '../../src/media/livekit/inbound-routing';
import { removeTrunksOf } from '../support/livekit-inbound';
import { serviceMissing } from '../support/services';
import { realLiveKit, sippTrunkSetup, type RealLiveKit } from '../support/livekit-real';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, startServer } from '../support/server';
import { setupMerchant } from '../support/merchant';
import { dialDid } from '../support/sip-uac';

/**
 * Issue 23, inbound calls at the SIP layer, against the real LiveKit SIP: webdial's inbound trunk
 * (only our DIDs, only from the carrier's addresses) and dispatch rule (a room per call), then a
 * phone (a minimal UDP UAC, test/support/sip-uac.ts) dialling from two loopback addresses. Needs
 * `npm run livekit:start`.
 */
describe('inbound calls at the SIP layer: the trunk accepts only our numbers from the carrier', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let sip: SipClient;
  const name = `webdial-inbound-test-${process.pid}`;
  const did = '+33100000301';
  const carrier = '127.0.0.1';

  before(async () => {
    const found = await realLiveKit();
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
    await removeTrunksOf(sip, did); // a run that died before its after() left its trunk (LiveKit keeps it in Redis)
    await ensureInboundRouting(sip, { name, numbers: [did], allowedAddresses: [`${carrier}/32`] });
  });
  after(async () => {
    if (sip) await removeInboundRouting(sip, name);
  });
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP', skipped);
  const sipServer = () => ({ host: '127.0.0.1', port: lk.sipPort });

  test('the trunk and the rule are found by name, not duplicated, and carry the wanted lists', async (t) => {
    if (skipped) return skip(t);
    const again = await ensureInboundRouting(sip, { name, numbers: [did], allowedAddresses: [`${carrier}/32`] });
    const trunks = (await sip.listSipInboundTrunk()).filter((x) => x.name === name);
    assert.deepEqual(trunks.map((x) => [x.sipTrunkId, x.numbers, x.allowedAddresses]), [[again.trunkId, [did], [`${carrier}/32`]]]);
    assert.equal((await sip.listSipDispatchRule()).filter((r) => r.name === name).length, 1);
  });

  test('our DID from the carrier rings; a DID that is not ours and an address outside the list are refused by LiveKit SIP and never answered', { timeout: 60_000 }, async (t) => {
    if (skipped) return skip(t);
    // The refusals are counted at the SIP layer, by LiveKit SIP's own metric (webdial never sees them).
    const refusedAtSip = async (): Promise<number> => {
      const text = await (await fetch(lk.sipMetricsUrl!)).text();
      // v1.8.0 counts them as calls_terminated{dir="in", result="client_error", reason="flood"} (its invite_error stays unset).
      return [...text.matchAll(/^livekit_sip_calls_terminated\{([^}]*)\} (\d+(?:\.\d+)?)/gm)]
        .filter((m) => m[1].includes('dir="in"') && m[1].includes('result="client_error"'))
        .reduce((n, m) => n + Number(m[2]), 0);
    };
    assert.ok(lk.sipMetricsUrl, 'LiveKit SIP runs with its Prometheus port (npm run livekit:stop && npm run livekit:start after updating)');
    const refusedBefore = await refusedAtSip();
    const ok = await dialDid({ fromAddress: carrier, server: sipServer(), did, caller: '+33612345678', cancelAfterMs: 1000 });
    // LiveKit SIP v1.8.0 sends 100 and 180 before it matches a trunk; a call no trunk takes is then
    // closed with 486 in its log ("SIP call ended ... reason: flood") and the caller hears nothing
    // more: not answered, ever.
    const [unknown, foreign] = await Promise.all([
      dialDid({ fromAddress: carrier, server: sipServer(), did: '+33100000399', caller: '+33612345678', cancelAfterMs: null, timeoutMs: 5000 }),
      dialDid({ fromAddress: '127.0.0.2', server: sipServer(), did, caller: '+33612345678', cancelAfterMs: null, timeoutMs: 5000 }),
    ]);
    console.log(`# our DID: ${ok.statuses.join(' ')} (${ok.reason}); an unknown DID: ${unknown.statuses.join(' ')} (${unknown.reason}); from 127.0.0.2: ${foreign.statuses.join(' ')} (${foreign.reason})`);
    assert.ok(ok.statuses.some((s) => s === 180 || s === 183), `our DID must ring: ${ok.statuses.join(' ')}`);
    assert.equal(ok.final, 487, 'then our CANCEL ends it');
    const log = readFileSync(lk.sipLogFile, 'utf8').split('\n');
    const closing = (callId: string) => log.filter((l) => l.includes(callId) && /Closing inbound call/.test(l));
    assert.ok(!closing(ok.callId).some((l) => /"status": 486/.test(l)), `our call was not refused: ${closing(ok.callId).join('\n')}`);
    assert.equal((await refusedAtSip()) - refusedBefore, 2, 'livekit_sip_calls_terminated{dir="in", result="client_error"} counts the two refusals, not our call');
    for (const [what, r] of [['an unknown DID', unknown], ['an address outside allowedAddresses', foreign]] as const) {
      assert.ok(r.final === null || r.final >= 400, `${what} must never be answered: ${r.statuses.join(' ')} ${r.reason}`);
      const lines = closing(r.callId);
      assert.ok(lines.some((l) => /"status": 486/.test(l)), `${what}: LiveKit SIP's log must show the refusal: ${lines.join('\n') || 'no line'}`);
    }
  });

  test("webdial keeps the inbound trunk's numbers in step with assignDid / releaseDid: an assigned DID rings, a released one is refused", { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const number = '+33100000311';
    const { sippPort: _unused, env, cleanUp } = sippTrunkSetup(lk, '+33100000103', 10);
    const server = await startServer({ ...env, LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES: `${carrier}/32` });
    try {
      const m = await setupMerchant(server.url, 'Inbound');
      // An inbound call rings in consoles: a phone center's number would be refused (NO_ROUTE) at once.
      await gql(server.url, `mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { kind } }`, { c: m.centerId }, ADMIN_KEY);
      const listed = async () => (await sip.listSipInboundTrunk()).filter((x) => x.name === 'webdial-inbound').flatMap((x) => x.numbers);
      await gql(server.url, `mutation($i: DidInput!) { assignDid(input: $i) { number } }`, { i: { merchantId: m.merchantId, number, callCenterId: m.centerId } }, m.merchantKey);
      assert.deepEqual(await listed(), [number], 'the trunk lists the number once assignDid answered');
      const rings = await dialDid({ fromAddress: carrier, server: sipServer(), did: number, caller: '+33612345678', cancelAfterMs: 500 });
      assert.ok(rings.statuses.includes(180) && rings.final === 487, `an assigned DID rings: ${rings.statuses.join(' ')}`);
      await gql(server.url, `mutation($m: ID!, $n: String!) { releaseDid(merchantId: $m, number: $n) }`, { m: m.merchantId, n: number }, m.merchantKey);
      // Not a trunk with no numbers: LiveKit SIP would take that as "any number" (the first version did).
      assert.deepEqual(await listed(), [], 'no inbound trunk once no number is assigned');
      const refused = await dialDid({ fromAddress: carrier, server: sipServer(), did: number, caller: '+33612345678', cancelAfterMs: null, timeoutMs: 3000 });
      const log = readFileSync(lk.sipLogFile, 'utf8').split('\n').filter((l) => l.includes(refused.callId) && /Closing inbound call/.test(l));
      assert.ok(refused.final === null || refused.final >= 400, `released: never answered (${refused.statuses.join(' ')})`);
      assert.ok(log.some((l) => /"status": 486/.test(l)), `released: refused by LiveKit SIP: ${log.join('\n') || 'no line'}`);
    } finally {
      await server.stop();
      await cleanUp();
      await removeInboundRouting(sip, 'webdial-inbound');
    }
  });
});

