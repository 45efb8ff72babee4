import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar, JSONScalar } from '../scalars';
import { CallDirection, type CallCenterKindT, type CallDirectionT, CallState, Party, TerminationCause, PushKind, MediaSetting, CallerAudioChoice, type CallStateT, type PartyT, type TerminationCauseT, type PushKindT, type MediaSettingT, type CallerAudioChoiceT } from '../enums';
import { CALL_FEED_EVENT_TYPES } from '../../domain/call-feed';
import { CallbackStatus, type CallbackStatusT } from '../callbacks/types';

// The call slice: the widget's download and media join, the call and its events, screen pops and the caller's pushes.
@InputType()
export class DownloadInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => ID) linkId!: string;
  @Field(() => String, { nullable: true }) customerId?: string | null;
  @Field(() => String, { nullable: true }) sessionId?: string | null;
  @Field(() => String) pageUrl!: string;
  @Field(() => String, { nullable: true }) referrer?: string | null;
  @Field(() => JSONScalar, { nullable: true }) context?: unknown;
  @Field(() => String, { nullable: true }) callerRegion?: string | null;
}

@ObjectType()
export class MediaJoin {
  @Field(() => String) provider!: string;
  @Field(() => String, { nullable: true }) url!: string | null;
  @Field(() => String, { nullable: true }) token!: string | null;
  @Field(() => String, { nullable: true }) room!: string | null;
}

@ObjectType()
export class Download {
  @Field(() => ID) callId!: string;
  @Field(() => String) callToken!: string;
  @Field(() => MediaJoin) media!: MediaJoin;
}

@ObjectType()
export class CallContext {
  @Field(() => ID) callId!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => CallDirection, { description: 'OUTBOUND (a click: the page, customer and session are known) or INBOUND (a phone called `did`: `ani` is the caller\'s number, and earlierCalls are those from that number).' })
  direction!: CallDirectionT;
  @Field(() => String, { nullable: true, description: 'The number an INBOUND call dialled (one of the merchant\'s DIDs); null for OUTBOUND.' }) did!: string | null;
  /** Not in the schema: what `media` answers for a CALLBACK call (the read model's callback_media). */
  callbackMedia?: CallCenterKindT | null;
  @Field(() => ID, { nullable: true }) linkId!: string | null;
  @Field(() => String, { nullable: true }) customerId!: string | null;
  @Field(() => String, { nullable: true }) sessionId!: string | null;
  @Field(() => String, { nullable: true }) pageUrl!: string | null;
  @Field(() => String, { nullable: true }) referrer!: string | null;
  @Field(() => JSONScalar, { nullable: true }) context!: unknown;
  @Field(() => String, { nullable: true }) ani!: string | null;
  @Field(() => ID, { nullable: true }) callCenterId!: string | null;
  @Field(() => CallState) state!: CallStateT;
}

@ObjectType()
export class Dtmf {
  @Field(() => String) digits!: string;
  @Field(() => DateTimeScalar) at!: string;
}

@ObjectType()
export class Call {
  @Field(() => ID) id!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => CallDirection, { description: 'OUTBOUND (a click) or INBOUND (a phone called one of the merchant\'s numbers: `did`; `ani` is then the caller\'s number and `downloadedAt` when the call arrived).' })
  direction!: CallDirectionT;
  @Field(() => String, { nullable: true, description: 'The number an INBOUND call dialled; null for OUTBOUND.' }) did!: string | null;
  /** Not in the schema: what `media` answers for a CALLBACK call (the read model's callback_media). */
  callbackMedia?: CallCenterKindT | null;
  @Field(() => ID, { nullable: true }) linkId!: string | null;
  @Field(() => CallState) state!: CallStateT;
  @Field(() => ID, { nullable: true }) callCenterId!: string | null;
  @Field(() => String, { nullable: true }) destination!: string | null;
  @Field(() => ID, { nullable: true }) gatewayId!: string | null;
  @Field(() => Int, { nullable: true }) port!: number | null;
  @Field(() => String, { nullable: true }) ani!: string | null;
  @Field(() => DateTimeScalar) downloadedAt!: string;
  @Field(() => DateTimeScalar, { nullable: true }) initiatedAt!: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) ringingAt!: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) answeredAt!: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) terminatedAt!: string | null;
  @Field(() => TerminationCause, { nullable: true }) terminationCause!: TerminationCauseT | null;
  @Field(() => Party, { nullable: true }) terminatedBy!: PartyT | null;
  @Field(() => Int, { nullable: true }) talkSeconds!: number | null;
  @Field(() => [Dtmf]) dtmf!: Dtmf[];
  @Field(() => CallQueue, {
    nullable: true,
    description: "Where the call waits when every call center of its link was busy and the link lets calls wait (issue 25; initiateCall's answer, again for the current position). Null when it does not wait, and in queries.",
  })
  queue?: CallQueue | null;
  // charge and context are resolved by CallResolver (batched loaders).
}

@ObjectType({ description: "A call's place in a call center's queue (issue 25)." })
export class CallQueue {
  @Field(() => ID) callCenterId!: string;
  @Field(() => Int, { description: '1 is next: the next slot freed at the center takes it.' }) position!: number;
  @Field(() => Int, { description: "About how long until a slot takes it: ceil(position / capacity) × the median of the center's last 20 handle times (180 s while it has none)." })
  estimatedWaitSeconds!: number;
  @Field(() => DateTimeScalar, { description: 'When the wait ends at the latest (the link\'s maxWaitSeconds after the join): then the call is terminated by SYSTEM, NO_ROUTE.' })
  timesOutAt!: string;
}

@ObjectType({ description: "A call waiting in a call center's queue, as the agent console lists it (issue 25)." })
export class QueuedCall {
  @Field(() => ID) callId!: string;
  @Field(() => ID) callCenterId!: string;
  @Field(() => Int, { description: '1 is next.' }) position!: number;
  @Field(() => Int, { description: "The call's ticket: its place in the order of arrival at this queue." }) ticket!: number;
  @Field(() => ID) linkId!: string;
  @Field(() => String, { nullable: true, description: "The link's label (null when the merchant no longer has the link)." }) linkLabel!: string | null;
  @Field(() => DateTimeScalar, { description: 'When it joined the queue (the waited time is now minus this).' }) joinedAt!: string;
  @Field(() => DateTimeScalar, { description: 'When its wait ends at the latest.' }) timesOutAt!: string;
  @Field(() => Int, { description: 'What its shopper is shown as the estimated wait.' }) estimatedWaitSeconds!: number;
}

@ObjectType()
export class CallEvent {
  @Field(() => ID) eventId!: string;
  @Field(() => ID, { description: "The call the event concerns (a callback's: the click it was booked from)" }) callId!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => String, { description: `One of the stable names of a call's feed (docs/webhooks.md): ${CALL_FEED_EVENT_TYPES.join(', ')}` }) type!: string;
  @Field(() => String) position!: string;
  @Field(() => DateTimeScalar) occurredAt!: string;
  @Field(() => JSONScalar) data!: unknown;
}

@ObjectType()
export class PageInfo {
  @Field(() => String, { nullable: true }) endCursor!: string | null;
  @Field(() => Boolean) hasNextPage!: boolean;
}

@ObjectType()
export class CallEdge {
  @Field(() => String) cursor!: string;
  @Field(() => Call) node!: Call;
}

@ObjectType()
export class CallConnection {
  @Field(() => [CallEdge]) edges!: CallEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@InputType()
export class CallFilter {
  @Field(() => ID, { nullable: true }) merchantId?: string | null;
  @Field(() => CallState, { nullable: true }) state?: CallStateT | null;
  @Field(() => ID, { nullable: true }) linkId?: string | null;
  @Field(() => ID, { nullable: true, description: 'Calls routed to this call center (AGENT keys: always their own).' }) callCenterId?: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) from?: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) to?: string | null;
}

@ObjectType()
export class CustomerPush {
  @Field(() => PushKind) kind!: PushKindT;
  @Field(() => CallState, { nullable: true }) state!: CallStateT | null;
  @Field(() => String, { nullable: true }) url!: string | null;
  @Field(() => Int, { nullable: true }) volumePercent!: number | null;
  @Field(() => String, { nullable: true }) channelId!: string | null;
  @Field(() => String, { nullable: true }) text!: string | null;
  @Field(() => TerminationCause, { nullable: true, description: 'CALL_STATE TERMINATED: why the call ended.' }) cause?: TerminationCauseT | null;
  @Field(() => Int, { nullable: true, description: 'CALL_STATE TERMINATED: the SIP status, when the PSTN side gave one.' }) sipStatus?: number | null;
  @Field(() => MediaSetting, { nullable: true, description: 'MEDIA_SETTING: which setting of the microphone processing the agent changed.' }) setting?: MediaSettingT | null;
  @Field(() => Boolean, { nullable: true, description: 'MEDIA_SETTING: on (true) or off (false).' }) enabled?: boolean | null;
  @Field(() => Int, { nullable: true, description: 'QUEUE_POSITION: the place in the queue, 1 is next.' }) position?: number | null;
  @Field(() => Int, { nullable: true, description: 'QUEUE_POSITION: about how long until a slot takes the call (see CallQueue.estimatedWaitSeconds).' })
  estimatedWaitSeconds?: number | null;
  @Field(() => ID, { nullable: true, description: 'CALLBACK: the callback booked from this click.' }) callbackId?: string | null;
  @Field(() => CallbackStatus, { nullable: true, description: 'CALLBACK: where the callback stands now.' }) callbackState?: CallbackStatusT | null;
  @Field(() => Boolean, { nullable: true, description: 'CALLBACK: true while its try rings this browser (an agent is on the line): answer with answerCallback.' }) ringing?: boolean | null;
  @Field(() => DateTimeScalar, { nullable: true, description: 'CALLBACK, ringing: until when it rings; then the try ends NO_ANSWER.' }) ringsUntil?: string | null;
  @Field(() => DateTimeScalar) at!: string;
}

@InputType({ description: 'One change of the microphone processing the caller was asked for.' })
export class MediaSettingChangeInput {
  @Field(() => MediaSetting) setting!: MediaSettingT;
  @Field(() => Boolean) enabled!: boolean;
}

@InputType({
  description:
    "What the caller's browser applied to its microphone: the track's getSettings() (null where the browser does not say) and the widget's half-duplex gate; what was asked (an agent's MEDIA_SETTING command) or the caller's own choice.",
})
export class CallerMediaSettingsInput {
  @Field(() => Boolean, { nullable: true }) echoCancellation?: boolean | null;
  @Field(() => Boolean, { nullable: true }) noiseSuppression?: boolean | null;
  @Field(() => Boolean, { nullable: true }) autoGainControl?: boolean | null;
  @Field(() => Boolean) echoSuppression!: boolean;
  @Field(() => [MediaSettingChangeInput], { nullable: true, description: 'At most 4, one per setting.' }) requested?: MediaSettingChangeInput[] | null;
  @Field(() => CallerAudioChoice, { nullable: true }) choice?: CallerAudioChoiceT | null;
  @Field(() => String, { nullable: true, description: 'At most 200 characters.' }) note?: string | null;
}
