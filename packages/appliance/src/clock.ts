/** The appliance's time: the system clock, or in test mode a TestClock that tests move forward. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export const iso = (clock: Clock): string => clock.now().toISOString();

/**
 * The clock of `lifeboat server --test-mode`: real time plus an offset that tests move forward (`advance`), so
 * that schedules, timeouts and retention can be tested without waiting. Never used outside test mode.
 */
export class TestClock implements Clock {
  private offsetMs = 0;
  private readonly listeners = new Set<() => void>();

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** Moves time forward by `ms` (>= 0); wakes every sleep on this clock that is now due. */
  advance(ms: number): Date {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`cannot move the clock by ${ms} ms`);
    this.offsetMs += ms;
    for (const listener of [...this.listeners]) listener();
    return this.now();
  }

  /** Told after every advance; returns the unsubscribe. */
  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Waits `ms` on `clock`: real time, cut short when a test clock moves past the end. Rejects with the signal's
 * reason when it aborts (at once if it has).
 */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const until = clock.now().getTime() + ms;
    const timer = setTimeout(done, Math.max(0, ms));
    const unsubscribe =
      clock instanceof TestClock
        ? clock.onAdvance(() => clock.now().getTime() >= until && done())
        : undefined;
    function cleanup() {
      clearTimeout(timer);
      unsubscribe?.();
      signal?.removeEventListener('abort', aborted);
    }
    function done() {
      cleanup();
      resolve();
    }
    function aborted() {
      cleanup();
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
