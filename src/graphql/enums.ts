import 'reflect-metadata';
import { registerEnumType } from 'type-graphql';
import type { CallStatus } from '../domain/call/events';

// Enums of the contract, as plain objects (type-graphql registers them by name).
export const names = <T extends string>(...values: T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };
export const Role = names('ADMIN', 'MERCHANT', 'CRM', 'ANALYST', 'GATEWAY', 'AGENT');
export const CallState = names<CallStatus>('DOWNLOADED', 'INITIATED', 'RINGING', 'ANSWERED', 'TERMINATED') satisfies { [K in CallStatus]: K };
export const Party = names('CALLER', 'CALLEE', 'SYSTEM');
export const TerminationCause = names('HANGUP', 'BUSY', 'NO_ANSWER', 'REJECTED', 'FAILED', 'NO_ROUTE', 'NO_PORT', 'MAX_DURATION', 'ABANDONED');
export const BillingGroupBy = names('DAY', 'LINK', 'SOURCE_PAGE', 'CALL_CENTER', 'DIRECTION');
export const DtmfAction = names('PUSH_PAGE', 'VOLUME', 'OPEN_CHANNEL', 'MEDIA_SETTING');
export const PushKind = names('CALL_STATE', 'PAGE', 'VOLUME', 'CHANNEL_OPENED', 'CHAT_MESSAGE', 'MEDIA_SETTING', 'QUEUE_POSITION', 'CALLBACK');
export const MediaSetting = names('ECHO_CANCELLATION', 'ECHO_SUPPRESSION', 'NOISE_SUPPRESSION', 'AUTO_GAIN');
export const CallerAudioChoice = names('HEADSET', 'SPEAKERS', 'ECHO_HEARD');
export const CallCenterKind = names('PSTN', 'BROWSER');
export const CallDirection = names('OUTBOUND', 'INBOUND', 'CALLBACK');
export const TransferMode = names('BLIND', 'WARM');
export const TransferStatus = names('OPEN', 'COMPLETED', 'CANCELLED');
export const TransferCancelReason = names('AGENT_CANCELLED', 'TARGET_UNAVAILABLE', 'CALL_ENDED', 'TARGET_BUSY', 'TARGET_NO_ANSWER', 'TARGET_FAILED', 'NO_PORT');
registerEnumType(TransferMode, { name: 'TransferMode', description: 'Issue 25: BLIND, to another call center (any of its agents takes it); WARM, to a named colleague after consulting.' });
registerEnumType(TransferStatus, { name: 'TransferStatus' });
registerEnumType(TransferCancelReason, { name: 'TransferCancelReason' });
registerEnumType(Role, {
  name: 'Role',
  valuesConfig: { AGENT: { description: 'A person at the agent console: bound to one merchant and one of its call centers, sees and acts on that center\'s calls only.' } },
});
registerEnumType(CallState, { name: 'CallState' });
registerEnumType(Party, { name: 'Party' });
registerEnumType(TerminationCause, { name: 'TerminationCause' });
registerEnumType(BillingGroupBy, { name: 'BillingGroupBy' });
registerEnumType(DtmfAction, { name: 'DtmfAction' });
registerEnumType(PushKind, {
  name: 'PushKind',
  valuesConfig: {
    MEDIA_SETTING: { description: "The agent changed a setting of the caller's microphone processing (setting, enabled)." },
    QUEUE_POSITION: { description: 'The call waits in a call center\'s queue (issue 25): its place (position, estimatedWaitSeconds), sent on subscribe and whenever it changes.' },
    CALLBACK: {
      description:
        "A callback booked from this click changed (issue 25): callbackId, callbackState, and ringing — true when an agent took its try and calls this browser back: answerCallback (until ringsUntil) or declineCallback. Sent to the click's customerSession, also after the click's own call ended: keep it open to be called back in the browser.",
    },
  },
});
registerEnumType(MediaSetting, {
  name: 'MediaSetting',
  description: "The caller's microphone processing: echo cancellation, echo suppression (half duplex: the microphone is gated while the agent speaks), noise suppression, automatic gain. Keypad: ##FS (F 1-4 in this order, S 0 off / 1 on).",
});
registerEnumType(CallerAudioChoice, {
  name: 'CallerAudioChoice',
  description: "The shopper's own choice in the widget's menu: HEADSET (echo cancellation off), SPEAKERS (echo cancellation on), ECHO_HEARD (the agent hears an echo: suppression on).",
});
registerEnumType(CallCenterKind, {
  name: 'CallCenterKind',
  description: 'How a call center takes its calls: PSTN (dialled through a gateway port) or BROWSER (PC-to-PC: the call rings in the agent console at /console).',
});
registerEnumType(CallDirection, {
  name: 'CallDirection',
  description:
    "Which way a call goes: OUTBOUND (a shopper's click on the merchant's page), INBOUND (a phone called one of the merchant's numbers; its ani is the caller's number) or CALLBACK (webdial calls a shopper back as promised, issue 25, agent first: a browser center's try rings in its consoles, a PSTN center's number is dialled; once an agent answers, the shopper's number is dialled into the same call; its ani is the port's caller ID, which the shopper sees and a PSTN center's CRM looks the call up by).",
});
export type RoleT = keyof typeof Role;
/** The contract's CallState is the domain's CallStatus (src/domain/call/events.ts): one spelling. */
export type CallStateT = CallStatus;
export type PartyT = keyof typeof Party;
export type TerminationCauseT = keyof typeof TerminationCause;
export type BillingGroupByT = keyof typeof BillingGroupBy;
export type DtmfActionT = keyof typeof DtmfAction;
export type PushKindT = keyof typeof PushKind;
export type MediaSettingT = keyof typeof MediaSetting;
export type CallerAudioChoiceT = keyof typeof CallerAudioChoice;
export type CallCenterKindT = keyof typeof CallCenterKind;
export type CallDirectionT = keyof typeof CallDirection;

/** Keys that read their merchant's calls and configuration; an AGENT key reads only its own call center's calls. */
export const READERS = ['MERCHANT', 'CRM', 'ANALYST', 'AGENT'] as const satisfies readonly RoleT[];
