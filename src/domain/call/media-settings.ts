/**
 * The caller's microphone processing, as the agent's keypad or console and the shopper's own menu
 * change it (issue 24). Pure.
 *
 * Keypad grammar (built in, like "#NN#" for chat; a key of the merchant's table with the same text wins):
 *
 *   M := "##" F S     F = the setting: 1 echo cancellation, 2 echo suppression (half duplex),
 *                                      3 noise suppression, 4 automatic gain
 *                     S = 0 off, 1 on
 *
 * e.g. "##10" echo cancellation off, "##21" echo suppression on. Any other "##" + two digits is an
 * unknown code: recognised, and recorded as refused. The fourth digit ends the sequence at once.
 * A console button gives the same command with action MEDIA_SETTING and argument "<SETTING>:<ON|OFF>".
 */
import { badInput } from '../shared/errors';

export type MediaSetting = 'ECHO_CANCELLATION' | 'ECHO_SUPPRESSION' | 'NOISE_SUPPRESSION' | 'AUTO_GAIN';
export const MEDIA_SETTINGS: readonly MediaSetting[] = ['ECHO_CANCELLATION', 'ECHO_SUPPRESSION', 'NOISE_SUPPRESSION', 'AUTO_GAIN'];

/** Keypad digit F of each setting ("##" F S). */
export const MEDIA_SETTING_DIGIT: Readonly<Record<MediaSetting, string>> = { ECHO_CANCELLATION: '1', ECHO_SUPPRESSION: '2', NOISE_SUPPRESSION: '3', AUTO_GAIN: '4' };

export const MEDIA_CODE_FULL = /^##(\d)(\d)$/;
/** What can still grow into "##FS". ("#" alone is the chat form's prefix too.) */
export const MEDIA_CODE_PREFIX = /^##\d?$/;

export interface MediaSettingChange {
  setting: MediaSetting;
  enabled: boolean;
}

/** "ECHO_CANCELLATION:OFF" ⇄ { setting, enabled }; null when the text names no setting. */
export const parseMediaSettingArgument = (argument: string | null): MediaSettingChange | null => {
  const m = /^([A-Z_]+):(ON|OFF)$/.exec(argument ?? '');
  if (!m || !MEDIA_SETTINGS.includes(m[1] as MediaSetting)) return null;
  return { setting: m[1] as MediaSetting, enabled: m[2] === 'ON' };
};

export const mediaSettingArgument = (c: MediaSettingChange): string => `${c.setting}:${c.enabled ? 'ON' : 'OFF'}`;

/** The argument "##FS" means, or null for an unknown code (then the command is recorded as refused). */
export const mediaSettingOfSequence = (sequence: string): string | null => {
  const m = MEDIA_CODE_FULL.exec(sequence);
  if (!m || (m[2] !== '0' && m[2] !== '1')) return null;
  const setting = MEDIA_SETTINGS.find((s) => MEDIA_SETTING_DIGIT[s] === m[1]);
  return setting === undefined ? null : mediaSettingArgument({ setting, enabled: m[2] === '1' });
};

/** The built-in keypad sequence of a change ("##10" for echo cancellation off). */
export const mediaSettingSequence = (c: MediaSettingChange): string => `##${MEDIA_SETTING_DIGIT[c.setting]}${c.enabled ? '1' : '0'}`;

/** A MEDIA_SETTING argument in a console button or the merchant's table: BAD_USER_INPUT otherwise. */
export const assertMediaSettingArgument = (argument: string | null): void => {
  if (parseMediaSettingArgument(argument) === null)
    throw badInput(`MEDIA_SETTING needs "<SETTING>:ON" or ":OFF" with SETTING one of ${MEDIA_SETTINGS.join(', ')}, got "${argument}"`, { field: 'argument' });
};

/** What the caller chose in the widget's menu: a headset (no echo cancellation needed), speakers, or "the agent hears an echo". */
export type CallerAudioChoice = 'HEADSET' | 'SPEAKERS' | 'ECHO_HEARD';
export const CALLER_AUDIO_CHOICES: readonly CallerAudioChoice[] = ['HEADSET', 'SPEAKERS', 'ECHO_HEARD'];

/** The changes a choice asks for (the widget applies them, then reports what took effect). */
export const changesOfChoice = (choice: CallerAudioChoice): MediaSettingChange[] => {
  switch (choice) {
    case 'HEADSET':
      return [{ setting: 'ECHO_CANCELLATION', enabled: false }, { setting: 'ECHO_SUPPRESSION', enabled: false }];
    case 'SPEAKERS':
      return [{ setting: 'ECHO_CANCELLATION', enabled: true }];
    case 'ECHO_HEARD':
      return [{ setting: 'ECHO_CANCELLATION', enabled: true }, { setting: 'ECHO_SUPPRESSION', enabled: true }];
  }
};

/**
 * What the caller's browser reports it applied: the microphone track's `getSettings()` (null where the
 * browser does not say) and the widget's own half-duplex gate.
 */
export interface AppliedMediaSettings {
  echoCancellation: boolean | null;
  noiseSuppression: boolean | null;
  autoGainControl: boolean | null;
  echoSuppression: boolean;
}
