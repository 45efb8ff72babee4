import { graphql, type ResultOf } from '../lib/graphql';

/**
 * What the console knows of one call: its screen pop and the call's events as they arrive (from
 * callEvents, merged with callTimeline so that nothing between the pop and the subscription is
 * missed; deduplicated by event id). Everything shown is derived from those events.
 */
/** The screen pop: the call's context as the API gives it (CallContext), and the customer's earlier calls. */
export const POP = graphql(`
  fragment Pop on CallContext {
    callId
    merchantId
    direction
    did
    linkId
    customerId
    sessionId
    pageUrl
    referrer
    context
    ani
    callCenterId
    state
    media
    earlierCalls(first: 5) {
      id
      downloadedAt
      state
      talkSeconds
    }
  }
`);
export type Pop = ResultOf<typeof POP>;

/** How a call is named in the console's list: which way it came, and who. */
export const callLabel = (pop: Pop): string => {
  if (pop.direction === 'INBOUND') return `Phone call in · ${pop.ani ?? 'withheld'}`;
  // Issue 25: webdial calls a shopper back as promised; the pop is the click it was booked from.
  if (pop.direction === 'CALLBACK') return `Callback · ${pop.customerId ?? 'anonymous'}`;
  return `${pop.media === 'BROWSER' ? 'Browser call' : 'Phone call'} · ${pop.customerId ?? 'anonymous'}`;
};

/** What a screen reader announces when a call rings. */
export const ringAnnouncement = (pop: Pop): string => {
  if (pop.direction === 'INBOUND') return `Incoming phone call from ${pop.ani ?? 'a withheld number'} to ${pop.did ?? 'your number'}`;
  if (pop.direction === 'CALLBACK') return `A callback to ${pop.customerId ?? 'an anonymous visitor'} (booked on ${pop.pageUrl ?? 'an unknown page'}) is ringing: answer to call them back`;
  return `Incoming ${pop.media === 'BROWSER' ? 'browser' : 'phone'} call from ${pop.customerId ?? 'an anonymous visitor'} on ${pop.pageUrl ?? 'an unknown page'}`;
};

export interface CallEventItem {
  eventId: string;
  type: string;
  occurredAt: string;
  data: unknown;
}

export interface CallModel {
  pop: Pop;
  events: Map<string, CallEventItem>;
}

export interface Command {
  sequence: string | null;
  action: string;
  argument: string | null;
  accepted: boolean;
  reason: string | null;
  source: 'DTMF' | 'AGENT';
  at: string;
}

export interface Derived {
  state: 'DOWNLOADED' | 'INITIATED' | 'RINGING' | 'ANSWERED' | 'TERMINATED';
  ringingAt: string | null;
  answeredAt: string | null;
  answeredBy: string | null;
  terminatedAt: string | null;
  ended: { cause: string; by: string; talkSeconds: number } | null;
  digits: Array<{ digits: string; at: string }>;
  commands: Command[];
  channels: string[];
  chat: Array<{ channelId: string; from: 'AGENT' | 'CALLER'; text: string; at: string }>;
  /** The caller's microphone as its browser last reported it (CallerMediaSettingsApplied), or null. */
  callerMedia: CallerMedia | null;
  /** Issue 25: the call's transfers, oldest first, and the one open now (null: none). */
  transfers: Transfer[];
  open: Transfer | null;
  /** Who holds the call: the agent and center of the last completed transfer, else whoever answered, at the call's center. */
  holder: string | null;
  holderCenter: string | null;
}

/** A transfer as the console follows it, from TransferStarted / TransferCompleted / TransferCancelled. */
export interface Transfer {
  transferId: string;
  mode: 'BLIND' | 'WARM';
  status: 'OPEN' | 'COMPLETED' | 'CANCELLED';
  from: { callCenterId: string; agent: string | null };
  to: { callCenterId: string; agent: string | null };
  at: string;
  reason: string | null;
}

/** CallerMediaSettingsApplied's data. */
export interface CallerMedia {
  settings: { echoCancellation: boolean | null; noiseSuppression: boolean | null; autoGainControl: boolean | null; echoSuppression: boolean };
  requested: Array<{ setting: string; enabled: boolean }>;
  choice: 'HEADSET' | 'SPEAKERS' | 'ECHO_HEARD' | null;
  honoured: boolean;
  note: string | null;
  at: string;
}

const RANK = { DOWNLOADED: 1, INITIATED: 2, RINGING: 3, ANSWERED: 4, TERMINATED: 5 } as const;
const STATE_OF: Record<string, keyof typeof RANK> = {
  CallDownloaded: 'DOWNLOADED',
  CallInitiated: 'INITIATED',
  CallRinging: 'RINGING',
  CallAnswered: 'ANSWERED',
  CallTerminated: 'TERMINATED',
};

export const derive = (m: CallModel): Derived => {
  const events = [...m.events.values()].sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : 0));
  const popState = (m.pop.state in RANK ? m.pop.state : 'RINGING') as keyof typeof RANK;
  const d: Derived = {
    state: popState,
    ringingAt: null,
    answeredAt: null,
    answeredBy: null,
    terminatedAt: null,
    ended: null,
    digits: [],
    commands: [],
    channels: [],
    chat: [],
    callerMedia: null,
    transfers: [],
    open: null,
    holder: null,
    holderCenter: m.pop.callCenterId ?? null,
  };
  const transfer = (id: string) => d.transfers.find((t) => t.transferId === id);
  for (const e of events) {
    const data = (e.data ?? {}) as Record<string, any>;
    const s = STATE_OF[e.type];
    if (s && RANK[s] > RANK[d.state]) d.state = s;
    switch (e.type) {
      case 'CallRinging':
        d.ringingAt = data.at ?? e.occurredAt;
        break;
      case 'CallAnswered':
        d.answeredAt = data.at ?? e.occurredAt;
        d.answeredBy = data.answeredBy ?? null;
        break;
      case 'CallTerminated':
        d.terminatedAt = data.at ?? e.occurredAt;
        d.ended = { cause: data.cause, by: data.by, talkSeconds: data.talkSeconds ?? 0 };
        break;
      case 'DtmfReceived':
        d.digits.push({ digits: data.digits, at: data.at });
        break;
      case 'DtmfCommandRecognized':
        d.commands.push({ sequence: data.sequence, action: data.action, argument: data.argument, accepted: data.accepted, reason: data.reason, source: data.source ?? 'DTMF', at: data.at });
        if (data.accepted && data.action === 'OPEN_CHANNEL' && !d.channels.includes(data.argument)) d.channels.push(data.argument);
        break;
      case 'ChannelMessageSent':
        d.chat.push({ channelId: data.channelId, from: data.from, text: data.text, at: data.at });
        break;
      case 'CallerMediaSettingsApplied':
        d.callerMedia = data as CallerMedia;
        break;
      case 'TransferStarted':
        if (!transfer(data.transferId)) d.transfers.push({ transferId: data.transferId, mode: data.mode, status: 'OPEN', from: data.from, to: data.to, at: data.at, reason: null });
        break;
      case 'TransferCompleted': {
        const t = transfer(data.transferId);
        if (t) Object.assign(t, { status: 'COMPLETED', to: data.to, at: data.at });
        break;
      }
      case 'TransferCancelled': {
        const t = transfer(data.transferId);
        if (t) Object.assign(t, { status: 'CANCELLED', at: data.at, reason: data.reason });
        break;
      }
    }
  }
  d.open = d.transfers.find((t) => t.status === 'OPEN') ?? null;
  const handedOver = d.transfers.filter((t) => t.status === 'COMPLETED').at(-1);
  d.holder = handedOver ? handedOver.to.agent : d.answeredBy;
  if (handedOver) d.holderCenter = handedOver.to.callCenterId;
  return d;
};

/** The key id inside an API key (`wd.<id>.<secret>`): what events record as the agent. */
export const keyIdOf = (key: string): string | null => (/^wd\.([A-Za-z0-9_-]+)\./.exec(key)?.[1] ?? null);

/** A human description of a command for the console's log. */
export const describeCommand = (c: Command): string => {
  const what =
    c.action === 'PUSH_PAGE'
      ? `push ${c.argument}`
      : c.action === 'VOLUME'
        ? `volume ${c.argument} %`
        : c.action === 'MEDIA_SETTING'
          ? `caller's ${describeSetting(c.argument)}`
          : `open chat ${c.argument}`;
  const how = c.source === 'AGENT' ? 'button' : `DTMF ${c.sequence}`;
  return `${what} (${how})${c.accepted ? '' : `: refused, ${c.reason}`}`;
};

const SETTING_NAMES: Record<string, string> = {
  ECHO_CANCELLATION: 'echo cancellation',
  ECHO_SUPPRESSION: 'echo suppression',
  NOISE_SUPPRESSION: 'noise suppression',
  AUTO_GAIN: 'automatic gain',
};
/** "ECHO_CANCELLATION:OFF" → "echo cancellation off"; an unknown code (null) → "media setting (unknown code)". */
export const describeSetting = (argument: string | null): string => {
  const [setting, on] = (argument ?? '').split(':');
  return setting && SETTING_NAMES[setting] ? `${SETTING_NAMES[setting]} ${on === 'ON' ? 'on' : 'off'}` : 'media setting (unknown code)';
};

const CHOICE_NAMES = { HEADSET: 'a headset', SPEAKERS: 'speakers', ECHO_HEARD: 'the agent hears an echo' } as const;
const flag = (v: boolean | null) => (v === null ? 'not reported' : v ? 'on' : 'off');
/** What the caller's browser reported, for the console. */
export const describeCallerMedia = (m: CallerMedia): string => {
  const s = m.settings;
  const applied = `echo cancellation ${flag(s.echoCancellation)}, echo suppression ${s.echoSuppression ? 'on' : 'off'}, noise suppression ${flag(s.noiseSuppression)}, automatic gain ${flag(s.autoGainControl)}`;
  const why = m.choice ? `the caller chose: ${CHOICE_NAMES[m.choice]}` : `asked: ${m.requested.map((r) => describeSetting(`${r.setting}:${r.enabled ? 'ON' : 'OFF'}`)).join(', ')}`;
  return `${applied} (${why}; ${m.honoured ? 'took effect' : 'NOT applied by the browser'}${m.note ? `, ${m.note}` : ''})`;
};

/** A transfer as `callTransfers` answers it. */
export interface TransferRow {
  transferId: string;
  mode: 'BLIND' | 'WARM';
  status: 'OPEN' | 'COMPLETED' | 'CANCELLED';
  fromCallCenterId: string;
  fromAgent: string | null;
  toCallCenterId: string;
  toAgent: string | null;
  startedAt: string;
  endedAt: string | null;
  cancelReason: string | null;
}

/**
 * A call's transfers so far as the events they were (TransferStarted, then Completed or Cancelled):
 * a console that follows a call from a transfer's screen pop on did not see them live, and the
 * timeline it reads holds the call's own events only. Ids of their own (`<transferId>:started`…):
 * `derive` takes a transfer's events once, however many copies arrive.
 */
export const transferItems = (rows: readonly TransferRow[]): CallEventItem[] =>
  rows.flatMap((t) => {
    const started: CallEventItem = {
      eventId: `${t.transferId}:started`,
      type: 'TransferStarted',
      occurredAt: t.startedAt,
      data: { transferId: t.transferId, mode: t.mode, from: { callCenterId: t.fromCallCenterId, agent: t.fromAgent }, to: { callCenterId: t.toCallCenterId, agent: t.mode === 'WARM' ? t.toAgent : null }, at: t.startedAt },
    };
    if (t.status === 'OPEN' || t.endedAt === null) return [started];
    const end: CallEventItem =
      t.status === 'COMPLETED'
        ? { eventId: `${t.transferId}:completed`, type: 'TransferCompleted', occurredAt: t.endedAt, data: { transferId: t.transferId, mode: t.mode, to: { callCenterId: t.toCallCenterId, agent: t.toAgent }, at: t.endedAt } }
        : { eventId: `${t.transferId}:cancelled`, type: 'TransferCancelled', occurredAt: t.endedAt, data: { transferId: t.transferId, reason: t.cancelReason, at: t.endedAt } };
    return [started, end];
  });
