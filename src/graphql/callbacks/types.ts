import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { names } from '../enums';
import { DateTimeScalar } from '../scalars';

export const CallbackStatus = names('PENDING', 'ATTEMPTING', 'DONE', 'FAILED', 'CANCELLED');
export const CallbackWhenKind = names('NOW', 'AGENT_FREE', 'AT');
export type CallbackStatusT = keyof typeof CallbackStatus;
export type CallbackWhenKindT = keyof typeof CallbackWhenKind;
registerEnumType(CallbackStatus, {
  name: 'CallbackStatus',
  description: 'PENDING (booked, or a failed try waits 5 minutes), ATTEMPTING (a try rings), DONE (answered), FAILED (3 tries failed), CANCELLED.',
});
registerEnumType(CallbackWhenKind, {
  name: 'CallbackWhenKind',
  description: 'NOW (the center must be open), AGENT_FREE (when an agent is free; after the center opens if it is closed) or AT an instant inside its opening hours, at most 7 days ahead.',
});

@InputType({ description: 'When a callback is wanted: `at` only (and required) for AT.' })
export class CallbackWhenInput {
  @Field(() => CallbackWhenKind) kind!: CallbackWhenKindT;
  @Field(() => DateTimeScalar, { nullable: true }) at?: string | null;
}

@ObjectType()
export class CallbackWhen {
  @Field(() => CallbackWhenKind) kind!: CallbackWhenKindT;
  @Field(() => DateTimeScalar, { nullable: true, description: 'The instant asked for (AT); null otherwise.' }) at!: string | null;
}

@ObjectType({ description: 'A callback promise (issue 25): booked from a click, placed by the callback scheduler, tried at most 3 times, 5 minutes apart.' })
export class Callback {
  @Field(() => ID) id!: string;
  @Field(() => ID) callCenterId!: string;
  @Field(() => CallbackStatus) state!: CallbackStatusT;
  @Field(() => CallbackWhen) when!: CallbackWhen;
  @Field(() => DateTimeScalar, { description: 'The earliest instant of the first try.' }) dueAt!: string;
  @Field(() => Int, { description: 'Tries started so far (at most maxAttempts).' }) attempts!: number;
  @Field(() => Int) maxAttempts!: number;
  @Field(() => DateTimeScalar, { nullable: true, description: 'When the next try may start (PENDING); null once closed.' }) nextAttemptAt!: string | null;
  @Field(() => String, { description: 'PHONE or BROWSER.' }) targetKind!: string;
  @Field(() => String, { nullable: true, description: "The number called back: in full for the merchant's keys, masked but for its last 4 digits in the widget's answers; null for BROWSER." })
  number!: string | null;
  @Field(() => String, { nullable: true, description: 'How the last try ended: ANSWERED, NO_ANSWER, BUSY, FAILED, NO_AGENT; CANCELLED_BY_SHOPPER / _MERCHANT / _SYSTEM after a cancel.' })
  lastOutcome!: string | null;
  @Field(() => ID, { nullable: true, description: 'The click it was booked from (its page and cart are on the placed call\'s screen pop).' }) originCallId!: string | null;
  @Field(() => ID, { nullable: true, description: 'The call of the try in progress, else of the last try.' }) callId!: string | null;
  @Field(() => DateTimeScalar) bookedAt!: string;
  @Field(() => DateTimeScalar) updatedAt!: string;
}

@ObjectType({ description: 'A page of callbacks, newest booking first.' })
export class CallbackPage {
  @Field(() => [Callback]) items!: Callback[];
  @Field(() => String, { nullable: true, description: 'Give it as `after` for the next page; null: the last page.' }) endCursor!: string | null;
}
