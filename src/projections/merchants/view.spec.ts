import { describe, it } from 'node:test';
import { PLAN } from '../testing/fixtures';
import { viewSpecFor } from '../testing/view-spec';
import { apiKeyView, callCenterView, didView, dtmfView, linkView, merchantView, type CallCenterRow, type MerchantRow, type MerchantsEvent } from './view';

const at = '2026-11-20T09:00:00.000Z';
const later = '2026-11-21T09:00:00.000Z';
const p = (n: number) => String(n).padStart(12, '0');

const created: MerchantsEvent = { type: 'MerchantCreated', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: 4, allowedOrigins: ['https://shop.example'], at }, position: p(1) };
const planSet = (version: number): MerchantsEvent => ({ type: 'RatePlanSet', data: { merchantId: 'm1', plan: { ...PLAN, version }, at }, position: p(10 + version) });
const centerAdded: MerchantsEvent = {
  type: 'CallCenterAdded',
  data: { merchantId: 'm1', callCenterId: 'cc1', name: 'Paris', phoneNumber: '+33100000001', timeZone: 'Europe/Paris', weeklyHours: null, capacity: 2, region: 'eu', kind: 'PSTN', at },
  position: p(2),
};

const merchantRow: MerchantRow = { id: 'm1', name: 'Shop', max_concurrent_calls: 4, allowed_origins: '["https://shop.example"]', rate_plan: null, created_at: at, callback_prefixes: null };
const centerRow: CallCenterRow = {
  id: 'cc1',
  merchant_id: 'm1',
  name: 'Paris',
  phone_number: '+33100000001',
  time_zone: 'Europe/Paris',
  weekly_hours: null,
  capacity: 2,
  region: 'eu',
  redirected_to: null,
  kind: 'PSTN',
  position: p(2),
  identity_dtmf: 0,
};

describe('merchant view (mc_merchants): given events, when one more, then the row', () => {
  const merchant = viewSpecFor(merchantView);
  it('the creation records the settings, with no plan yet', () => merchant([]).when(created).then(merchantRow));
  it('a plan is put in force', () => merchant([created]).when(planSet(1)).then({ ...merchantRow, rate_plan: JSON.stringify({ ...PLAN, version: 1 }) }));
  it('an older plan replayed late never replaces a newer one', () => merchant([created, planSet(2)]).when(planSet(1)).then({ ...merchantRow, rate_plan: JSON.stringify({ ...PLAN, version: 2 }) }));
  it('a plan for a merchant never created creates nothing', () => merchant([]).when(planSet(1)).then(null));
  it('other events leave it as it is', () => merchant([created]).when(centerAdded).then(merchantRow));
  it('callback prefixes are set, and unset (issue 25)', () => {
    const set = (prefixes: string[] | null): MerchantsEvent => ({ type: 'CallbackPrefixesSet', data: { merchantId: 'm1', prefixes, at }, position: p(30) });
    merchant([created]).when(set(['+33', '+1416'])).then({ ...merchantRow, callback_prefixes: '["+33","+1416"]' });
    merchant([created, set(['+33'])]).when(set(null)).then(merchantRow);
  });
});

describe('call center view (mc_call_centers)', () => {
  const center = viewSpecFor(callCenterView);
  it('the addition records it at its position', () => center([]).when(centerAdded).then(centerRow));
  it('a redirect, a kind and the identity DTMF change their columns', () => {
    center([centerAdded]).when({ type: 'CallCenterRedirected', data: { merchantId: 'm1', callCenterId: 'cc1', toCallCenterId: 'cc2', at }, position: p(3) }).then({ ...centerRow, redirected_to: 'cc2' });
    center([centerAdded]).when({ type: 'CallCenterKindSet', data: { merchantId: 'm1', callCenterId: 'cc1', kind: 'BROWSER', at }, position: p(3) }).then({ ...centerRow, kind: 'BROWSER' });
    center([centerAdded]).when({ type: 'CallCenterIdentityDtmfSet', data: { merchantId: 'm1', callCenterId: 'cc1', enabled: true, at }, position: p(3) }).then({ ...centerRow, identity_dtmf: 1 });
  });
  it('a redirect of a center never added creates nothing', () =>
    center([]).when({ type: 'CallCenterRedirected', data: { merchantId: 'm1', callCenterId: 'cc1', toCallCenterId: null, at }, position: p(3) }).then(null));
});

describe('link and DTMF command views (mc_links, mc_dtmf)', () => {
  it('a link records its centers in order, at its position', () =>
    viewSpecFor(linkView)([]).when({ type: 'LinkCreated', data: { merchantId: 'm1', linkId: 'l1', label: 'Buy', callCenterIds: ['cc1', 'cc2'], at }, position: p(4) }).then({
      id: 'l1',
      merchant_id: 'm1',
      label: 'Buy',
      call_center_ids: '["cc1","cc2"]',
      position: p(4),
      queue_policy: null,
    }));
  it("a link's queue policy is set, replaced and removed (issue 25)", () => {
    const created: MerchantsEvent = { type: 'LinkCreated', data: { merchantId: 'm1', linkId: 'l1', label: 'Buy', callCenterIds: ['cc1'], at }, position: p(4) };
    const policy = (maxWaitSeconds: number, maxLength: number, n: number): MerchantsEvent => ({ type: 'LinkQueuePolicySet', data: { merchantId: 'm1', linkId: 'l1', policy: { maxWaitSeconds, maxLength }, at }, position: p(n) });
    const row = { id: 'l1', merchant_id: 'm1', label: 'Buy', call_center_ids: '["cc1"]', position: p(4) };
    const link = viewSpecFor(linkView);
    link([created]).when(policy(120, 10, 5)).then({ ...row, queue_policy: '{"maxWaitSeconds":120,"maxLength":10}' });
    link([created, policy(120, 10, 5)]).when(policy(60, 3, 6)).then({ ...row, queue_policy: '{"maxWaitSeconds":60,"maxLength":3}' });
    link([created, policy(120, 10, 5)]).when({ type: 'LinkQueuePolicySet', data: { merchantId: 'm1', linkId: 'l1', policy: null, at }, position: p(6) }).then({ ...row, queue_policy: null });
    link([]).when(policy(120, 10, 5)).then(null);
  });
  it('a DTMF command set again is replaced', () => {
    const set = (action: 'VOLUME' | 'PUSH_PAGE', argument: string | null, n: number): MerchantsEvent => ({ type: 'DtmfCommandSet', data: { merchantId: 'm1', sequence: '*7', action, argument, at }, position: p(n) });
    viewSpecFor(dtmfView)([set('VOLUME', '+1', 5)]).when(set('PUSH_PAGE', 'https://shop.example/help', 6)).then({ merchant_id: 'm1', sequence: '*7', action: 'PUSH_PAGE', argument: 'https://shop.example/help' });
  });
});

describe('API key view (mc_api_keys): never a secret or hash', () => {
  const key = viewSpecFor(apiKeyView);
  const issued: MerchantsEvent = { type: 'ApiKeyIssued', data: { keyId: 'k1', keyHash: 'sha256:…', role: 'AGENT', merchantId: 'm1', callCenterId: 'cc1', at }, position: p(7) };
  const revoked = (when: string, n: number): MerchantsEvent => ({ type: 'ApiKeyRevoked', data: { keyId: 'k1', at: when }, position: p(n) });
  const row = { id: 'k1', role: 'AGENT' as const, merchant_id: 'm1', call_center_id: 'cc1', created_at: at, revoked_at: null };
  it('the issue records who holds which role', () => key([]).when(issued).then(row));
  it('the first revocation’s instant stays', () => {
    key([issued]).when(revoked(at, 8)).then({ ...row, revoked_at: at });
    key([issued, revoked(at, 8)]).when(revoked(later, 9)).then({ ...row, revoked_at: at });
  });
  it('a revocation of a key never issued creates nothing', () => key([]).when(revoked(at, 8)).then(null));
});

describe('number view (mc_dids)', () => {
  const did = viewSpecFor(didView);
  const assigned: MerchantsEvent = { type: 'DidAssigned', data: { number: '+33100000301', merchantId: 'm1', destination: { kind: 'CALL_CENTER', callCenterId: 'cc1' }, at }, position: p(10) };
  const row = { number: '+33100000301', merchant_id: 'm1', destination: '{"kind":"CALL_CENTER","callCenterId":"cc1"}', assigned_at: at, released_at: null };
  it('an assignment records where it rings', () => did([]).when(assigned).then(row));
  it('a released number keeps its row, with the release', () => did([assigned]).when({ type: 'DidReleased', data: { number: '+33100000301', merchantId: 'm1', at: later }, position: p(11) }).then({ ...row, released_at: later }));
});
