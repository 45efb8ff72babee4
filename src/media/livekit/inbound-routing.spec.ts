import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SIPDispatchRule, SIPDispatchRuleCallee, SIPDispatchRuleIndividual, SIPDispatchRuleInfo, type SipClient } from 'livekit-server-sdk';
import { createInboundNumberSync, ensureInboundRouting } from './inbound-routing';

const quiet = { info: () => undefined, warn: () => undefined };

const callee = (roomPrefix: string, randomize: boolean) =>
  new SIPDispatchRule({ rule: { case: 'dispatchRuleCallee', value: new SIPDispatchRuleCallee({ roomPrefix, randomize }) } });
const ourRule = () => new SIPDispatchRuleInfo({ sipDispatchRuleId: 'SDR_1', name: 'in', trunkIds: ['ST_1'], rule: callee('call-in', true) });

describe('inbound dispatch rule (issue 23): rooms call-in_<DID>_<random>', () => {
  const fake = (rules: SIPDispatchRuleInfo[]) => {
    const calls: unknown[][] = [];
    const sip = {
      listSipInboundTrunk: async () => [{ sipTrunkId: 'ST_1', name: 'in', numbers: ['+33100000001'], allowedAddresses: ['10.0.0.0/8'] }],
      updateSipInboundTrunk: async () => undefined,
      listSipDispatchRule: async () => rules,
      createSipDispatchRule: async (...a: unknown[]) => {
        calls.push(['create', ...a]);
        return { sipDispatchRuleId: 'SDR_new' };
      },
      updateSipDispatchRule: async (id: string, info: SIPDispatchRuleInfo) => void calls.push(['update', id, info.toJson()]),
    } as unknown as SipClient;
    return { sip, calls };
  };
  const wanted = { name: 'in', numbers: ['+33100000001'], allowedAddresses: ['10.0.0.0/8'] };

  it('creates the callee rule with prefix call-in and randomize, for our trunk', async () => {
    const { sip, calls } = fake([]);
    assert.deepEqual(await ensureInboundRouting(sip, wanted), { trunkId: 'ST_1', ruleId: 'SDR_new' });
    assert.deepEqual(calls, [['create', { type: 'callee', roomPrefix: 'call-in', randomize: true }, { name: 'in', trunkIds: ['ST_1'] }]]);
  });

  it('replaces, in place, a rule of the same name that is of another type, prefix or trunk, or hides the number', async () => {
    const stale = [
      new SIPDispatchRuleInfo({ sipDispatchRuleId: 'SDR_1', name: 'in', trunkIds: ['ST_1'], rule: new SIPDispatchRule({ rule: { case: 'dispatchRuleIndividual', value: new SIPDispatchRuleIndividual({ roomPrefix: 'inbound' }) } }) }),
      new SIPDispatchRuleInfo({ sipDispatchRuleId: 'SDR_1', name: 'in', trunkIds: ['ST_1'], rule: callee('inbound', true) }),
      new SIPDispatchRuleInfo({ sipDispatchRuleId: 'SDR_1', name: 'in', trunkIds: ['ST_1'], rule: callee('call-in', false) }),
      new SIPDispatchRuleInfo({ sipDispatchRuleId: 'SDR_1', name: 'in', trunkIds: [], rule: callee('call-in', true) }),
      new SIPDispatchRuleInfo({ sipDispatchRuleId: 'SDR_1', name: 'in', trunkIds: ['ST_1'], rule: callee('call-in', true), hidePhoneNumber: true }),
    ];
    for (const rule of stale) {
      const { sip, calls } = fake([rule]);
      assert.deepEqual(await ensureInboundRouting(sip, { ...wanted }), { trunkId: 'ST_1', ruleId: 'SDR_1' });
      assert.deepEqual(calls, [['update', 'SDR_1', { sipDispatchRuleId: 'SDR_1', name: 'in', trunkIds: ['ST_1'], rule: { dispatchRuleCallee: { roomPrefix: 'call-in', randomize: true } } }]], JSON.stringify(rule.toJson()));
    }
  });

  it('leaves our rule alone', async () => {
    const { sip, calls } = fake([ourRule()]);
    assert.deepEqual(await ensureInboundRouting(sip, wanted), { trunkId: 'ST_1', ruleId: 'SDR_1' });
    assert.deepEqual(calls, []);
  });
});

describe('inbound trunk sync (issue 23)', () => {
  it('never leaves a trunk without numbers (LiveKit SIP takes an empty list as any number)', async () => {
    const calls: string[] = [];
    const sip = {
      listSipInboundTrunk: async () => [{ sipTrunkId: 'ST_1', name: 'in', numbers: ['+33100000001'], allowedAddresses: ['10.0.0.0/8'] }],
      listSipDispatchRule: async () => [ourRule()],
      updateSipInboundTrunk: async () => void calls.push('update'),
      deleteSipDispatchRule: async () => void calls.push('delete rule'),
      deleteSipTrunk: async () => void calls.push('delete trunk'),
    } as unknown as SipClient;
    await assert.rejects(ensureInboundRouting(sip, { name: 'in', numbers: [], allowedAddresses: ['10.0.0.0/8'] }), /numbers/);
    await assert.rejects(ensureInboundRouting(sip, { name: 'in', numbers: ['+33100000001'], allowedAddresses: [] }), /allowedAddresses/);
    const sync = createInboundNumberSync(sip, { name: 'in', allowedAddresses: ['10.0.0.0/8'] }, quiet);
    await sync.start(['+33100000001']);
    await sync.changed('+33100000001', false);
    assert.deepEqual(calls, ['update', 'delete rule', 'delete trunk']);
  });

  it('a LiveKit that does not answer does not hold the mutation longer than the wait', async () => {
    const sip = { listSipInboundTrunk: () => new Promise(() => undefined) } as unknown as SipClient;
    const sync = createInboundNumberSync(sip, { name: 'in', allowedAddresses: ['10.0.0.0/8'] }, quiet, 50);
    const keepAlive = setTimeout(() => undefined, 2000); // the wait's own timer does not hold the process
    const t0 = Date.now();
    await sync.changed('+33100000001', true);
    clearTimeout(keepAlive);
    assert.ok(Date.now() - t0 < 1000);
  });
});
