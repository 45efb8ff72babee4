import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import { Role, DtmfAction, CallCenterKind, type RoleT, type DtmfActionT, type CallCenterKindT } from '../enums';

// The merchant slice: configuration (merchants, call centers, links, rate plans, DTMF table), API keys, the viewer and dead letters.
@InputType()
export class MerchantInput {
  @Field(() => String) name!: string;
  @Field(() => Int, { nullable: true }) maxConcurrentCalls?: number | null;
  @Field(() => [String], { nullable: true }) allowedOrigins?: string[] | null;
}

@ObjectType()
export class Merchant {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => Int, { nullable: true }) maxConcurrentCalls!: number | null;
  @Field(() => [String], { nullable: true }) allowedOrigins!: string[] | null;
  @Field(() => [String], {
    nullable: true,
    description: 'The prefixes its shoppers may be called back on (setCallbackPrefixes, issue 25); null: unset, and the calling codes of its call centers\' numbers apply (effectiveCallbackPrefixes).',
  })
  callbackPrefixes!: string[] | null;
}

@ObjectType()
export class ApiKey {
  @Field(() => String) key!: string;
  @Field(() => Role) role!: RoleT;
  @Field(() => ID, { nullable: true }) merchantId!: string | null;
  @Field(() => ID, { nullable: true, description: 'The call center of an AGENT key; null for every other role.' }) callCenterId!: string | null;
}

@InputType()
export class OpeningHoursInput {
  @Field(() => Int) day!: number;
  @Field(() => String) open!: string;
  @Field(() => String) close!: string;
}

@InputType()
export class CallCenterInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => String) name!: string;
  @Field(() => String) phoneNumber!: string;
  @Field(() => String) timeZone!: string;
  @Field(() => [OpeningHoursInput], { nullable: true }) weeklyHours?: OpeningHoursInput[] | null;
  @Field(() => Int) capacity!: number;
  @Field(() => String) region!: string;
  @Field(() => CallCenterKind, { nullable: true, description: 'Default PSTN. BROWSER: calls ring in the agent console instead of dialling phoneNumber.' })
  kind?: CallCenterKindT | null;
}

@ObjectType()
export class CallCenter {
  @Field(() => ID) id!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => String) name!: string;
  @Field(() => String) phoneNumber!: string;
  @Field(() => String) timeZone!: string;
  @Field(() => Int) capacity!: number;
  @Field(() => String) region!: string;
  @Field(() => ID, { nullable: true }) redirectedTo!: string | null;
  @Field(() => CallCenterKind) kind!: CallCenterKindT;
  @Field(() => Boolean, { description: "Hears the caller's session number as RFC 4733 DTMF right after it answers, then # (setCallCenterIdentityDtmf)." })
  identityDtmf!: boolean;
}

@InputType()
export class LinkInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => String) label!: string;
  @Field(() => [ID]) callCenterIds!: string[];
}

@ObjectType({ description: "How a link's calls wait when every call center is busy (setLinkQueuePolicy; issue 25)." })
export class LinkQueuePolicy {
  @Field(() => Int, { description: 'The longest a call waits (1 to 3600 s); then it ends, terminated by SYSTEM with cause NO_ROUTE.' }) maxWaitSeconds!: number;
  @Field(() => Int, { description: 'The most calls that wait at once in one center\'s queue (1 to 1000); the next is refused LIMIT_EXCEEDED (reason QUEUE_FULL).' }) maxLength!: number;
}

@ObjectType()
export class Link {
  @Field(() => ID) id!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => String) label!: string;
  @Field(() => [ID]) callCenterIds!: string[];
  @Field(() => LinkQueuePolicy, { nullable: true, description: 'Null: when every center is busy, a call of this link is refused (NO_ROUTE) instead of waiting.' })
  queuePolicy!: LinkQueuePolicy | null;
}

@InputType()
export class PrefixRateInput {
  @Field(() => String) prefix!: string;
  @Field(() => Int) ratePerMinuteMinor!: number;
}

@InputType()
export class RatePlanInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => String) currency!: string;
  @Field(() => Int) connectionFeeMinor!: number;
  @Field(() => Int) ratePerMinuteMinor!: number;
  @Field(() => Int) firstIncrementSeconds!: number;
  @Field(() => Int) nextIncrementSeconds!: number;
  @Field(() => Int, { nullable: true }) minimumChargeMinor?: number | null;
  @Field(() => [PrefixRateInput], { nullable: true }) prefixRates?: PrefixRateInput[] | null;
  @Field(() => Int, { nullable: true, description: "Per-minute rate of INBOUND calls (a phone called one of the merchant's numbers); null: ratePerMinuteMinor. Prefix rates never apply to them." })
  inboundRatePerMinuteMinor?: number | null;
  @Field(() => Int, { nullable: true, description: 'Per-minute rate of CALLBACK calls (webdial calls a shopper back, issue 25); null: ratePerMinuteMinor. Prefix rates never apply to them.' })
  callbackRatePerMinuteMinor?: number | null;
}

@ObjectType({ description: 'Weekly opening hours of a call center, local to its time zone.' })
export class OpeningHours {
  @Field(() => Int) day!: number;
  @Field(() => String) open!: string;
  @Field(() => String) close!: string;
}

@ObjectType({ description: 'One prefix rate of a rate plan: the longest matching E.164 prefix wins.' })
export class PrefixRate {
  @Field(() => String) prefix!: string;
  @Field(() => Int) ratePerMinuteMinor!: number;
}

@ObjectType({ description: 'The rate plan in force (version: 1 for the first, +1 for each later setRatePlan).' })
export class RatePlan {
  @Field(() => Int) version!: number;
  @Field(() => String) currency!: string;
  @Field(() => Int) connectionFeeMinor!: number;
  @Field(() => Int) ratePerMinuteMinor!: number;
  @Field(() => Int) firstIncrementSeconds!: number;
  @Field(() => Int) nextIncrementSeconds!: number;
  @Field(() => Int) minimumChargeMinor!: number;
  @Field(() => [PrefixRate]) prefixRates!: PrefixRate[];
  @Field(() => Int, { nullable: true, description: 'Per-minute rate of INBOUND calls; null: ratePerMinuteMinor.' })
  inboundRatePerMinuteMinor!: number | null;
  @Field(() => Int, { nullable: true, description: 'Per-minute rate of CALLBACK calls (issue 25); null: ratePerMinuteMinor.' })
  callbackRatePerMinuteMinor!: number | null;
}

@ObjectType({ description: "One entry of the merchant's DTMF table (setDtmfCommand)." })
export class DtmfCommand {
  @Field(() => String) sequence!: string;
  @Field(() => DtmfAction) action!: DtmfActionT;
  @Field(() => String, { nullable: true }) argument!: string | null;
}

@ObjectType({ description: 'An API key as listed: never its secret.' })
export class ApiKeyInfo {
  @Field(() => ID) id!: string;
  @Field(() => Role) role!: RoleT;
  @Field(() => ID, { nullable: true }) merchantId!: string | null;
  @Field(() => ID, { nullable: true, description: 'The call center of an AGENT key.' }) callCenterId!: string | null;
  @Field(() => DateTimeScalar) createdAt!: string;
  @Field(() => DateTimeScalar, { nullable: true }) revokedAt!: string | null;
}

@ObjectType({ description: 'The key a request is made with: what the pages show after signing in.' })
export class Viewer {
  @Field(() => Role) role!: RoleT;
  @Field(() => ID, { nullable: true, description: 'The merchant the key is bound to (null for ADMIN and GATEWAY keys).' }) merchantId!: string | null;
  @Field(() => String, { nullable: true, description: "That merchant's name." }) merchantName!: string | null;
  @Field(() => ID, { nullable: true, description: 'The call center of an AGENT key.' }) callCenterId!: string | null;
}

@ObjectType({
  description:
    'An event a projection could never apply (its view refused it), or a bus message no one could decode, set aside so that everything after it was applied. Listed by `webdial events dead-letters` too.',
})
export class DeadLetter {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'The projection (or consumer group) that set it aside.' }) consumer!: string;
  @Field(() => String, { nullable: true, description: 'null for a message that could not be decoded.' }) eventId!: string | null;
  @Field(() => String, { nullable: true }) type!: string | null;
  @Field(() => String, { nullable: true }) streamId!: string | null;
  @Field(() => Int, { nullable: true }) streamVersion!: number | null;
  @Field(() => String, { nullable: true }) position!: string | null;
  @Field(() => ID, { nullable: true }) merchantId!: string | null;
  @Field(() => String, { nullable: true, description: 'Where an undecodable message was: topic/partition@offset.' }) origin!: string | null;
  @Field(() => String) error!: string;
  @Field(() => DateTimeScalar) at!: string;
  @Field(() => DateTimeScalar, { nullable: true, description: 'When it was replayed successfully; null while it waits.' }) replayedAt!: string | null;
}
