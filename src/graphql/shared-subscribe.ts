import { createSourceEventStream, execute, print, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { GraphQLContext } from './context';

type Result = ExecutionResult | Promise<ExecutionResult>;

/**
 * graphql-ws `subscribe` that executes each event once per distinct operation instead of once per
 * subscriber. Ten thousand CRM screens subscribed to one merchant's `callEvents` all receive the
 * same object from the hub (src/app/event-hub.ts) for every event: the first of them executes the
 * selection set on it, and the others reuse the result (kept in a WeakMap on the event, so it goes
 * with the event). Results are shared only between subscribers of the same document, variables,
 * operation and API key, so a field that depends on who is asking (an AGENT key's center) is never
 * shared across principals. Subscribing itself (authorization, filters) stays per subscriber.
 */
export const sharedSubscribe = async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source;
  const principal = (args.contextValue as GraphQLContext | undefined)?.principal;
  const who = principal?.kind === 'key' ? principal.keyId : 'anonymous';
  const key = `${who}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${print(args.document)}`;
  const iterator = source[Symbol.asyncIterator]();
  const run = (payload: unknown): Result => {
    if (payload === null || typeof payload !== 'object') return execute({ ...args, rootValue: payload });
    let byOperation = results.get(payload);
    if (!byOperation) results.set(payload, (byOperation = new Map<string, Result>()));
    let r = byOperation.get(key);
    if (!r) byOperation.set(key, (r = execute({ ...args, rootValue: payload }) as Result));
    return r;
  };
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => mapped,
    next: async () => {
      const n = await iterator.next();
      if (n.done) return { value: undefined, done: true };
      return { value: await run(n.value), done: false };
    },
    return: async () => {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    throw: async (e: unknown) => {
      if (iterator.throw) await iterator.throw(e);
      throw e;
    },
  };
  return mapped;
};

/** Per event object, the result of each distinct operation: collected with the event. */
const results = new WeakMap<object, Map<string, Result>>();

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> => v !== null && typeof v === 'object' && Symbol.asyncIterator in (v);
