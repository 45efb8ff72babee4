import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

// The gateway slice: gateways and their ports.
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
