/** Time, injected at the composition root; the domain never reads a clock. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
