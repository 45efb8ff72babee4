import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { names } from '../enums';
import { DateTimeScalar } from '../scalars';

export const DidDestinationKind = names('CALL_CENTER', 'AGENT', 'LINK', 'MENU');
export type DidDestinationKindT = keyof typeof DidDestinationKind;
registerEnumType(DidDestinationKind, {
  name: 'DidDestinationKind',
  description:
    "Where a virtual number rings: a call center's consoles, one AGENT key (a person), a link's routing, or MENU: the merchant's main number, which answers with a spoken prompt and routes by the ID the caller keys (then #).",
});

@InputType({ description: "One choice of a main number's menu: the ID the caller keys (1 to 12 digits) and exactly one of callCenterId, agentKeyId, linkId." })
export class DidMenuEntryInput {
  @Field(() => String, { description: '1 to 12 digits, unique in the menu; more digits are refused (ID_TOO_LONG).' }) id!: string;
  @Field(() => ID, { nullable: true }) callCenterId?: string | null;
  @Field(() => ID, { nullable: true }) agentKeyId?: string | null;
  @Field(() => ID, { nullable: true }) linkId?: string | null;
}

@InputType({ description: 'A virtual number (DID) and its destination: exactly one of callCenterId, agentKeyId, linkId, menu.' })
export class DidInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => String, { description: 'E.164, e.g. +33100000201.' }) number!: string;
  @Field(() => ID, { nullable: true }) callCenterId?: string | null;
  @Field(() => ID, { nullable: true }) agentKeyId?: string | null;
  @Field(() => ID, { nullable: true }) linkId?: string | null;
  @Field(() => [DidMenuEntryInput], { nullable: true, description: 'A main number: the caller hears a prompt and keys one of these IDs, then #. At most 100 entries.' })
  menu?: DidMenuEntryInput[] | null;
}

@ObjectType({ description: "One choice of a main number's menu." })
export class DidMenuEntry {
  @Field(() => String) id!: string;
  @Field(() => DidDestinationKind) destination!: DidDestinationKindT;
  @Field(() => ID, { nullable: true }) callCenterId!: string | null;
  @Field(() => ID, { nullable: true }) agentKeyId!: string | null;
  @Field(() => ID, { nullable: true }) linkId!: string | null;
}

@ObjectType({ description: 'A virtual number (DID) of a merchant and where it rings.' })
export class Did {
  @Field(() => String) number!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => DidDestinationKind) destination!: DidDestinationKindT;
  @Field(() => ID, { nullable: true }) callCenterId!: string | null;
  @Field(() => ID, { nullable: true }) agentKeyId!: string | null;
  @Field(() => ID, { nullable: true }) linkId!: string | null;
  @Field(() => [DidMenuEntry], { description: "A main number's menu (destination MENU); empty otherwise." }) menu!: DidMenuEntry[];
  @Field(() => DateTimeScalar) assignedAt!: string;
}
