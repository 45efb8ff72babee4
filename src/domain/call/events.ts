import type { DomainEvent } from '../shared/decider';
import type { RatePlan } from '../rating/rate-plan';
import type { DtmfAction } from '../merchant/events';
import type { AppliedMediaSettings, CallerAudioChoice, MediaSettingChange } from './media-settings';

export type CallStatus = 'DOWNLOADED' | 'INITIATED' | 'RINGING' | 'ANSWERED' | 'TERMINATED';
export type Party = 'CALLER' | 'CALLEE' | 'SYSTEM';
export type TerminationCause =
  | 'HANGUP'
  | 'BUSY'
  | 'NO_ANSWER'
  | 'REJECTED'
  | 'FAILED'
  | 'NO_ROUTE'
  | 'NO_PORT'
  | 'MAX_DURATION'
  | 'ABANDONED';

/** Why a call FAILED. Stable: stored on CallTerminated.reason and read by operators' dashboards. */
export type FailureReason =
  /** The trunk never answered the INVITE with any final response (dead trunk, black-holed packets). */
  | 'TRUNK_NO_RESPONSE'
  /** The trunk or carrier answered 5xx (503 Service Unavailable, 500, 504...). */
  | 'TRUNK_ERROR'
  /** The carrier refused the call: 401/403 (caller ID, credentials), 488 (codecs), other 4xx. */
  | 'TRUNK_REFUSED'
  /** The INVITE could not be sent: no route, connection refused, transport error. */
  | 'TRANSPORT'
  /** LiveKit SIP refused the call itself (capacity: "cpu exhausted", unavailable). */
  | 'MEDIA_SERVER_UNAVAILABLE'
  /** The answer could not be used (bad SDP, no common codec) or the media failed after answer. */
  | 'MEDIA'
  /** Anything else LiveKit reported without a SIP status. */
  | 'UNKNOWN';

/**
 * How the call reaches the call center: PSTN (a gateway port is seized and the center's number is
 * dialled; the port's ANI is the caller ID) or BROWSER (PC-to-PC: the call rings in the agent console,
 * the agent answers there and talks over the call's media room; no port, no ANI).
 */
export type CallMedia = 'PSTN' | 'BROWSER';

/**
 * Which way the call goes: OUTBOUND (a shopper's click, dialled out to the merchant's call center or
 * rung in its consoles) or INBOUND (a phone called one of the merchant's numbers, issue 23). Billing
 * rates each direction with its own rates. CALLBACK (issue 25): webdial calls a shopper back, as
 * promised (a try of a callback, `callback-<id>`): the call rings in the center's consoles first,
 * then the shopper's number is dialled into the same room.
 */
export type CallDirection = 'OUTBOUND' | 'INBOUND' | 'CALLBACK';

/** A direction as stored in a read model's row: rows written before migration 12 have none (OUTBOUND then). */
export const directionOf = (v: unknown): CallDirection => (v === 'INBOUND' || v === 'CALLBACK' ? v : 'OUTBOUND');

/** Where a virtual number leads (issue 23): a center's consoles, one agent's (an AGENT key), or a link's routing. */
export type InboundDestinationKind = 'CALL_CENTER' | 'AGENT' | 'LINK';

/**
 * Which routing rule chose the call center (recorded for audit). QUEUE: the call waited in the
 * center's queue, and a slot freed there took it (issue 25).
 */
export type RoutingRule = 'FIRST_OPEN' | 'REDIRECT' | 'LEAST_LOADED' | 'NEAREST_REGION' | 'QUEUE';

export type CallDownloaded = DomainEvent<
  'CallDownloaded',
  {
    callId: string;
    merchantId: string;
    linkId: string;
    customerId: string | null;
    sessionId: string | null;
    pageUrl: string;
    referrer: string | null;
    context: unknown;
    callerRegion: string | null;
    at: string;
  }
>;

export type CallInitiated = DomainEvent<
  'CallInitiated',
  {
    callId: string;
    merchantId: string;
    callCenterId: string;
    /** PSTN, or BROWSER (schema 2; version 1 events are PSTN). */
    media: CallMedia;
    /** The center's configured number (a BROWSER call is rated as a call to it). */
    destination: string;
    /** The seized port and its caller ID; null for a BROWSER call. */
    gatewayId: string | null;
    port: number | null;
    ani: string | null;
    routing: { rule: RoutingRule; requestedCallCenterId: string; reason: string };
    /** The merchant's plan in force at initiation: billing rates with exactly this. */
    ratePlan: RatePlan | null;
    at: string;
  }
>;

/**
 * A phone called one of the merchant's numbers (issue 23), and the call was routed to a center whose
 * consoles take it: the first event of an INBOUND call's stream (no download, no port), stored with
 * a CallRinging in the same append (the caller hears ringing from the moment the media server took
 * the INVITE; screen pops and webhooks fire on that CallRinging, as for a browser call). `ani` is the caller's number as the carrier gave it (the
 * call's caller ID); `did` the number dialled. `agent`, for a number leading to one AGENT key: only
 * that agent may answer.
 */
export type InboundCallReceived = DomainEvent<
  'InboundCallReceived',
  {
    callId: string;
    merchantId: string;
    did: string;
    ani: string;
    destination: InboundDestinationKind;
    callCenterId: string;
    agent: string | null;
    /** The link whose routing chose the center (a LINK number), else null. */
    linkId: string | null;
    /** The media server's id of the SIP call, for operators; null when it gave none. */
    sipCallId: string | null;
    /**
     * The IDs the caller keyed at a main number's spoken prompt, oldest first (the last one chose the
     * destination); null for a number that rings its destination directly.
     */
    keyed: string[] | null;
    /** The merchant's plan in force when the call arrived: billing rates with exactly this. */
    ratePlan: RatePlan | null;
    at: string;
  }
>;

/**
 * A callback's try placed (issue 25): the first event of a CALLBACK call's stream, stored with a
 * CallRinging in the same append (the call rings in the center's consoles at once; the screen pop and
 * webhooks fire on that CallRinging). The agent answers in the console; then the shopper's `number` is
 * dialled from the seized port (its `ani` is the caller ID the shopper sees) into the call's room. The
 * click it was booked from is copied here (`originCallId`, its link, shop ids, page, referrer and
 * context): the screen pop shows the origin's page and cart, and billing credits the origin's page.
 */
export type CallbackCallPlaced = DomainEvent<
  'CallbackCallPlaced',
  {
    callId: string;
    merchantId: string;
    callbackId: string;
    attempt: number;
    callCenterId: string;
    /**
     * The shopper's number, dialled once an agent answered; null for a callback to the shopper's
     * browser (its page rings: CallbackBrowserRung), which holds no port either (gatewayId, port, ani null).
     */
    number: string | null;
    gatewayId: string | null;
    port: number | null;
    ani: string | null;
    originCallId: string | null;
    linkId: string | null;
    customerId: string | null;
    sessionId: string | null;
    pageUrl: string | null;
    referrer: string | null;
    context: unknown;
    /** The merchant's plan in force when the try was placed: billing rates with exactly this. */
    ratePlan: RatePlan | null;
    /**
     * How the center takes the try (schema 2): BROWSER, it rings in the center's consoles and an agent
     * answers there; PSTN, the center's number is dialled (the call's own phone leg, from the seized
     * port: ringing and answer are the gateway's), then the shopper is dialled as the call's second leg.
     * Schema 1 (before PSTN centers called back) is upcast to BROWSER.
     */
    media: CallMedia;
    at: string;
  }
>;

export type CallRinging = DomainEvent<'CallRinging', { callId: string; gatewayEventId: string | null; at: string }>;
/** answeredBy (schema 2): the agent who answered a BROWSER call in the console; null when a gateway reported the answer. */
export type CallAnswered = DomainEvent<'CallAnswered', { callId: string; gatewayEventId: string | null; answeredBy: string | null; at: string }>;
export type DtmfReceived = DomainEvent<
  'DtmfReceived',
  { callId: string; digits: string; gatewayEventId: string | null; at: string }
>;
export type DtmfCommandRecognized = DomainEvent<
  'DtmfCommandRecognized',
  {
    callId: string;
    /**
     * The DTMF sequence keyed; for a command the agent gave with a console button, the merchant's
     * sequence for the same action and argument, or null when the table has none.
     */
    sequence: string | null;
    /** MEDIA_SETTING since issue 24 (argument "<SETTING>:ON|OFF"; null for an unknown keypad code, refused). */
    action: DtmfAction;
    argument: string | null;
    /** false when the command was refused (e.g. a page outside allowedOrigins); reason says why. */
    accepted: boolean;
    reason: string | null;
    /** Schema 2: DTMF (keyed on the phone) or AGENT (a console button); version 1 events are DTMF. */
    source: 'DTMF' | 'AGENT';
    /** The agent (API key id) who gave an AGENT command; null for DTMF. */
    agent: string | null;
    at: string;
  }
>;
export type CallTerminated = DomainEvent<
  'CallTerminated',
  {
    callId: string;
    cause: TerminationCause;
    by: Party;
    sipStatus: number | null;
    gatewayEventId: string | null;
    /**
     * Schema 2 (issue 22): why the call FAILED as the gateway said it (e.g. TRUNK_NO_RESPONSE,
     * TRUNK_ERROR), so that a trunk outage can be told from agents not answering; null otherwise and
     * on version 1 events.
     */
    reason: string | null;
    /**
     * Whole seconds from answer to termination, floored; 0 when never answered. For display: billing
     * rates the milliseconds between CallAnswered.at and this event's `at` (talkMsBetween).
     */
    talkSeconds: number;
    /** The port to release, when one was seized. */
    gatewayId: string | null;
    port: number | null;
    at: string;
  }
>;

/** A chat message on a channel the agent opened with DTMF (#NN#), from one side to the other. */
export type ChannelMessageSent = DomainEvent<
  'ChannelMessageSent',
  { callId: string; channelId: string; from: 'AGENT' | 'CALLER'; text: string; at: string }
>;

/** The caller's browser was given the join of the call's media room (LiveKit), once per call. */
export type CallerJoinedMedia = DomainEvent<'CallerJoinedMedia', { callId: string; room: string; at: string }>;

/**
 * What the caller's browser really applied to its microphone (issue 24), as it reported it after an
 * agent's MEDIA_SETTING command (`requested`, choice null) or the caller's own choice in the widget's
 * menu. `honoured` says whether every requested change took effect: Chromium may ignore a constraint.
 */
export type CallerMediaSettingsApplied = DomainEvent<
  'CallerMediaSettingsApplied',
  {
    callId: string;
    settings: AppliedMediaSettings;
    requested: MediaSettingChange[];
    choice: CallerAudioChoice | null;
    honoured: boolean;
    /** How the browser got there (e.g. "restartTrack"), or why not; at most 200 characters. */
    note: string | null;
    at: string;
  }
>;

export type CallEvent =
  | CallDownloaded
  | InboundCallReceived
  | CallbackCallPlaced
  | CallInitiated
  | CallRinging
  | CallAnswered
  | DtmfReceived
  | DtmfCommandRecognized
  | ChannelMessageSent
  | CallerJoinedMedia
  | CallerMediaSettingsApplied
  | CallTerminated;

export const CALL_EVENT_TYPES: ReadonlyArray<CallEvent['type']> = [
  'CallDownloaded',
  'InboundCallReceived',
  'CallbackCallPlaced',
  'CallInitiated',
  'CallRinging',
  'CallAnswered',
  'DtmfReceived',
  'DtmfCommandRecognized',
  'ChannelMessageSent',
  'CallerJoinedMedia',
  'CallerMediaSettingsApplied',
  'CallTerminated',
];

/** The status a call is in after an event of this type (the other call events leave it as it was). */
export const STATUS_AFTER: Readonly<Partial<Record<CallEvent['type'], CallStatus>>> = {
  CallDownloaded: 'DOWNLOADED',
  InboundCallReceived: 'INITIATED',
  CallbackCallPlaced: 'INITIATED',
  CallInitiated: 'INITIATED',
  CallRinging: 'RINGING',
  CallAnswered: 'ANSWERED',
  CallTerminated: 'TERMINATED',
};
