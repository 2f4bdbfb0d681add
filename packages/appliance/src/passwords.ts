import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { ApplianceError } from './errors.js';

/**
 * Password hashes: scrypt N=2^15, r=8, p=1 (32 MiB and ~50-100 ms a hash here), stored self-describing as
 * `scrypt$N$r$p$salt$hash` so that the parameters can be raised later without breaking old hashes.
 *
 * Hashing runs on libuv's pool; a cap on how many run at once (one per core) and on how many may wait keeps a
 * flood of logins from exhausting CPU and memory: beyond the queue a login is refused as BUSY (429).
 */
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const MAX_MEMORY = 64 * 1024 * 1024;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

function derive(password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, length, { ...options, maxmem: MAX_MEMORY }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export class PasswordHasher {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency = 2,
    private readonly maxWaiting = 32,
  ) {}

  async hash(password: string): Promise<string> {
    checkPasswordPolicy(password);
    const salt = randomBytes(16);
    const key = await this.limited(() => derive(password, salt, { N, r: R, p: P }, KEY_LENGTH));
    return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /** false for a wrong password or a hash this code cannot read (never throws for those). */
  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, key] = stored.split('$');
    if (scheme !== 'scrypt' || !salt || !key) return false;
    const expected = Buffer.from(key, 'base64url');
    if (expected.length !== KEY_LENGTH) return false; // a truncated hash would otherwise match on its prefix
    const actual = await this.limited(() =>
      derive(
        password,
        Buffer.from(salt, 'base64url'),
        { N: Number(n), r: Number(r), p: Number(p) },
        expected.length,
      ),
    );
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new ApplianceError('BUSY', 'too many logins at once: try again in a few seconds', {
          retryAfterSeconds: 2,
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so that `running` never drops below what is in flight.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

export function checkPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new ApplianceError(
      'VALIDATION_FAILED',
      `the password is too short: use at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new ApplianceError(
      'VALIDATION_FAILED',
      `the password is too long: at most ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
}
