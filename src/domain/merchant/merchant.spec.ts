import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { merchantDecider, type ActiveMerchant } from './merchant';
import type { CallCenterConfig, MerchantCommand, MerchantEvent } from './events';
import type { RatePlan } from '../rating/rate-plan';
import { specFor, stateAfter } from '../shared/spec';

const given = specFor(merchantDecider);
const AT = '2026-11-23T10:00:00.000Z';
const M = 'm1';

const create = (over: Partial<Extract<MerchantCommand, { type: 'CreateMerchant' }>['data']> = {}): MerchantCommand => ({
  type: 'CreateMerchant',
  data: { merchantId: M, name: 'Shop', maxConcurrentCalls: 5, allowedOrigins: ['https://shop.example'], at: AT, ...over },
});
const created: MerchantEvent = { type: 'MerchantCreated', data: { merchantId: M, name: 'Shop', maxConcurrentCalls: 5, allowedOrigins: ['https://shop.example'], at: AT } };

const centerConfig = (id: string, over: Partial<CallCenterConfig> = {}): CallCenterConfig => ({
  callCenterId: id,
  name: `Center ${id}`,
  phoneNumber: '+14155550100',
  timeZone: 'America/New_York',
  weeklyHours: [{ day: 1, open: '09:00', close: '17:00' }],
  capacity: 3,
  region: 'us-east',
  kind: 'PSTN',
  ...over,
});
const addCenter = (id: string, over: Partial<CallCenterConfig> = {}): MerchantCommand => ({ type: 'AddCallCenter', data: { ...centerConfig(id, over), at: AT } });
const centerAdded = (id: string): MerchantEvent => ({ type: 'CallCenterAdded', data: { ...centerConfig(id), merchantId: M, at: AT } });
const redirect = (from: string, to: string | null): MerchantCommand => ({ type: 'RedirectCallCenter', data: { callCenterId: from, toCallCenterId: to, at: AT } });
const redirected = (from: string, to: string | null): MerchantEvent => ({ type: 'CallCenterRedirected', data: { merchantId: M, callCenterId: from, toCallCenterId: to, at: AT } });
const link = (ids: string[], linkId = 'l1'): MerchantCommand => ({ type: 'CreateLink', data: { linkId, label: 'Buy button', callCenterIds: ids, at: AT } });

const planInput = (over: Partial<Omit<RatePlan, 'version'>> = {}): Omit<RatePlan, 'version'> => ({
  currency: 'EUR',
  connectionFeeMinor: 10,
  ratePerMinuteMinor: 12,
  firstIncrementSeconds: 30,
  nextIncrementSeconds: 6,
  minimumChargeMinor: 0,
  prefixRates: [{ prefix: '+44', ratePerMinuteMinor: 20 }],
  ...over,
});
const setPlan = (over: Partial<Omit<RatePlan, 'version'>> = {}): MerchantCommand => ({ type: 'SetRatePlan', data: { plan: planInput(over), at: AT } });
const dtmf = (sequence: string, action: 'PUSH_PAGE' | 'VOLUME' | 'OPEN_CHANNEL', argument: string | null): MerchantCommand => ({
  type: 'SetDtmfCommand',
  data: { sequence, action, argument, at: AT },
});

const withCenters = [created, centerAdded('a'), centerAdded('b'), centerAdded('c')];

describe('merchant decider: create', () => {
  it('absent → MerchantCreated', () => given([]).when(create()).then([created]));
  it('no limit and any origin are allowed (null)', () =>
    given([]).when(create({ maxConcurrentCalls: null, allowedOrigins: null })).then([
      { type: 'MerchantCreated', data: { merchantId: M, name: 'Shop', maxConcurrentCalls: null, allowedOrigins: null, at: AT } },
    ]));
  it('twice → CONFLICT', () => given([created]).when(create()).thenThrows('CONFLICT'));
  it('empty name → BAD_USER_INPUT', () => given([]).when(create({ name: '  ' })).thenThrows('BAD_USER_INPUT', /name/));
  it('limit 0 → BAD_USER_INPUT', () => given([]).when(create({ maxConcurrentCalls: 0 })).thenThrows('BAD_USER_INPUT', /maxConcurrentCalls/));
  for (const bad of ['shop.example', 'https://shop.example/', 'https://shop.example/path', 'ftp://shop.example', 'HTTPS://Shop.example', 'https://*.example', 'https://*.shop.example:8443'])
    it(`origin "${bad}" → BAD_USER_INPUT`, () => given([]).when(create({ allowedOrigins: [bad] })).thenThrows('BAD_USER_INPUT', /origin/));
  it('an origin with a port is fine', () =>
    given([]).when(create({ allowedOrigins: ['http://localhost:4000'] })).then((events) => assert.equal(events.length, 1)));
  it('any command on an absent merchant → NOT_FOUND', () => {
    for (const c of [addCenter('a'), redirect('a', 'b'), link(['a']), setPlan(), dtmf('*1', 'VOLUME', '+20')]) given([]).when(c).thenThrows('NOT_FOUND');
  });
});

describe('merchant decider: call centers', () => {
  it('→ CallCenterAdded', () => given([created]).when(addCenter('a')).then([centerAdded('a')]));
  it('the same id twice → CONFLICT', () => given([created, centerAdded('a')]).when(addCenter('a')).thenThrows('CONFLICT'));
  const bad: Array<[string, Partial<CallCenterConfig>, RegExp]> = [
    ['phone not E.164', { phoneNumber: '4155550100' }, /phoneNumber/],
    ['unknown time zone', { timeZone: 'Mars/Olympus' }, /timeZone/],
    ['capacity 0', { capacity: 0 }, /capacity/],
    ['capacity 1.5', { capacity: 1.5 }, /capacity/],
    ['day 0', { weeklyHours: [{ day: 0, open: '09:00', close: '17:00' }] }, /day/],
    ['day 8', { weeklyHours: [{ day: 8, open: '09:00', close: '17:00' }] }, /day/],
    ['open 24:00', { weeklyHours: [{ day: 1, open: '24:00', close: '17:00' }] }, /open/],
    ['open 9:00', { weeklyHours: [{ day: 1, open: '9:00', close: '17:00' }] }, /open/],
    ['close 25:00', { weeklyHours: [{ day: 1, open: '09:00', close: '25:00' }] }, /close/],
    ['close 17:60', { weeklyHours: [{ day: 1, open: '09:00', close: '17:60' }] }, /close/],
    ['open equals close', { weeklyHours: [{ day: 1, open: '09:00', close: '09:00' }] }, /differ/],
    ['empty region', { region: '' }, /region/],
  ];
  for (const [what, over, message] of bad) it(`${what} → BAD_USER_INPUT`, () => given([created]).when(addCenter('a', over)).thenThrows('BAD_USER_INPUT', message));
  it('close "24:00", overnight spans, always open (null) and never open ([]) are accepted', () => {
    for (const weeklyHours of [[{ day: 7, open: '08:00', close: '24:00' }], [{ day: 5, open: '22:00', close: '06:00' }], null, []])
      given([created]).when(addCenter('a', { weeklyHours })).then((events) => assert.equal(events[0]?.type, 'CallCenterAdded'));
  });
  it('evolve keeps the center with no redirect', () => {
    const s = stateAfter(merchantDecider, [created, centerAdded('a')]) as ActiveMerchant;
    assert.deepEqual(s.callCenters.a, { ...centerConfig('a'), redirectedTo: null, identityDtmf: false });
  });
});

describe('merchant decider: browser (PC-to-PC) call centers', () => {
  const kindSet = (id: string, kind: 'PSTN' | 'BROWSER'): MerchantEvent => ({ type: 'CallCenterKindSet', data: { merchantId: M, callCenterId: id, kind, at: AT } });
  const setKind = (id: string, kind: 'PSTN' | 'BROWSER'): MerchantCommand => ({ type: 'SetCallCenterKind', data: { callCenterId: id, kind, at: AT } });
  it('a center can be added as a BROWSER center', () =>
    given([created]).when(addCenter('a', { kind: 'BROWSER' })).then([{ type: 'CallCenterAdded', data: { ...centerConfig('a', { kind: 'BROWSER' }), merchantId: M, at: AT } }]));
  it('an unknown kind → BAD_USER_INPUT', () => given([created]).when(addCenter('a', { kind: 'SIP' as never })).thenThrows('BAD_USER_INPUT', /kind/));
  it('a PSTN center marked as a browser center → CallCenterKindSet', () => given([created, centerAdded('a')]).when(setKind('a', 'BROWSER')).then([kindSet('a', 'BROWSER')]));
  it('marking it with the kind it has → []', () => given([created, centerAdded('a')]).when(setKind('a', 'PSTN')).then([]));
  it('and back to PSTN', () => given([created, centerAdded('a'), kindSet('a', 'BROWSER')]).when(setKind('a', 'PSTN')).then([kindSet('a', 'PSTN')]));
  it('an unknown center → NOT_FOUND', () => given([created]).when(setKind('zz', 'BROWSER')).thenThrows('NOT_FOUND'));
  it('an unknown kind → BAD_USER_INPUT', () => given([created, centerAdded('a')]).when(setKind('a', 'VOIP' as never)).thenThrows('BAD_USER_INPUT', /kind/));
  it('evolve keeps the kind with the rest of the center', () => {
    const s = stateAfter(merchantDecider, [created, centerAdded('a'), centerAdded('b'), kindSet('b', 'BROWSER'), redirected('a', 'b')]) as ActiveMerchant;
    assert.equal(s.callCenters.a!.kind, 'PSTN');
    assert.equal(s.callCenters.b!.kind, 'BROWSER');
    assert.equal(s.callCenters.a!.redirectedTo, 'b');
  });
});

describe('merchant decider: the session number as DTMF after answer (issue 23)', () => {
  const optIn = (id: string, enabled: boolean): MerchantCommand => ({ type: 'SetCallCenterIdentityDtmf', data: { callCenterId: id, enabled, at: AT } });
  const optedIn = (id: string, enabled: boolean): MerchantEvent => ({ type: 'CallCenterIdentityDtmfSet', data: { merchantId: M, callCenterId: id, enabled, at: AT } });
  it('a new center does not hear it', () => assert.equal((stateAfter(merchantDecider, [created, centerAdded('a')]) as ActiveMerchant).callCenters.a!.identityDtmf, false));
  it('opting in → CallCenterIdentityDtmfSet', () => given([created, centerAdded('a')]).when(optIn('a', true)).then([optedIn('a', true)]));
  it('opting in twice → []', () => given([created, centerAdded('a'), optedIn('a', true)]).when(optIn('a', true)).then([]));
  it('opting out of what is off → []', () => given([created, centerAdded('a')]).when(optIn('a', false)).then([]));
  it('and out again', () => given([created, centerAdded('a'), optedIn('a', true)]).when(optIn('a', false)).then([optedIn('a', false)]));
  it('an unknown center → NOT_FOUND', () => given([created]).when(optIn('zz', true)).thenThrows('NOT_FOUND'));
  it('a non-boolean → BAD_USER_INPUT', () => given([created, centerAdded('a')]).when(optIn('a', 'yes' as never)).thenThrows('BAD_USER_INPUT', /enabled/));
  it('evolve keeps it per center', () => {
    const s = stateAfter(merchantDecider, [created, centerAdded('a'), centerAdded('b'), optedIn('b', true)]) as ActiveMerchant;
    assert.deepEqual([s.callCenters.a!.identityDtmf, s.callCenters.b!.identityDtmf], [false, true]);
  });
});

describe('merchant decider: redirects', () => {
  it('a → b → CallCenterRedirected', () => given(withCenters).when(redirect('a', 'b')).then([redirected('a', 'b')]));
  it('chains are allowed: a → b while b → c', () => given([...withCenters, redirected('b', 'c')]).when(redirect('a', 'b')).then([redirected('a', 'b')]));
  it('to itself → CONFLICT', () => given(withCenters).when(redirect('a', 'a')).thenThrows('CONFLICT', /cycle/));
  it('closing a two-step cycle → CONFLICT', () => given([...withCenters, redirected('b', 'a')]).when(redirect('a', 'b')).thenThrows('CONFLICT', /a → b → a/));
  it('closing a three-step cycle → CONFLICT', () =>
    given([...withCenters, redirected('b', 'c'), redirected('c', 'a')]).when(redirect('a', 'b')).thenThrows('CONFLICT', /a → b → c → a/));
  it('unknown source → NOT_FOUND', () => given(withCenters).when(redirect('x', 'b')).thenThrows('NOT_FOUND'));
  it('unknown target → NOT_FOUND', () => given(withCenters).when(redirect('a', 'x')).thenThrows('NOT_FOUND'));
  it('null clears a redirect', () => given([...withCenters, redirected('a', 'b')]).when(redirect('a', null)).then([redirected('a', null)]));
  it('clearing what is not redirected → []', () => given(withCenters).when(redirect('a', null)).then([]));
  it('the same redirect again → []', () => given([...withCenters, redirected('a', 'b')]).when(redirect('a', 'b')).then([]));
  it('after clearing, the reverse redirect is no cycle', () =>
    given([...withCenters, redirected('a', 'b'), redirected('a', null)]).when(redirect('b', 'a')).then([redirected('b', 'a')]));
  it('evolve records redirectedTo', () => {
    const s = stateAfter(merchantDecider, [...withCenters, redirected('a', 'b')]) as ActiveMerchant;
    assert.equal(s.callCenters.a?.redirectedTo, 'b');
  });
});

describe('merchant decider: links', () => {
  it('→ LinkCreated', () =>
    given(withCenters).when(link(['b', 'a'])).then([{ type: 'LinkCreated', data: { merchantId: M, linkId: 'l1', label: 'Buy button', callCenterIds: ['b', 'a'], at: AT } }]));
  it('a center of another merchant (unknown here) → NOT_FOUND', () => given(withCenters).when(link(['a', 'other-merchants-center'])).thenThrows('NOT_FOUND'));
  it('no center → BAD_USER_INPUT', () => given(withCenters).when(link([])).thenThrows('BAD_USER_INPUT'));
  it('a center twice → BAD_USER_INPUT', () => given(withCenters).when(link(['a', 'a'])).thenThrows('BAD_USER_INPUT'));
  it('the same link id twice → CONFLICT', () =>
    given([...withCenters, { type: 'LinkCreated', data: { merchantId: M, linkId: 'l1', label: 'x', callCenterIds: ['a'], at: AT } }]).when(link(['b'])).thenThrows('CONFLICT'));
  it('empty label → BAD_USER_INPUT', () =>
    given(withCenters).when({ type: 'CreateLink', data: { linkId: 'l1', label: '', callCenterIds: ['a'], at: AT } }).thenThrows('BAD_USER_INPUT'));
});

describe("merchant decider: a link's queue policy (issue 25)", () => {
  const linked: MerchantEvent = { type: 'LinkCreated', data: { merchantId: M, linkId: 'l1', label: 'Buy button', callCenterIds: ['a'], at: AT } };
  const setPolicy = (policy: { maxWaitSeconds: number; maxLength: number } | null, linkId = 'l1'): MerchantCommand => ({ type: 'SetLinkQueuePolicy', data: { linkId, policy, at: AT } });
  const policySet = (policy: { maxWaitSeconds: number; maxLength: number } | null): MerchantEvent => ({ type: 'LinkQueuePolicySet', data: { merchantId: M, linkId: 'l1', policy, at: AT } });
  it('→ LinkQueuePolicySet, and the link carries it', () => {
    given([...withCenters, linked]).when(setPolicy({ maxWaitSeconds: 120, maxLength: 10 })).then([policySet({ maxWaitSeconds: 120, maxLength: 10 })]);
    const state = stateAfter(merchantDecider, [...withCenters, linked, policySet({ maxWaitSeconds: 120, maxLength: 10 })]) as ActiveMerchant;
    assert.deepEqual(state.links.l1.queuePolicy, { maxWaitSeconds: 120, maxLength: 10 });
  });
  it('a new link does not queue (null)', () => assert.equal((stateAfter(merchantDecider, [...withCenters, linked]) as ActiveMerchant).links.l1.queuePolicy, null));
  it('the same policy again → nothing', () => given([...withCenters, linked, policySet({ maxWaitSeconds: 120, maxLength: 10 })]).when(setPolicy({ maxWaitSeconds: 120, maxLength: 10 })).then([]));
  it('removed (null) → LinkQueuePolicySet with null; null again → nothing', () => {
    given([...withCenters, linked, policySet({ maxWaitSeconds: 120, maxLength: 10 })]).when(setPolicy(null)).then([policySet(null)]);
    given([...withCenters, linked]).when(setPolicy(null)).then([]);
  });
  for (const [what, policy] of [
    ['a wait of 0 s', { maxWaitSeconds: 0, maxLength: 10 }],
    ['a wait over an hour', { maxWaitSeconds: 3601, maxLength: 10 }],
    ['a length of 0', { maxWaitSeconds: 60, maxLength: 0 }],
    ['a length over 1000', { maxWaitSeconds: 60, maxLength: 1001 }],
    ['a fraction', { maxWaitSeconds: 1.5, maxLength: 10 }],
  ] as const)
    it(`${what} → BAD_USER_INPUT (QUEUE_POLICY_INVALID)`, () => given([...withCenters, linked]).when(setPolicy(policy)).thenThrows('BAD_USER_INPUT', undefined, 'QUEUE_POLICY_INVALID'));
  it('an unknown link (or another merchant’s) → NOT_FOUND', () => given([...withCenters, linked]).when(setPolicy({ maxWaitSeconds: 60, maxLength: 5 }, 'l-other')).thenThrows('NOT_FOUND'));
});

describe("merchant decider: a merchant's callback prefixes (issue 25)", () => {
  const setPrefixes = (prefixes: unknown): MerchantCommand => ({ type: 'SetCallbackPrefixes', data: { prefixes: prefixes as string[] | null, at: AT } });
  const prefixesSet = (prefixes: string[] | null): MerchantEvent => ({ type: 'CallbackPrefixesSet', data: { merchantId: M, prefixes, at: AT } });
  it('→ CallbackPrefixesSet (duplicates dropped), and the merchant carries them', () => {
    given(withCenters).when(setPrefixes(['+33', '+1416', '+33'])).then([prefixesSet(['+33', '+1416'])]);
    assert.deepEqual((stateAfter(merchantDecider, [...withCenters, prefixesSet(['+33'])]) as ActiveMerchant).callbackPrefixes, ['+33']);
  });
  it('unset by default (null); the same list again → nothing; null again → nothing', () => {
    assert.equal((stateAfter(merchantDecider, withCenters) as ActiveMerchant).callbackPrefixes, null);
    given([...withCenters, prefixesSet(['+33'])]).when(setPrefixes(['+33'])).then([]);
    given(withCenters).when(setPrefixes(null)).then([]);
    given([...withCenters, prefixesSet(['+33'])]).when(setPrefixes(null)).then([prefixesSet(null)]);
  });
  for (const [what, prefixes] of [
    ['no plus', ['33']],
    ['a leading zero', ['+0']],
    ['7 digits', ['+1234567']],
    ['51 prefixes', Array.from({ length: 51 }, (_, i) => `+${i + 10}`)],
    ['not a list', '+33'],
  ] as const)
    it(`${what} → BAD_USER_INPUT (CALLBACK_PREFIXES_INVALID)`, () => given(withCenters).when(setPrefixes(prefixes)).thenThrows('BAD_USER_INPUT', undefined, 'CALLBACK_PREFIXES_INVALID'));
});

describe('merchant decider: rate plans', () => {
  it('the first plan is version 1', () =>
    given([created]).when(setPlan()).then([{ type: 'RatePlanSet', data: { merchantId: M, plan: { ...planInput(), version: 1 }, at: AT } }]));
  it('each later plan is the previous version + 1', () =>
    given([created, { type: 'RatePlanSet', data: { merchantId: M, plan: { ...planInput(), version: 4 }, at: AT } }])
      .when(setPlan({ ratePerMinuteMinor: 9 }))
      .then([{ type: 'RatePlanSet', data: { merchantId: M, plan: { ...planInput({ ratePerMinuteMinor: 9 }), version: 5 }, at: AT } }]));
  const bad: Array<[string, Partial<Omit<RatePlan, 'version'>>, RegExp]> = [
    ['lower-case currency', { currency: 'eur' }, /currency/],
    ['4-letter currency', { currency: 'EURO' }, /currency/],
    ['negative fee', { connectionFeeMinor: -1 }, /connectionFeeMinor/],
    ['fractional rate', { ratePerMinuteMinor: 1.5 }, /ratePerMinuteMinor/],
    ['negative minimum', { minimumChargeMinor: -5 }, /minimumChargeMinor/],
    ['first increment 0', { firstIncrementSeconds: 0 }, /firstIncrementSeconds/],
    ['next increment 0', { nextIncrementSeconds: 0 }, /nextIncrementSeconds/],
    ['prefix without +', { prefixRates: [{ prefix: '44', ratePerMinuteMinor: 1 }] }, /prefix/],
    ['prefix with letters', { prefixRates: [{ prefix: '+44a', ratePerMinuteMinor: 1 }] }, /prefix/],
    ['prefix twice', { prefixRates: [{ prefix: '+44', ratePerMinuteMinor: 1 }, { prefix: '+44', ratePerMinuteMinor: 2 }] }, /twice/],
    ['negative prefix rate', { prefixRates: [{ prefix: '+44', ratePerMinuteMinor: -1 }] }, /ratePerMinuteMinor/],
  ];
  for (const [what, over, message] of bad) it(`${what} → BAD_USER_INPUT`, () => given([created]).when(setPlan(over)).thenThrows('BAD_USER_INPUT', message));
});

describe('merchant decider: DTMF table', () => {
  const set = (sequence: string, action: 'PUSH_PAGE' | 'VOLUME' | 'OPEN_CHANNEL', argument: string | null): MerchantEvent => ({
    type: 'DtmfCommandSet',
    data: { sequence, action, argument, at: AT, merchantId: M },
  });
  it('PUSH_PAGE with an absolute URL', () => given([created]).when(dtmf('*76', 'PUSH_PAGE', 'https://shop.example/help')).then([set('*76', 'PUSH_PAGE', 'https://shop.example/help')]));
  it('VOLUME ±percent', () => {
    given([created]).when(dtmf('*22', 'VOLUME', '+20')).then([set('*22', 'VOLUME', '+20')]);
    given([created]).when(dtmf('*88', 'VOLUME', '-20')).then([set('*88', 'VOLUME', '-20')]);
  });
  it('OPEN_CHANNEL without argument', () => given([created]).when(dtmf('#9', 'OPEN_CHANNEL', null)).then([set('#9', 'OPEN_CHANNEL', null)]));
  it('replacing an entry is allowed; setting the same entry again → []', () => {
    given([created, set('*22', 'VOLUME', '+20')]).when(dtmf('*22', 'VOLUME', '+30')).then([set('*22', 'VOLUME', '+30')]);
    given([created, set('*22', 'VOLUME', '+20')]).when(dtmf('*22', 'VOLUME', '+20')).then([]);
  });
  const bad: Array<[string, string, 'PUSH_PAGE' | 'VOLUME' | 'OPEN_CHANNEL', string | null]> = [
    ['empty sequence', '', 'VOLUME', '+20'],
    ['non-DTMF sequence', '*7x', 'VOLUME', '+20'],
    ['PUSH_PAGE relative URL', '*76', 'PUSH_PAGE', '/help'],
    ['PUSH_PAGE javascript URL', '*76', 'PUSH_PAGE', 'javascript:alert(1)'],
    ['PUSH_PAGE without URL', '*76', 'PUSH_PAGE', null],
    ['VOLUME 101', '*22', 'VOLUME', '+101'],
    ['VOLUME words', '*22', 'VOLUME', 'louder'],
    ['VOLUME fraction', '*22', 'VOLUME', '+2.5'],
    ['OPEN_CHANNEL with argument', '#1', 'OPEN_CHANNEL', '12'],
  ];
  for (const [what, seq, action, arg] of bad) it(`${what} → BAD_USER_INPUT`, () => given([created]).when(dtmf(seq, action, arg)).thenThrows('BAD_USER_INPUT'));
  it('evolve builds the table', () => {
    const s = stateAfter(merchantDecider, [created, set('*22', 'VOLUME', '+20'), set('*22', 'VOLUME', '+30')]) as ActiveMerchant;
    assert.deepEqual(s.dtmfTable, { '*22': { action: 'VOLUME', argument: '+30' } });
  });
});
