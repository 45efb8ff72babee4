import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';
import { MediaJoin } from '../calls/types';
import { Callback } from './types';

// Its own file: the call slice's types import the callbacks' (CustomerPush.callbackState), not the other way round.
@ObjectType({ description: "The shopper answered a callback ringing its browser: the try's call to join (as a click's) and to act on with its own call token." })
export class CallbackAnswer {
  @Field(() => Callback, { description: 'The callback, DONE.' }) callback!: Callback;
  @Field(() => ID, { description: "The try's call (CALLBACK, answered by the agent)." }) callId!: string;
  @Field(() => String, { description: "A call token for the try's call: hangUp, sendChannelMessage and reportMediaSettings take it, as for a click." }) callToken!: string;
  @Field(() => MediaJoin, { description: "The try's media room and the shopper's join token (LiveKit: url, room, token; the simulator: nulls). Its join is recorded: joinMedia with the new token is refused." })
  media!: MediaJoin;
}
