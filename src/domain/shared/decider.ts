/**
 * The decider pattern (fmodel / Emmett vocabulary): a stream's behaviour is two pure functions.
 * `decide` turns a command and the current state into new events (or throws a DomainError);
 * `evolve` folds one event into the state and never throws.
 */
export interface Decider<State, Command, Event> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
  /** True when no command can produce events any more (e.g. a terminated call). */
  isTerminal?(state: State): boolean;
}

/** A domain event as the domain sees it: a type and its data. The store adds the envelope. */
export interface DomainEvent<T extends string = string, D = unknown> {
  type: T;
  data: D;
}

/** Fold a list of events into a state. */
export const fold = <S, E>(evolve: (s: S, e: E) => S, initial: S, events: Iterable<E>): S => {
  let state = initial;
  for (const e of events) state = evolve(state, e);
  return state;
};

/** Exhaustiveness guard: a new union member that is not handled is a compile error. */
export const unreachable = (value: never): never => {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
};
