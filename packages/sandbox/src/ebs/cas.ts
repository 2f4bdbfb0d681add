import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { BLOCK_SIZE } from '../core/blocks.js';

/** SHA-256 of an all-zero block: never stored, always read as zeros. */
export const ZERO_HASH = createHash('sha256').update(Buffer.alloc(BLOCK_SIZE)).digest();

/**
 * Content-addressed block files: `<dir>/<hh>/<sha256 hex>`, each exactly one 512 KiB block. A block is written to
 * a temp file and renamed into place, so a name always holds the bytes its hash says (kill -9 cannot leave a torn
 * block under a real name). Identical blocks are stored once, which makes full snapshot copies free.
 */
export class BlockStore {
  private readonly tmpDir: string;
  private tmpSeq = 0;

  constructor(private readonly dir: string) {
    this.tmpDir = join(dir, 'tmp');
    rmSync(this.tmpDir, { recursive: true, force: true }); // leftovers of writes cut short by a crash
    mkdirSync(this.tmpDir, { recursive: true });
    for (let i = 0; i < 256; i++) mkdirSync(join(dir, i.toString(16).padStart(2, '0')), { recursive: true });
  }

  private pathOf(hash: Uint8Array): string {
    const hex = Buffer.from(hash.buffer, hash.byteOffset, 32).toString('hex');
    return join(this.dir, hex.slice(0, 2), hex);
  }

  /** Stores a block under its (already verified) SHA-256. */
  put(hash: Uint8Array, data: Uint8Array): void {
    if (ZERO_HASH.equals(hash)) return;
    const path = this.pathOf(hash);
    if (existsSync(path)) return;
    const tmp = join(this.tmpDir, `${process.pid}-${this.tmpSeq++}`);
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  /** Fills `into` (BLOCK_SIZE bytes) with the block's content. */
  readInto(hash: Uint8Array, into: Buffer): void {
    if (ZERO_HASH.equals(hash)) {
      into.fill(0, 0, BLOCK_SIZE);
      return;
    }
    const fd = openSync(this.pathOf(hash), 'r');
    try {
      let done = 0;
      while (done < BLOCK_SIZE) {
        const n = readSync(fd, into, done, BLOCK_SIZE - done, done);
        if (n === 0) throw new Error(`block file ${this.pathOf(hash)} is short`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  }

  remove(hash: Uint8Array): void {
    try {
      unlinkSync(this.pathOf(hash));
    } catch {
      // already gone
    }
  }

  /** Every stored hash (hex), for the start-up sweep of blocks no layer references. */
  *allHex(): Generator<string> {
    for (let i = 0; i < 256; i++) {
      yield* readdirSync(join(this.dir, i.toString(16).padStart(2, '0')));
    }
  }

  removeHex(hex: string): void {
    this.remove(Buffer.from(hex, 'hex'));
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}
