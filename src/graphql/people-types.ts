import 'reflect-metadata';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar, LongScalar } from './scalars';
import { CallCenterKind, DtmfAction, Role, type CallCenterKindT, type DtmfActionT, type RoleT } from './types';

// Object types the pages need (issue 12). Every name here is new: the contract's names are in types.ts.

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

@ObjectType({ description: 'A command the agent gave with a console button, recorded as the DtmfCommandRecognized event that DTMF produces (source AGENT).' })
export class AgentCommand {
  @Field(() => ID) callId!: string;
  @Field(() => DtmfAction) action!: DtmfActionT;
  @Field(() => String, { nullable: true }) argument!: string | null;
  @Field(() => String, { nullable: true, description: "The merchant's DTMF sequence for the same command, if it has one." }) sequence!: string | null;
  @Field(() => Boolean, { description: 'false when refused, e.g. a page outside the allowed origins; reason says why. The refusal is recorded too.' })
  accepted!: boolean;
  @Field(() => String, { nullable: true }) reason!: string | null;
  @Field(() => DateTimeScalar) at!: string;
}

@ObjectType({ description: 'The key a request is made with: what the pages show after signing in.' })
export class Viewer {
  @Field(() => Role) role!: RoleT;
  @Field(() => ID, { nullable: true, description: 'The merchant the key is bound to (null for ADMIN and GATEWAY keys).' }) merchantId!: string | null;
  @Field(() => String, { nullable: true, description: "That merchant's name." }) merchantName!: string | null;
  @Field(() => ID, { nullable: true, description: 'The call center of an AGENT key.' }) callCenterId!: string | null;
}

