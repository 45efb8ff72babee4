import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { legIdOf, type CallProgressSink, type DialRequest, type MediaGateway } from '../ports/media';

/**
 * The one contract every MediaGateway adapter passes (ports/media.ts): the simulator and external
 * (contract.spec.ts), LiveKit against its wire-level double (test/integration/livekit-contract.int.ts).
 */
export type MediaHarnessFactory = (t: TestContext, sink: CallProgressSink) => Promise<{ media: MediaGateway; dispose(): Promise<void> } | null>;

type Report = { what: 'ringing' | 'answered' | 'dtmf' | 'terminated'; callId: string; id: string };

const recordingSink = () => {
  const reports: Report[] = [];
  const sink: CallProgressSink = {
    ringing: async (callId, id) => void reports.push({ what: 'ringing', callId, id }),
    answered: async (callId, id) => void reports.push({ what: 'answered', callId, id }),
    dtmf: async (callId, _digits, id) => void reports.push({ what: 'dtmf', callId, id }),
    terminated: async (callId, _cause, _sip, id) => void reports.push({ what: 'terminated', callId, id }),
  };
  return { reports, sink };
};

let n = 0;
const request = (): DialRequest => ({
  callId: `contract-${process.pid}-${++n}`,
  merchantId: 'm1',
  destination: `+1555000${String(n).padStart(4, '0')}`,
  ani: '+15559990001',
  gatewayId: 'gw1',
  port: 1,
  ringingTimeoutSeconds: 25,
  maxDurationSeconds: 600,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ORDER: Report['what'][] = ['ringing', 'answered', 'terminated'];

export const mediaContract = (name: string, factory: MediaHarnessFactory): void => {
  describe(`MediaGateway contract: ${name}`, () => {
    test('join details name the provider; room and url are strings or null', async (t) => {
      const { sink } = recordingSink();
      const h = await factory(t, sink);
      if (!h) return;
      const join = await h.media.joinDetails(request().callId);
      assert.equal(join.provider, h.media.provider);
      for (const v of [join.url, join.room]) assert.ok(v === null || typeof v === 'string');
      await h.dispose();
    });

    test('a dialled call reports in order, each report id once, and nothing after its end; hang-up is idempotent', async (t) => {
      const { reports, sink } = recordingSink();
      const h = await factory(t, sink);
      if (!h) return;
      const r = request();
      await h.media.dial(r);
      await sleep(300);
      await h.media.hangUp(r.callId);
      await h.media.hangUp(r.callId);
      const atHangUp = reports.filter((x) => x.callId === r.callId).length;
      await sleep(200);
      const mine = reports.filter((x) => x.callId === r.callId);
      const lifecycle: Report['what'][] = mine.map((x) => x.what).filter((w) => w !== 'dtmf');
      assert.deepEqual(lifecycle, ORDER.filter((w) => lifecycle.includes(w)), `in order: ${lifecycle.join(' → ')}`);
      assert.equal(new Set(mine.map((x) => x.id)).size, mine.length, 'each gateway event id once');
      assert.ok(mine.filter((x) => x.what === 'terminated').length <= 1, 'one end at most');
      const end = mine.findIndex((x) => x.what === 'terminated');
      if (end >= 0) assert.equal(end, mine.length - 1, 'nothing after the end');
      assert.ok(mine.length - atHangUp <= 1, 'after a hang-up, at most its own end is reported');
      await h.dispose();
    });

    test("a second leg (intoCallId) reports under its own id; its hang-up leaves the call be; the call's hang-up ends it silently", async (t) => {
      const { reports, sink } = recordingSink();
      const h = await factory(t, sink);
      if (!h) return;
      const of = (id: string) => reports.filter((x) => x.callId === id);
      const call = request();
      await h.media.dial(call);
      const shopper: DialRequest = { ...request(), callId: legIdOf(call.callId, 'shopper'), intoCallId: call.callId };
      await h.media.dial(shopper);
      await sleep(300);
      const lifecycle = (id: string): Report['what'][] => of(id).map((x) => x.what).filter((w) => w !== 'dtmf');
      for (const id of [call.callId, shopper.callId]) assert.deepEqual(lifecycle(id), ORDER.filter((w) => lifecycle(id).includes(w)), `${id} in order: ${lifecycle(id).join(' → ')}`);
      assert.ok(!lifecycle(call.callId).includes('terminated'), 'the call is live');

      await h.media.hangUp(shopper.callId);
      const callAt = of(call.callId).length;
      const shopperAt = of(shopper.callId).length;
      await sleep(200);
      assert.ok(of(shopper.callId).length - shopperAt <= 1, "after the leg's hang-up, at most its own end");
      assert.equal(of(call.callId).length, callAt, "the leg's hang-up reports nothing of the call");

      const transfer: DialRequest = { ...request(), callId: legIdOf(call.callId, 't1'), intoCallId: call.callId };
      await h.media.dial(transfer);
      await sleep(300);
      await h.media.hangUp(call.callId);
      const transferAt = of(transfer.callId).length;
      await sleep(200);
      assert.equal(of(transfer.callId).length, transferAt, "after the call's hang-up, its second leg reports nothing");
      assert.ok(!of(transfer.callId).some((x) => x.what === 'terminated'), 'the second leg ended with its call, unreported');
      await h.dispose();
    });

    test('a hang-up of a call it never dialled changes nothing and does not throw', async (t) => {
      const { reports, sink } = recordingSink();
      const h = await factory(t, sink);
      if (!h) return;
      await h.media.hangUp(request().callId);
      await sleep(50);
      assert.deepEqual(reports, []);
      await h.dispose();
    });
  });
};
