import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import { DtmfAction, type DtmfActionT } from '../enums';

// The agent console slice.
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
