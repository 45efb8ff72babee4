import assert from 'node:assert/strict';
import type { Decider } from './decider';
import { fold } from './decider';
import { DomainError, type DomainErrorCode } from './errors';

/**
 * Given/when/then for deciders (Emmett's `DeciderSpecification` in a dozen lines):
 *
 *   const given = specFor(callDecider);
 *   given([downloaded]).when(initiate).then([initiated]);
 *   given([]).when(ring).thenThrows('NOT_FOUND');   // or .then({ error: 'NOT_FOUND' })
 *
 * `then` compares the decided events exactly; `thenThrows` checks the DomainError code and,
 * optionally, that the message matches; `{ error, reason }` checks the stable reason beside the code
 * (`details.reason`, e.g. QUEUE_FULL) too. Test support only: it imports node:assert.
 */
export interface Then<E> {
  /** Exact events, a check on them, or `{ error: code }` for a refusal (same as thenThrows), with its `reason` if given. */
  then(expected: E[] | ((events: E[]) => void) | { error: DomainErrorCode; message?: RegExp; reason?: string }): void;
  thenThrows(code: DomainErrorCode, message?: RegExp, reason?: string): void;
}

export const specFor =
  <S, C, E>(decider: Decider<S, C, E>) =>
  (history: E[]) => ({
    when(command: C): Then<E> {
      const state = fold(decider.evolve, decider.initialState, history);
      const run = () => decider.decide(command, state);
      return {
        then(expected) {
          if (!Array.isArray(expected) && typeof expected === 'object') return this.thenThrows(expected.error, expected.message, expected.reason);
          const events = run();
          if (typeof expected === 'function') expected(events);
          else assert.deepStrictEqual(events, expected);
        },
        thenThrows(code, message, reason) {
          let caught: unknown = null;
          try {
            const events = run();
            assert.fail(`expected DomainError ${code}, got events ${JSON.stringify(events)}`);
          } catch (e) {
            caught = e;
          }
          if (!(caught instanceof DomainError)) throw caught;
          assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
          if (message) assert.match(caught.message, message);
          if (reason !== undefined) assert.equal(caught.details.reason, reason, `expected reason ${reason}: ${caught.message}`);
        },
      };
    },
  });

/** The state a history folds to (for assertions on evolve). */
export const stateAfter = <S, C, E>(decider: Decider<S, C, E>, history: E[]): S =>
  fold(decider.evolve, decider.initialState, history);
