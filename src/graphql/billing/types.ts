import 'reflect-metadata';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar, LongScalar } from '../scalars';
import { CallCenterKind, CallDirection, type CallCenterKindT, type CallDirectionT } from '../enums';

// The billing slice: charges, billing summaries, the merchant dashboard's per-center stats, re-rate what-if and charges export.
@ObjectType({ description: "A leg of a charged call (issue 25): who held it (a center and its agent) and for how long, rated by the call's plan. A call never transferred has one." })
export class ChargeLeg {
  @Field(() => ID, { nullable: true }) callCenterId!: string | null;
  @Field(() => ID, { nullable: true, description: 'The agent (AGENT key id) who held the call; null on a phone.' }) agent!: string | null;
  @Field(() => LongScalar) talkMs!: number;
  @Field(() => Int) billableSeconds!: number;
  @Field(() => LongScalar) amountMinor!: number;
}

@ObjectType()
export class Charge {
  @Field(() => [ChargeLeg], { description: 'Issue 25: the legs the call was split into at each completed transfer; amountMinor and billableSeconds are their sums.' })
  legs!: ChargeLeg[];
  @Field(() => LongScalar) amountMinor!: number;
  @Field(() => String) currency!: string;
  @Field(() => Int) billableSeconds!: number;
  @Field(() => String, { nullable: true }) sourcePage!: string | null;
  @Field(() => CallDirection, { description: "OUTBOUND, INBOUND (rated at the plan's inbound rate, no source page) or CALLBACK (issue 25: rated at the plan's callback rate, credited to the page of the click it was booked from)." })
  direction!: CallDirectionT;
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

@ObjectType({ description: 'Calls routed to one call center in a period (by download time), from the call history.' })
export class CallCenterStats {
  @Field(() => ID) callCenterId!: string;
  @Field(() => String, { nullable: true, description: "The center's name (null when it is unknown to the merchant)." }) name!: string | null;
  @Field(() => CallCenterKind, { nullable: true }) kind!: CallCenterKindT | null;
  @Field(() => Int, { description: 'Calls routed to the center.' }) calls!: number;
  @Field(() => Int) answered!: number;
  @Field(() => Float, { description: 'answered / calls, from 0 to 1.' }) answerRate!: number;
  @Field(() => LongScalar, { description: 'Talk time of the answered calls, seconds.' }) talkSeconds!: number;
  @Field(() => Float, { description: 'talkSeconds / answered (0 without answered calls).' }) averageTalkSeconds!: number;
}

@ObjectType({ description: 'One UTC day of a re-rate what-if.' })
export class RerateDay {
  @Field(() => String, { description: 'YYYY-MM-DD (UTC) of the calls initiated that day.' }) day!: string;
  @Field(() => Int) calls!: number;
  @Field(() => LongScalar) currentMinor!: number;
  @Field(() => LongScalar) whatIfMinor!: number;
}

@ObjectType({ description: "A plan drawn against today's charges: the dry-run re-rating of a period. Nothing is written." })
export class RerateWhatIf {
  @Field(() => ID) merchantId!: string;
  @Field(() => DateTimeScalar) from!: string;
  @Field(() => DateTimeScalar) to!: string;
  @Field(() => String, { description: "The what-if plan's currency." }) currency!: string;
  @Field(() => Int) calls!: number;
  @Field(() => LongScalar) currentMinor!: number;
  @Field(() => LongScalar) whatIfMinor!: number;
  @Field(() => LongScalar, { description: 'whatIfMinor - currentMinor.' }) diffMinor!: number;
  @Field(() => [RerateDay]) days!: RerateDay[];
}

@ObjectType({ description: 'A one-time download of the charges of a period as CSV (GET url within a minute; the ticket in it is not an API key).' })
export class ChargesExport {
  @Field(() => String, { description: 'Relative URL of the CSV, with a single-use ticket.' }) url!: string;
  @Field(() => DateTimeScalar) expiresAt!: string;
  @Field(() => Int, { description: 'The longest period one export covers, days.' }) maxDays!: number;
}
