import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import type { TransferCancelReason as TransferCancelReasonName } from '../../domain/transfer/transfer';
import { DtmfAction, TransferCancelReason, TransferMode, TransferStatus, type DtmfActionT } from '../enums';

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

@ObjectType({ description: 'A transfer of a live call (issue 25): from the agent who held it to another center (BLIND) or a named colleague (WARM).' })
export class CallTransfer {
  @Field(() => ID) callId!: string;
  @Field(() => ID) transferId!: string;
  @Field(() => TransferMode) mode!: 'BLIND' | 'WARM';
  @Field(() => TransferStatus) status!: 'OPEN' | 'COMPLETED' | 'CANCELLED';
  @Field(() => ID, { description: 'The call center that held the call.' }) fromCallCenterId!: string;
  @Field(() => ID, { nullable: true, description: 'The agent (AGENT key id) who held it.' }) fromAgent!: string | null;
  @Field(() => ID) toCallCenterId!: string;
  @Field(() => ID, { nullable: true, description: 'WARM: the colleague; BLIND: the agent who took it, once completed (null before, and for a PSTN center: its phone took it).' }) toAgent!: string | null;
  @Field(() => DateTimeScalar) startedAt!: string;
  @Field(() => DateTimeScalar, { nullable: true }) endedAt!: string | null;
  @Field(() => TransferCancelReason, { nullable: true }) cancelReason!: TransferCancelReasonName | null;
}

@ObjectType({ description: 'A colleague a warm transfer may go to: an AGENT key of the merchant (not revoked) and its call center.' })
export class TransferColleague {
  @Field(() => ID, { description: 'The AGENT key id: what events record as the agent.' }) agent!: string;
  @Field(() => ID) callCenterId!: string;
}
