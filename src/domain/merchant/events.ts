import type { DomainEvent } from '../shared/decider';
import type { RatePlan } from '../rating/rate-plan';
import type { QueuePolicy } from '../queue/queue';

/** MEDIA_SETTING (issue 24): the caller's microphone processing, argument "<SETTING>:ON|OFF" (../call/media-settings.ts). */
export type DtmfAction = 'PUSH_PAGE' | 'VOLUME' | 'OPEN_CHANNEL' | 'MEDIA_SETTING';
/**
 * How a call center takes its calls: PSTN (dialled through a gateway port, the agent answers a phone)
 * or BROWSER (PC-to-PC: the call rings in the agent console and the agent talks over the call's media
 * room, with no SIP leg and no port).
 */
export type CallCenterKind = 'PSTN' | 'BROWSER';
/** day 1=Mon..7=Sun; open/close "HH:MM" local to the center; close "24:00" allowed; close < open spans midnight. */
export interface OpeningHours {
  day: number;
  open: string;
  close: string;
}

export interface CallCenterConfig {
  callCenterId: string;
  name: string;
  phoneNumber: string;
  timeZone: string;
  /** null: always open; []: never open. */
  weeklyHours: OpeningHours[] | null;
  capacity: number;
  region: string;
  kind: CallCenterKind;
}

export type MerchantCreated = DomainEvent<
  'MerchantCreated',
  { merchantId: string; name: string; maxConcurrentCalls: number | null; allowedOrigins: string[] | null; at: string }
>;
export type CallCenterAdded = DomainEvent<'CallCenterAdded', CallCenterConfig & { merchantId: string; at: string }>;
export type CallCenterRedirected = DomainEvent<
  'CallCenterRedirected',
  { merchantId: string; callCenterId: string; toCallCenterId: string | null; at: string }
>;
/** A center switched between PSTN and BROWSER (schema 1). */
export type CallCenterKindSet = DomainEvent<'CallCenterKindSet', { merchantId: string; callCenterId: string; kind: CallCenterKind; at: string }>;
/**
 * A center opted in (or out) of hearing the caller's session number as RFC 4733 DTMF right after it
 * answers, followed by `#` (issue 23; schema 1). The X-Webdial-* headers go on every INVITE anyway.
 */
export type CallCenterIdentityDtmfSet = DomainEvent<'CallCenterIdentityDtmfSet', { merchantId: string; callCenterId: string; enabled: boolean; at: string }>;
export type LinkCreated = DomainEvent<
  'LinkCreated',
  { merchantId: string; linkId: string; label: string; callCenterIds: string[]; at: string }
>;
/** A link's queue policy set (issue 25): how long and how many of its calls may wait when no slot is free; null: its calls do not wait. */
export type LinkQueuePolicySet = DomainEvent<'LinkQueuePolicySet', { merchantId: string; linkId: string; policy: QueuePolicy | null; at: string }>;
/**
 * The numbers a merchant's shoppers may be called back on (issue 25): E.164 prefixes ("+33", "+1416");
 * null: unset, the calling codes of its call centers' numbers (../callback/callback-number.ts).
 */
export type CallbackPrefixesSet = DomainEvent<'CallbackPrefixesSet', { merchantId: string; prefixes: string[] | null; at: string }>;
export type RatePlanSet = DomainEvent<'RatePlanSet', { merchantId: string; plan: RatePlan; at: string }>;
export type DtmfCommandSet = DomainEvent<
  'DtmfCommandSet',
  { merchantId: string; sequence: string; action: DtmfAction; argument: string | null; at: string }
>;

export type MerchantEvent =
  | MerchantCreated
  | CallCenterAdded
  | CallCenterRedirected
  | CallCenterKindSet
  | CallCenterIdentityDtmfSet
  | LinkCreated
  | LinkQueuePolicySet
  | CallbackPrefixesSet
  | RatePlanSet
  | DtmfCommandSet;

export type CreateMerchant = {
  type: 'CreateMerchant';
  data: { merchantId: string; name: string; maxConcurrentCalls: number | null; allowedOrigins: string[] | null; at: string };
};
export type AddCallCenter = { type: 'AddCallCenter'; data: CallCenterConfig & { at: string } };
export type RedirectCallCenter = {
  type: 'RedirectCallCenter';
  data: { callCenterId: string; toCallCenterId: string | null; at: string };
};
export type SetCallCenterKind = { type: 'SetCallCenterKind'; data: { callCenterId: string; kind: CallCenterKind; at: string } };
export type SetCallCenterIdentityDtmf = { type: 'SetCallCenterIdentityDtmf'; data: { callCenterId: string; enabled: boolean; at: string } };
export type CreateLink = { type: 'CreateLink'; data: { linkId: string; label: string; callCenterIds: string[]; at: string } };
export type SetLinkQueuePolicy = { type: 'SetLinkQueuePolicy'; data: { linkId: string; policy: QueuePolicy | null; at: string } };
/** The plan's version is assigned by decide (previous + 1). */
export type SetCallbackPrefixes = { type: 'SetCallbackPrefixes'; data: { prefixes: string[] | null; at: string } };
export type SetRatePlan = { type: 'SetRatePlan'; data: { plan: Omit<RatePlan, 'version'>; at: string } };
export type SetDtmfCommand = {
  type: 'SetDtmfCommand';
  data: { sequence: string; action: DtmfAction; argument: string | null; at: string };
};

export type MerchantCommand = CreateMerchant | AddCallCenter | RedirectCallCenter | SetCallCenterKind | SetCallCenterIdentityDtmf | CreateLink | SetLinkQueuePolicy | SetCallbackPrefixes | SetRatePlan | SetDtmfCommand;
