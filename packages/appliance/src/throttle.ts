import { ApplianceError } from './errors.js';

/**
 * Failed logins are counted per (user, address) and per address in a sliding window; past the limit a login is
 * refused with 429 before any password is hashed, so guessing costs the guesser time, not the appliance CPU.
 * In memory: one appliance process serves the API, and a restart forgetting the counts is acceptable.
 */
export interface ThrottleLimits {
  perUserAndAddress: number;
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = {
  perUserAndAddress: 5,
  perAddress: 30,
  windowMs: 15 * 60_000,
};

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: ThrottleLimits = DEFAULT_THROTTLE) {}

  /** Throws TOO_MANY_ATTEMPTS when either counter is full. */
  check(user: string, address: string, now: number): void {
    const wait = Math.max(
      this.waitFor(`u:${user}\u0000${address}`, this.limits.perUserAndAddress, now),
      this.waitFor(`a:${address}`, this.limits.perAddress, now),
    );
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new ApplianceError(
        'TOO_MANY_ATTEMPTS',
        `too many failed logins from this address: try again in ${seconds} s`,
        { retryAfterSeconds: seconds },
      );
    }
  }

  fail(user: string, address: string, now: number): void {
    for (const key of [`u:${user}\u0000${address}`, `a:${address}`]) {
      const list = this.recent(key, now);
      list.push(now);
      this.failures.set(key, list);
    }
  }

  succeed(user: string, address: string): void {
    this.failures.delete(`u:${user}\u0000${address}`);
  }

  private waitFor(key: string, limit: number, now: number): number {
    const list = this.recent(key, now);
    if (list.length < limit) return 0;
    return list[list.length - limit]! + this.limits.windowMs - now;
  }

  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }
}
