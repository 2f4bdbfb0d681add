/** The appliance's time. The system clock now; issue 16 adds a test clock that tests can move. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export const iso = (clock: Clock): string => clock.now().toISOString();
