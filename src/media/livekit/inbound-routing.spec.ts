import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SipClient } from 'livekit-server-sdk';
import { createInboundNumberSync, ensureInboundRouting } from './inbound-routing';

const quiet = { info: () => undefined, warn: () => undefined };

describe('inbound trunk sync (issue 23)', () => {
  it('never leaves a trunk without numbers (LiveKit SIP takes an empty list as any number)', async () => {
    const calls: string[] = [];
    const sip = {
      listSipInboundTrunk: async () => [{ sipTrunkId: 'ST_1', name: 'in', numbers: ['+33100000001'], allowedAddresses: ['10.0.0.0/8'] }],
      listSipDispatchRule: async () => [{ sipDispatchRuleId: 'SDR_1', name: 'in' }],
      updateSipInboundTrunk: async () => void calls.push('update'),
      deleteSipDispatchRule: async () => void calls.push('delete rule'),
      deleteSipTrunk: async () => void calls.push('delete trunk'),
    } as unknown as SipClient;
    await assert.rejects(ensureInboundRouting(sip, { name: 'in', numbers: [], allowedAddresses: ['10.0.0.0/8'], roomPrefix: 'inbound' }), /numbers/);
    await assert.rejects(ensureInboundRouting(sip, { name: 'in', numbers: ['+33100000001'], allowedAddresses: [], roomPrefix: 'inbound' }), /allowedAddresses/);
    const sync = createInboundNumberSync(sip, { name: 'in', allowedAddresses: ['10.0.0.0/8'], roomPrefix: 'inbound' }, quiet);
    await sync.start(['+33100000001']);
    await sync.changed('+33100000001', false);
    assert.deepEqual(calls, ['update', 'delete rule', 'delete trunk']);
  });

  it('a LiveKit that does not answer does not hold the mutation longer than the wait', async () => {
    const sip = { listSipInboundTrunk: () => new Promise(() => undefined) } as unknown as SipClient;
    const sync = createInboundNumberSync(sip, { name: 'in', allowedAddresses: ['10.0.0.0/8'], roomPrefix: 'inbound' }, quiet, 50);
    const keepAlive = setTimeout(() => undefined, 2000); // the wait's own timer does not hold the process
    const t0 = Date.now();
    await sync.changed('+33100000001', true);
    clearTimeout(keepAlive);
    assert.ok(Date.now() - t0 < 1000);
  });
});
