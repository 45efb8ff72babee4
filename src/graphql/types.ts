import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeScalar, JSONScalar, LongScalar } from './scalars';
import type { CallStatus } from '../domain/call/events';

// Enums of the contract, as plain objects (type-graphql registers them by name).
export const names = <T extends string>(...values: T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };
export const Role = names('ADMIN', 'MERCHANT', 'CRM', 'ANALYST', 'GATEWAY', 'AGENT');
export const CallState = names<CallStatus>('DOWNLOADED', 'INITIATED', 'RINGING', 'ANSWERED', 'TERMINATED') satisfies { [K in CallStatus]: K };
export const Party = names('CALLER', 'CALLEE', 'SYSTEM');
export const TerminationCause = names('HANGUP', 'BUSY', 'NO_ANSWER', 'REJECTED', 'FAILED', 'NO_ROUTE', 'NO_PORT', 'MAX_DURATION', 'ABANDONED');
export const BillingGroupBy = names('DAY', 'LINK', 'SOURCE_PAGE', 'CALL_CENTER');
export const DtmfAction = names('PUSH_PAGE', 'VOLUME', 'OPEN_CHANNEL');
export const PushKind = names('CALL_STATE', 'PAGE', 'VOLUME', 'CHANNEL_OPENED', 'CHAT_MESSAGE');
export const CallCenterKind = names('PSTN', 'BROWSER');
registerEnumType(Role, {
  name: 'Role',
  valuesConfig: { AGENT: { description: 'A person at the agent console: bound to one merchant and one of its call centers, sees and acts on that center\'s calls only.' } },
});
registerEnumType(CallState, { name: 'CallState' });
registerEnumType(Party, { name: 'Party' });
registerEnumType(TerminationCause, { name: 'TerminationCause' });
registerEnumType(BillingGroupBy, { name: 'BillingGroupBy' });
registerEnumType(DtmfAction, { name: 'DtmfAction' });
registerEnumType(PushKind, { name: 'PushKind' });
registerEnumType(CallCenterKind, {
  name: 'CallCenterKind',
  description: 'How a call center takes its calls: PSTN (dialled through a gateway port) or BROWSER (PC-to-PC: the call rings in the agent console at /console).',
});
export type RoleT = keyof typeof Role;
/** The contract's CallState is the domain's CallStatus (src/domain/call/events.ts): one spelling. */
export type CallStateT = CallStatus;
export type PartyT = keyof typeof Party;
export type TerminationCauseT = keyof typeof TerminationCause;
export type BillingGroupByT = keyof typeof BillingGroupBy;
export type DtmfActionT = keyof typeof DtmfAction;
export type PushKindT = keyof typeof PushKind;
export type CallCenterKindT = keyof typeof CallCenterKind;

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
}

@InputType()
export class LinkInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => String) label!: string;
  @Field(() => [ID]) callCenterIds!: string[];
}

@ObjectType()
export class Link {
  @Field(() => ID) id!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => String) label!: string;
  @Field(() => [ID]) callCenterIds!: string[];
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
}

@InputType()
export class PortInput {
  @Field(() => Int) number!: number;
  @Field(() => String) ani!: string;
}

@InputType()
export class GatewayInput {
  @Field(() => String) name!: string;
  @Field(() => String) region!: string;
  @Field(() => [PortInput]) ports!: PortInput[];
}

@ObjectType()
export class GatewayPort {
  @Field(() => ID) gatewayId!: string;
  @Field(() => Int) number!: number;
  @Field(() => String) ani!: string;
  @Field(() => Boolean) busy!: boolean;
  @Field(() => ID, { nullable: true }) callId!: string | null;
}

@ObjectType()
export class Gateway {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String) region!: string;
  @Field(() => [GatewayPort]) ports!: GatewayPort[];
}

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
export class Charge {
  @Field(() => LongScalar) amountMinor!: number;
  @Field(() => String) currency!: string;
  @Field(() => Int) billableSeconds!: number;
  @Field(() => String, { nullable: true }) sourcePage!: string | null;
}

@ObjectType()
export class Call {
  @Field(() => ID) id!: string;
  @Field(() => ID) merchantId!: string;
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
  // charge and context are resolved by CallResolver (batched loaders).
}

@ObjectType()
export class CallEvent {
  @Field(() => ID) eventId!: string;
  @Field(() => ID) callId!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => String) type!: string;
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
export class BillingLine {
  @Field(() => String) key!: string;
  @Field(() => Int) calls!: number;
  @Field(() => LongScalar) billableSeconds!: number;
  @Field(() => LongScalar) amountMinor!: number;
}

@ObjectType()
export class BillingSummary {
  @Field(() => ID) merchantId!: string;
  @Field(() => String) currency!: string;
  @Field(() => DateTimeScalar) from!: string;
  @Field(() => DateTimeScalar) to!: string;
  @Field(() => Int) calls!: number;
  @Field(() => LongScalar) billableSeconds!: number;
  @Field(() => LongScalar) amountMinor!: number;
  @Field(() => [BillingLine]) lines!: BillingLine[];
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
  @Field(() => DateTimeScalar) at!: string;
}


// ---- configuration read back (the merchants projection) --------------------------------------

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
