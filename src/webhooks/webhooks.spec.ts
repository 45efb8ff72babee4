import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import type { StoredEvent } from '../ports/event-store';
import type { WebhookEndpointConfig } from '../domain/webhook/endpoint';
import { retryDelayMs } from './backoff';
import { planDeliveries, webhookIdOf } from './planner';
import { SecretSealer } from './sealed-secrets';
import { newWebhookSecret, signWebhook, verifyWebhook } from './signature';
import { assertReachableUnderPolicy, isNonPublicAddress } from './url-policy';

describe('Standard Webhooks signatures', () => {
  it('the reference library (standardwebhooks) verifies what we sign, and we verify what it signs', () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: 'CallRinging', timestamp: '2026-11-23T10:00:00.000Z', data: { callId: 'c_1', é: 'ü' } });
    const ts = Math.floor(Date.now() / 1000);
    const header = signWebhook([secret], 'msg_1', ts, body);
    const wh = new Webhook(secret);
    assert.deepEqual(wh.verify(body, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': header }), JSON.parse(body));
    assert.equal(wh.sign('msg_1', new Date(ts * 1000), body), header);
    assert.equal(verifyWebhook(secret, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': header }, body), true);
  });

  it('two secrets sign during a rotation; each verifies alone; a changed body, id or stale timestamp does not', () => {
    const [oldS, newS] = [newWebhookSecret(), newWebhookSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const header = signWebhook([newS, oldS], 'msg_2', ts, '{"a":1}');
    assert.equal(header.split(' ').length, 2);
    for (const s of [oldS, newS]) assert.doesNotThrow(() => new Webhook(s).verify('{"a":1}', { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': header }));
    const h = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': header };
    assert.equal(verifyWebhook(newS, h, '{"a":2}'), false);
    assert.equal(verifyWebhook(newS, { ...h, 'webhook-id': 'msg_3' }, '{"a":1}'), false);
    assert.equal(verifyWebhook(newWebhookSecret(), h, '{"a":1}'), false);
    assert.equal(verifyWebhook(newS, h, '{"a":1}', ts + 301), false);
  });
});

describe('sealed webhook secrets', () => {
  it('open(seal(s)) = s; another server secret cannot open it; the seal differs each time', () => {
    const sealer = new SecretSealer(randomBytes(32));
    const s = newWebhookSecret();
    const a = sealer.seal(s);
    assert.equal(sealer.open(a), s);
    assert.notEqual(sealer.seal(s), a);
    assert.ok(!a.includes(s.slice(6, 20)));
    assert.throws(() => new SecretSealer(randomBytes(32)).open(a));
  });
});

describe('retry backoff', () => {
  const policy = { baseMs: 1000, maxMs: 60_000 };
  it('doubles per attempt up to the cap, within [d/2, d]', () => {
    assert.equal(retryDelayMs(1, policy, () => 1), 1000);
    assert.equal(retryDelayMs(1, policy, () => 0), 500);
    assert.equal(retryDelayMs(4, policy, () => 1), 8000);
    assert.equal(retryDelayMs(30, policy, () => 1), 60_000);
    assert.equal(retryDelayMs(1000, policy, () => 0), 30_000);
  });
  it('property: never below half nor above the exponential delay, never above the cap', () =>
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
        const d = retryDelayMs(n, policy, () => r);
        const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** (n - 1));
        return d >= Math.floor(exp / 2) && d <= exp;
      }),
    ));
});

describe('webhook URL addresses (production policy)', () => {
  for (const a of ['127.0.0.1', '10.0.0.5', '172.16.3.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip',
    // Forms that embed 127.0.0.1 (issue 20), as the URL parser normalises them, and a Teredo address.
    '::127.0.0.1', '::7f00:1', '2002:7f00:1::', '2002:7f00:0001:0:0:0:0:1', '::ffff:0:7f00:1', '::ffff:0:127.0.0.1', '2002:a00:1::', '2001:0:4136:e378:8000:63bf:3fff:fdd2'])
    it(`${a} is not public`, () => assert.equal(isNonPublicAddress(a), true));
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:808:808::1', '::ffff:0:808:808'])
    it(`${a} is public`, () => assert.equal(isNonPublicAddress(a), false));

  it('the URL forms of issue 20 are refused at registration: [::127.0.0.1], [2002:7f00:1::], [::ffff:0:7f00:1]', async () => {
    for (const url of ['https://[::127.0.0.1]/h', 'https://[2002:7f00:1::]/h', 'https://[::ffff:0:7f00:1]/h', 'https://[::ffff:127.0.0.1]/h'])
      await assert.rejects(assertReachableUnderPolicy(url, 'public', async () => []), /loopback or private address/, url);
  });

  it('a name that resolves to any private address is refused; all public is accepted; "any" checks nothing', async () => {
    const resolve = async (host: string) => (host === 'crm.example.com' ? ['93.184.216.34'] : host === 'rebind.example.com' ? ['93.184.216.34', '10.0.0.1'] : []);
    await assertReachableUnderPolicy('https://crm.example.com/h', 'public', resolve);
    await assert.rejects(assertReachableUnderPolicy('https://rebind.example.com/h', 'public', resolve), /loopback or private address \(10\.0\.0\.1\)/);
    await assert.rejects(assertReachableUnderPolicy('https://nowhere.example.com/h', 'public', async () => Promise.reject(new Error('ENOTFOUND'))), /does not resolve/);
    await assertReachableUnderPolicy('http://127.0.0.1/h', 'any', resolve);
  });
});

describe('planning deliveries from a batch of events', () => {
  const endpoint = (id: string, merchantId: string, eventTypes: string[]): WebhookEndpointConfig => ({
    endpointId: id,
    merchantId,
    url: 'https://crm.example.com/h',
    eventTypes,
    description: null,
    secrets: { current: 'x', previous: null },
    status: 'ACTIVE',
    failingSince: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  const endpoints = [endpoint('e1', 'm1', ['CallRinging', 'ScreenPop', 'CallTerminated']), endpoint('e2', 'm2', ['CallRinging'])];
  const subscribers = (merchantId: string, type: string) => endpoints.filter((e) => e.merchantId === merchantId && e.eventTypes.includes(type));
  let position = 0;
  const ev = (type: string, merchantId: string | null, callId: string, version: number): StoredEvent => ({
    eventId: `ev-${callId}-${version}`,
    type,
    streamId: `call-${callId}`,
    streamVersion: version,
    position: String(++position).padStart(8, '0'),
    occurredAt: '2026-11-23T10:00:00.000Z',
    recordedAt: '2026-11-23T10:00:00.010Z',
    merchantId,
    correlationId: 'corr',
    causationId: null,
    schemaVersion: 1,
    data: { callId, at: '2026-11-23T10:00:00.000Z' },
  });

  it("each event goes to its own merchant's endpoints that chose its type, ringing adds a screen pop after it", async () => {
    const batch = [ev('CallDownloaded', 'm1', 'a', 1), ev('CallRinging', 'm1', 'a', 2), ev('CallRinging', 'm2', 'b', 1), ev('CallTerminated', 'm1', 'a', 3), ev('MerchantCreated', 'm1', 'x', 1)];
    const rows = await planDeliveries(batch, { subscribers, screenPop: async (e) => ({ pop: (e.data as { callId: string }).callId }) });
    assert.deepEqual(
      rows.map((r) => [r.endpointId, r.eventType, r.streamId, r.seq]),
      [
        ['e1', 'CallRinging', 'call-a', 4],
        ['e1', 'ScreenPop', 'call-a', 5],
        ['e2', 'CallRinging', 'call-b', 2],
        ['e1', 'CallTerminated', 'call-a', 6],
      ],
    );
    assert.ok(rows.every((r) => r.merchantId === endpoints.find((e) => e.endpointId === r.endpointId)!.merchantId), 'never to another merchant');
    const pop = JSON.parse(rows[1]!.body) as { type: string; timestamp: string; data: unknown };
    assert.deepEqual(pop, { type: 'ScreenPop', timestamp: '2026-11-23T10:00:00.000Z', data: { pop: 'a' } });
    const ringing = JSON.parse(rows[0]!.body) as { data: { sequence: number; callId: string; eventId: string } };
    assert.equal(ringing.data.sequence, 2);
    assert.equal(rows[0]!.id, webhookIdOf('e1', 'ev-a-2', 'CallRinging'));
  });

  it('planning the same batch again gives the same webhook-ids (a redelivery adds nothing); an event without merchant goes nowhere', async () => {
    const batch = [ev('CallRinging', 'm1', 'c', 1), ev('CallRinging', null, 'd', 1)];
    const deps = { subscribers, screenPop: async () => ({}) };
    const [one, two] = [await planDeliveries(batch, deps), await planDeliveries(batch, deps)];
    assert.deepEqual(one.map((r) => r.id), two.map((r) => r.id));
    assert.equal(one.length, 2);
    assert.match(one[0]!.id, /^msg_[A-Za-z0-9_-]{27}$/);
  });
});

describe('docs/webhooks.md', () => {
  it("the receiver's verification example accepts our deliveries and refuses a tampered one", async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'webhooks.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(doc)![1]!;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- runs the docs' own snippet, as a merchant would paste it
    const verifyWebdial = new Function('require', `${code}; return verifyWebdial;`)(require) as (s: string, h: Record<string, string>, b: string) => boolean;
    const [secret, old] = [newWebhookSecret(), newWebhookSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"type":"ScreenPop","data":{"callId":"c_1"}}';
    const headers = { 'webhook-id': 'msg_9', 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook([secret, old], 'msg_9', ts, body) };
    assert.equal(verifyWebdial(secret, headers, body), true);
    assert.equal(verifyWebdial(old, headers, body), true);
    assert.equal(verifyWebdial(secret, headers, body.replace('c_1', 'c_2')), false);
    assert.equal(verifyWebdial(secret, { ...headers, 'webhook-timestamp': String(ts - 600) }, body), false);
  });
});
