import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { specFor, stateAfter } from '../shared/spec';
import { assertWebhookUrl, signingSecrets, webhookEndpointDecider, type WebhookEndpointState } from './endpoint';
import { WEBHOOK_EVENT_TYPES, type WebhookCommand, type WebhookEvent } from './events';

const given = specFor(webhookEndpointDecider);
const AT = '2026-11-23T10:00:00.000Z';
const LATER = '2026-11-23T11:00:00.000Z';
const URL_OK = 'https://crm.example.com/hooks/webdial';

const register = (over: Partial<Extract<WebhookCommand, { type: 'RegisterWebhookEndpoint' }>['data']> = {}): WebhookCommand => ({
  type: 'RegisterWebhookEndpoint',
  data: { endpointId: 'we1', merchantId: 'm1', url: URL_OK, eventTypes: ['CallRinging', 'ScreenPop'], description: null, sealedSecret: 'sealed-1', urlPolicy: 'public', at: AT, ...over },
});
const registered: WebhookEvent = {
  type: 'WebhookEndpointRegistered',
  data: { endpointId: 'we1', merchantId: 'm1', url: URL_OK, eventTypes: ['CallRinging', 'ScreenPop'], description: null, sealedSecret: 'sealed-1', at: AT },
};
const disabled: WebhookEvent = { type: 'WebhookEndpointDisabled', data: { endpointId: 'we1', at: LATER } };
const enabled: WebhookEvent = { type: 'WebhookEndpointEnabled', data: { endpointId: 'we1', at: LATER } };
const failing: WebhookEvent = { type: 'WebhookEndpointFailing', data: { endpointId: 'we1', failingSince: AT, lastError: 'HTTP 503', at: LATER } };
const markFailing: WebhookCommand = { type: 'MarkWebhookEndpointFailing', data: { endpointId: 'we1', failingSince: AT, lastError: 'HTTP 503', at: LATER } };
const enable: WebhookCommand = { type: 'EnableWebhookEndpoint', data: { endpointId: 'we1', at: LATER } };
const disable: WebhookCommand = { type: 'DisableWebhookEndpoint', data: { endpointId: 'we1', at: LATER } };
const rotate = (previousValidUntil: string): WebhookCommand => ({ type: 'RotateWebhookSecret', data: { endpointId: 'we1', sealedSecret: 'sealed-2', previousValidUntil, at: LATER } });

const endpointOf = (history: WebhookEvent[]) => {
  const s = stateAfter(webhookEndpointDecider, history) as Extract<WebhookEndpointState, { status: 'Present' }>;
  assert.equal(s.status, 'Present');
  return s.endpoint;
};

describe('webhook endpoint decider', () => {
  describe('register', () => {
    it('a new endpoint → WebhookEndpointRegistered, active', () => {
      given([]).when(register()).then([registered]);
      assert.equal(endpointOf([registered]).status, 'ACTIVE');
    });
    it('the same id twice → CONFLICT', () => given([registered]).when(register()).thenThrows('CONFLICT'));
    it('http under the public policy → BAD_USER_INPUT naming https', () =>
      given([]).when(register({ url: 'http://crm.example.com/h' })).thenThrows('BAD_USER_INPUT', /https/));
    it('http under the embedded policy is accepted', () =>
      given([]).when(register({ url: 'http://127.0.0.1:9999/h', urlPolicy: 'any' })).then((events) => assert.equal(events.length, 1)));
    it('localhost under the public policy → BAD_USER_INPUT', () =>
      given([]).when(register({ url: 'https://localhost/h' })).thenThrows('BAD_USER_INPUT', /public/));
    for (const url of ['ftp://crm.example.com/', 'crm.example.com/hook', 'https://user:pw@crm.example.com/', 'https://crm.example.com/#x', ''])
      it(`a bad url (${JSON.stringify(url)}) → BAD_USER_INPUT`, () => given([]).when(register({ url, urlPolicy: 'any' })).thenThrows('BAD_USER_INPUT'));
    it('no event type → BAD_USER_INPUT', () => given([]).when(register({ eventTypes: [] })).thenThrows('BAD_USER_INPUT', /at least one/));
    it('an unknown event type → BAD_USER_INPUT listing the known ones', () =>
      given([]).when(register({ eventTypes: ['CallRinging', 'Nope'] })).thenThrows('BAD_USER_INPUT', /Nope.*known: CallDownloaded/));
    it('repeated event types are kept once', () =>
      given([]).when(register({ eventTypes: ['CallRinging', 'CallRinging'] })).then((events) => {
        assert.deepEqual((events[0]!.data as { eventTypes: string[] }).eventTypes, ['CallRinging']);
      }));
  });

  describe('update', () => {
    it('changes url and types', () =>
      given([registered])
        .when({ type: 'UpdateWebhookEndpoint', data: { endpointId: 'we1', url: 'https://crm2.example.com/h', eventTypes: ['CallTerminated'], description: null, urlPolicy: 'public', at: LATER } })
        .then([{ type: 'WebhookEndpointUpdated', data: { endpointId: 'we1', url: 'https://crm2.example.com/h', eventTypes: ['CallTerminated'], description: null, at: LATER } }]));
    it('nothing changed → no event', () =>
      given([registered]).when({ type: 'UpdateWebhookEndpoint', data: { endpointId: 'we1', url: URL_OK, eventTypes: null, description: null, urlPolicy: 'public', at: LATER } }).then([]));
    it('an unknown endpoint → NOT_FOUND', () =>
      given([]).when({ type: 'UpdateWebhookEndpoint', data: { endpointId: 'we1', url: null, eventTypes: null, description: null, urlPolicy: 'public', at: LATER } }).thenThrows('NOT_FOUND'));
  });

  describe('secret rotation', () => {
    it('keeps the previous secret signing until the grace period ends', () => {
      given([registered]).when(rotate('2026-11-24T11:00:00.000Z')).then([
        { type: 'WebhookSecretRotated', data: { endpointId: 'we1', sealedSecret: 'sealed-2', previousValidUntil: '2026-11-24T11:00:00.000Z', at: LATER } },
      ]);
      const e = endpointOf([registered, { type: 'WebhookSecretRotated', data: { endpointId: 'we1', sealedSecret: 'sealed-2', previousValidUntil: '2026-11-24T11:00:00.000Z', at: LATER } }]);
      assert.deepEqual(signingSecrets(e.secrets, '2026-11-24T10:59:59.000Z'), ['sealed-2', 'sealed-1']);
      assert.deepEqual(signingSecrets(e.secrets, '2026-11-24T11:00:00.000Z'), ['sealed-2']);
    });
    it('a grace period longer than 7 days → BAD_USER_INPUT', () => given([registered]).when(rotate('2026-12-23T11:00:00.000Z')).thenThrows('BAD_USER_INPUT', /7 days/));
    it('a grace period ending before the rotation → BAD_USER_INPUT', () => given([registered]).when(rotate(AT)).thenThrows('BAD_USER_INPUT'));
  });

  describe('status', () => {
    it('an active endpoint marked failing → WebhookEndpointFailing', () => given([registered]).when(markFailing).then([failing]));
    it('marking a failing or disabled endpoint failing again is a no-op', () => {
      given([registered, failing]).when(markFailing).then([]);
      given([registered, disabled]).when(markFailing).then([]);
    });
    it('enable brings a failing endpoint back and clears failingSince', () => {
      given([registered, failing]).when(enable).then([enabled]);
      const e = endpointOf([registered, failing, enabled]);
      assert.equal(e.status, 'ACTIVE');
      assert.equal(e.failingSince, null);
    });
    it('enable on an active endpoint and disable on a disabled one are no-ops', () => {
      given([registered]).when(enable).then([]);
      given([registered, disabled]).when(disable).then([]);
    });
    it('disable → WebhookEndpointDisabled', () => given([registered]).when(disable).then([disabled]));
    it('commands on an unknown endpoint → NOT_FOUND', () => {
      for (const c of [enable, disable, markFailing, rotate(LATER)]) given([]).when(c).thenThrows('NOT_FOUND');
    });
  });

  it('property: any sequence of status commands leaves a consistent state (failingSince set exactly when FAILING)', () => {
    const commands = fc.constantFrom(enable, disable, markFailing);
    fc.assert(
      fc.property(fc.array(commands, { maxLength: 20 }), (cmds) => {
        let state = stateAfter(webhookEndpointDecider, [registered]);
        for (const c of cmds) for (const e of webhookEndpointDecider.decide(c, state)) state = webhookEndpointDecider.evolve(state, e);
        const e = (state as Extract<WebhookEndpointState, { status: 'Present' }>).endpoint;
        assert.equal(e.failingSince !== null, e.status === 'FAILING');
        // a repeat of the last command is always a no-op (idempotent)
        if (cmds.length > 0) assert.deepEqual(webhookEndpointDecider.decide(cmds[cmds.length - 1]!, state), []);
      }),
    );
  });

  it('assertWebhookUrl normalises and every known type is subscribable', () => {
    assert.equal(assertWebhookUrl('HTTPS://CRM.Example.com/h', 'public'), 'https://crm.example.com/h');
    given([]).when(register({ eventTypes: [...WEBHOOK_EVENT_TYPES] })).then((events) => assert.equal(events.length, 1));
  });
});
