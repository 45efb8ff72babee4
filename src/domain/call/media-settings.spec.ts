import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { callDecider } from './call';
import type { CallCommand } from './commands';
import type { CallEvent } from './events';
import { specFor } from '../shared/spec';
import { collect, emptyCollector, replayDtmf, type DtmfTable } from './dtmf-collector';
import { MEDIA_SETTINGS, mediaSettingArgument, mediaSettingOfSequence, mediaSettingSequence, parseMediaSettingArgument, type AppliedMediaSettings, type MediaSettingChange } from './media-settings';
import { answered, CALL, downloaded, dtmf, dtmfReceived, initiated, ringing, t } from './fixtures';

const given = specFor(callDecider);
const H = {
  downloaded: [downloaded()],
  initiated: [downloaded(), initiated()],
  ringing: [downloaded(), initiated(), ringing()],
  answered: [downloaded(), initiated(), ringing(), answered()],
  terminated: [downloaded(), initiated(), ringing(), answered(), { type: 'CallTerminated', data: { callId: CALL, cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, talkSeconds: 65, gatewayId: 'gw1', port: 3, at: t(75) } } as CallEvent],
};

const recognized = (sequence: string | null, argument: string | null, over: Partial<Extract<CallEvent, { type: 'DtmfCommandRecognized' }>['data']> = {}): CallEvent => ({
  type: 'DtmfCommandRecognized',
  data: { callId: CALL, sequence, action: 'MEDIA_SETTING', argument, accepted: true, reason: null, source: 'DTMF', agent: null, at: t(20), ...over },
});

describe('media settings: the keypad grammar ##FS', () => {
  const cases: Array<[string, string]> = [
    ['##10', 'ECHO_CANCELLATION:OFF'],
    ['##11', 'ECHO_CANCELLATION:ON'],
    ['##20', 'ECHO_SUPPRESSION:OFF'],
    ['##21', 'ECHO_SUPPRESSION:ON'],
    ['##30', 'NOISE_SUPPRESSION:OFF'],
    ['##31', 'NOISE_SUPPRESSION:ON'],
    ['##40', 'AUTO_GAIN:OFF'],
    ['##41', 'AUTO_GAIN:ON'],
  ];
  for (const [sequence, argument] of cases) {
    it(`${sequence} → MEDIA_SETTING ${argument}, at once (the fourth digit ends it)`, () => {
      const r = collect(emptyCollector, sequence, t(20), {});
      assert.deepEqual(r.recognized, [{ sequence, action: 'MEDIA_SETTING', argument }]);
      assert.equal(r.state.buffer, '');
    });
  }
  it('unknown codes (##51, ##02, ##13) are recognised with no argument (recorded as refused)', () => {
    for (const s of ['##51', '##02', '##13', '##90']) assert.deepEqual(collect(emptyCollector, s, t(20), {}).recognized, [{ sequence: s, action: 'MEDIA_SETTING', argument: null }]);
  });
  it('the chat form still works next to it: #12# opens channel 12, and ##10 after it', () => {
    const r = collect(emptyCollector, '#12###10', t(20), {});
    assert.deepEqual(r.recognized.map((x) => [x.action, x.argument]), [['OPEN_CHANNEL', '12'], ['MEDIA_SETTING', 'ECHO_CANCELLATION:OFF']]);
  });
  it('noise before ##21 does not hide it; a table key with the same text wins', () => {
    assert.deepEqual(collect(emptyCollector, '7##21', t(20), {}).recognized.map((x) => x.argument), ['ECHO_SUPPRESSION:ON']);
    const table: DtmfTable = { '##21': { action: 'VOLUME', argument: '+20' } };
    assert.deepEqual(collect(emptyCollector, '##21', t(20), table).recognized.map((x) => x.action), ['VOLUME']);
  });
  it('digits one report at a time give the same commands as one report (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('##10', '##11', '##21', '##20', '##31', '##41', '##57', '*76', '5'), { minLength: 1, maxLength: 6 }), (parts) => {
        const whole = parts.join('');
        const one = replayDtmf([{ digits: whole, at: t(20) }], { '*76': { action: 'PUSH_PAGE', argument: 'https://shop.example/o' } }).recognized.map((r) => [r.action, r.argument]);
        const each = replayDtmf([...whole].map((d) => ({ digits: d, at: t(20) })), { '*76': { action: 'PUSH_PAGE', argument: 'https://shop.example/o' } }).recognized.map((r) => [r.action, r.argument]);
        assert.deepEqual(each, one);
        assert.equal(one.filter(([a]) => a === 'MEDIA_SETTING').length, parts.filter((p) => p.startsWith('##')).length);
      }),
    );
  });
  it('argument ⇄ change ⇄ sequence round-trip (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MEDIA_SETTINGS), fc.boolean(), (setting, enabled) => {
        const change = { setting, enabled };
        assert.deepEqual(parseMediaSettingArgument(mediaSettingArgument(change)), change);
        assert.equal(mediaSettingOfSequence(mediaSettingSequence(change)), mediaSettingArgument(change));
      }),
    );
  });
});

describe('call decider: media-setting commands (keypad and console)', () => {
  const rules = { table: {}, allowedOrigins: null };
  it('answered + ##10 → DtmfReceived, DtmfCommandRecognized MEDIA_SETTING ECHO_CANCELLATION:OFF', () =>
    given(H.answered).when(dtmf('##10', 'g-d1', t(20), rules)).then([dtmfReceived('##10'), recognized('##10', 'ECHO_CANCELLATION:OFF')]));
  it('an unknown code ##57 is recorded as refused, with the reason', () =>
    given(H.answered)
      .when(dtmf('##57', 'g-d1', t(20), rules))
      .then([dtmfReceived('##57'), recognized('##57', null, { accepted: false, reason: 'unknown media-setting code ##57' })]));
  it('the same report again (its gatewayEventId seen) → nothing', () =>
    given([...H.answered, dtmfReceived('##10'), recognized('##10', 'ECHO_CANCELLATION:OFF')]).when(dtmf('##10', 'g-d1', t(21), rules)).then([]));
  for (const s of ['downloaded', 'ringing', 'terminated'] as const)
    it(`${s}: ##10 → CONFLICT (DTMF only while ANSWERED)`, () => given(H[s]).when(dtmf('##10', 'g-d1', t(20), rules)).thenThrows('CONFLICT'));

  const button = (argument: string | null, at = t(30), table: DtmfTable = {}): CallCommand => ({
    type: 'IssueAgentCommand',
    data: { callId: CALL, agent: 'k1', action: 'MEDIA_SETTING', argument, table: { ...table }, allowedOrigins: null, at },
  });
  it('a console button records the same event, source AGENT, with the built-in sequence', () =>
    given(H.answered).when(button('ECHO_SUPPRESSION:ON')).then([recognized('##21', 'ECHO_SUPPRESSION:ON', { source: 'AGENT', agent: 'k1', at: t(30) })]));
  it('a button with the merchant\'s own key for it records that key', () =>
    given(H.answered)
      .when(button('AUTO_GAIN:OFF', t(30), { '*40': { action: 'MEDIA_SETTING', argument: 'AUTO_GAIN:OFF' } }))
      .then([recognized('*40', 'AUTO_GAIN:OFF', { source: 'AGENT', agent: 'k1', at: t(30) })]));
  it('a button with a made-up setting → BAD_USER_INPUT', () => given(H.answered).when(button('LOUDNESS:ON')).thenThrows('BAD_USER_INPUT'));
  it('a button after the end → CONFLICT', () => given(H.terminated).when(button('ECHO_CANCELLATION:OFF')).thenThrows('CONFLICT'));
  it('a button before the answer → CONFLICT', () => given(H.ringing).when(button('ECHO_CANCELLATION:OFF')).thenThrows('CONFLICT'));
});

describe('call decider: what the caller\'s browser applied (CallerMediaSettingsApplied)', () => {
  const settings = (over: Partial<AppliedMediaSettings> = {}): AppliedMediaSettings => ({ echoCancellation: false, noiseSuppression: true, autoGainControl: true, echoSuppression: false, ...over });
  const report = (over: Partial<Extract<CallCommand, { type: 'ReportCallerMediaSettings' }>['data']> = {}, at = t(31)): CallCommand => ({
    type: 'ReportCallerMediaSettings',
    data: { callId: CALL, settings: settings(), requested: [{ setting: 'ECHO_CANCELLATION', enabled: false }], choice: null, note: 'applyConstraints', at, ...over },
  });
  const applied = (over: Partial<Extract<CallEvent, { type: 'CallerMediaSettingsApplied' }>['data']> = {}, at = t(31)): CallEvent => ({
    type: 'CallerMediaSettingsApplied',
    data: { callId: CALL, settings: settings(), requested: [{ setting: 'ECHO_CANCELLATION', enabled: false }], choice: null, honoured: true, note: 'applyConstraints', at, ...over },
  });
  it('answered: a report → CallerMediaSettingsApplied, honoured', () => given(H.answered).when(report()).then([applied()]));
  it('a browser that ignored the constraint: honoured false', () =>
    given(H.answered).when(report({ settings: settings({ echoCancellation: true }) })).then([applied({ settings: settings({ echoCancellation: true }), honoured: false })]));
  it('a setting the browser does not report (null) is not confirmed', () =>
    given(H.answered).when(report({ settings: settings({ echoCancellation: null }) })).then([applied({ settings: settings({ echoCancellation: null }), honoured: false })]));
  it('the same report twice (a repeated command) → nothing new', () => given([...H.answered, applied()]).when(report({}, t(40))).then([]));
  it('back on after off is a new report', () =>
    given([...H.answered, applied()])
      .when(report({ settings: settings({ echoCancellation: true }), requested: [{ setting: 'ECHO_CANCELLATION', enabled: true }] }, t(40)))
      .then([applied({ settings: settings({ echoCancellation: true }), requested: [{ setting: 'ECHO_CANCELLATION', enabled: true }] }, t(40))]));
  for (const s of ['downloaded', 'initiated', 'ringing'] as const)
    it(`${s}: the caller's own choice is recorded already`, () =>
      given(H[s]).when(report({ choice: 'HEADSET', requested: [] })).then([applied({ choice: 'HEADSET', requested: [] })]));
  it('after the end → CONFLICT', () => given(H.terminated).when(report()).thenThrows('CONFLICT'));
  it('no call → NOT_FOUND', () => given([]).when(report()).thenThrows('NOT_FOUND'));
  const bad: Array<[string, Partial<Extract<CallCommand, { type: 'ReportCallerMediaSettings' }>['data']>]> = [
    ['an unknown setting', { requested: [{ setting: 'LOUDNESS' as MediaSettingChange['setting'], enabled: true }] }],
    ['a setting requested twice', { requested: [{ setting: 'AUTO_GAIN', enabled: true }, { setting: 'AUTO_GAIN', enabled: false }] }],
    ['five changes', { requested: [...MEDIA_SETTINGS, 'AUTO_GAIN' as const].map((setting) => ({ setting, enabled: true })) }],
    ['an unknown choice', { choice: 'LOUD' as 'HEADSET' }],
    ['a note over 200 characters', { note: 'x'.repeat(201) }],
    ['a control character in the note', { note: 'a\u0000b' }],
    ['a non-boolean flag', { settings: { ...settings(), noiseSuppression: 'yes' as unknown as boolean } }],
  ];
  for (const [what, over] of bad) it(`${what} → BAD_USER_INPUT, nothing recorded`, () => given(H.answered).when(report(over)).thenThrows('BAD_USER_INPUT'));
});
