import { createCipheriv, createHash } from 'node:crypto';

/**
 * Deterministic bytes: AES-256-CTR over zeros, keyed by a seed string. Fast (GB/s, in OpenSSL) and the same on
 * every machine, so that the demo's files are identical from one seeding to the next.
 */
export function randomBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(length));
}

/** A small seeded generator for choices (sizes, words). xorshift32 over a hash of the seed. */
export class Rng {
  private s: number;
  constructor(seed: string) {
    this.s = createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 2 ** 32;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}
