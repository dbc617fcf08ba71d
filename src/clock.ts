/** Time is passed in, never read from a global, so tests can freeze it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that stays where it is put; for tests and simulations. */
export function fixedClock(at: Date | string | number): Clock & { set(at: Date | string | number): void } {
  let current = new Date(at);
  return {
    now: () => new Date(current.getTime()),
    set: (next) => {
      current = new Date(next);
    },
  };
}
