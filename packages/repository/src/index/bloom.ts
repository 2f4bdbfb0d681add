/**
 * A Bloom filter over blob ids. Most lookups during a backup are misses (new blocks), and the filter answers them
 * without reading the disk. Ids are keyed HMACs, uniformly distributed, so their bytes serve as the hash values
 * (double hashing over two 32-bit words); no hashing is needed. 10 bits per id and 7 probes give about 1 % false
 * positives, which cost one page read each.
 */
export const BLOOM_BITS_PER_ID = 10;
const PROBES = 7;

export class BloomFilter {
  private readonly bits: Uint8Array;
  private readonly m: number;

  constructor(expected: number, bitsPerId = BLOOM_BITS_PER_ID) {
    this.m = Math.max(64, Math.ceil(expected * bitsPerId));
    this.bits = new Uint8Array(Math.ceil(this.m / 8));
  }

  get byteLength(): number {
    return this.bits.byteLength;
  }

  /** Adds the id of a record (32 bytes at `at` of buf). */
  add(buf: Uint8Array, at = 0): void {
    let h = word(buf, at + 16);
    const step = word(buf, at + 20) | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = h % this.m;
      this.bits[bit >>> 3]! |= 1 << (bit & 7);
      h = (h + step) >>> 0;
    }
  }

  mayHave(buf: Uint8Array, at = 0): boolean {
    let h = word(buf, at + 16);
    const step = word(buf, at + 20) | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = h % this.m;
      if ((this.bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
      h = (h + step) >>> 0;
    }
    return true;
  }
}

function word(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
