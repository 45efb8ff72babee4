/**
 * A left fold over a stream's events: the part of a decider (or of a view) that builds state.
 * `name` identifies the fold, with the version of its state's shape, wherever folded states are
 * kept (the command handler's cache, snapshots): change what `evolve` builds, bump the version.
 */
export interface Fold<State, Event> {
  readonly name: string;
  evolve(state: State, event: Event): State;
  readonly initialState: State;
}

/**
 * The decider pattern (fmodel / Emmett vocabulary): a stream's behaviour is two pure functions.
 * `decide` turns a command and the current state into new events (or throws a DomainError);
 * `evolve` folds one event into the state and never throws.
 */
export interface Decider<State, Command, Event> extends Fold<State, Event> {
  decide(command: Command, state: State): Event[];
  /** True when no command can produce events any more (e.g. a terminated call). */
  isTerminal?(state: State): boolean;
  /**
   * The merchant the stream belongs to, as the state knows it (null: not yet, or nobody's): the
   * command handler writes it into the events' envelopes, so no caller has to look it up first.
   */
  merchantOf?(state: State): string | null;
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
