import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { names } from '../enums';
import { DateTimeScalar } from '../scalars';

export const DidDestinationKind = names('CALL_CENTER', 'AGENT', 'LINK');
export type DidDestinationKindT = keyof typeof DidDestinationKind;
registerEnumType(DidDestinationKind, {
  name: 'DidDestinationKind',
  description: "Where a virtual number rings: a call center's consoles, one AGENT key (a person), or a link's routing.",
});

@InputType({ description: 'A virtual number (DID) and its destination: exactly one of callCenterId, agentKeyId, linkId.' })
export class DidInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => String, { description: 'E.164, e.g. +33100000201.' }) number!: string;
  @Field(() => ID, { nullable: true }) callCenterId?: string | null;
  @Field(() => ID, { nullable: true }) agentKeyId?: string | null;
  @Field(() => ID, { nullable: true }) linkId?: string | null;
}

@ObjectType({ description: 'A virtual number (DID) of a merchant and where it rings.' })
export class Did {
  @Field(() => String) number!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => DidDestinationKind) destination!: DidDestinationKindT;
  @Field(() => ID, { nullable: true }) callCenterId!: string | null;
  @Field(() => ID, { nullable: true }) agentKeyId!: string | null;
  @Field(() => ID, { nullable: true }) linkId!: string | null;
  @Field(() => DateTimeScalar) assignedAt!: string;
}
