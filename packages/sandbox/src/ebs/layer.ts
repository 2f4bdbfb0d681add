import { createHash } from 'node:crypto';
import { existsSync, fstatSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { BLOCK_SIZE } from '../core/blocks.js';
import { writeBlock } from './blockio.js';
import type { FdCache } from './files.js';

/** SHA-256 of an all-zero block: such blocks take no space in data files and read as zeros. */
export const ZERO_HASH = createHash('sha256').update(Buffer.alloc(BLOCK_SIZE)).digest();
/** The slot of a block with no bytes stored (all zeros). */
export const NO_DATA = 0xffffffff;

/** One index record: block index (u32), slot (u32), SHA-256 (32), index ^ slot ^ MAGIC (u32, detects a torn tail). */
const RECORD = 44;
const MAGIC = 0x4c42424b;

/**
 * Blocks in index order with, side by side, each block's SHA-256 (32 bytes) and where its bytes are: the layer
 * that holds them (its number) and the slot in that layer's data file. 44 bytes per block.
 */
export interface SortedBlocks {
  readonly indexes: Uint32Array;
  readonly hashes: Buffer;
  readonly owners: Uint32Array;
  readonly slots: Uint32Array;
}

export const EMPTY: SortedBlocks = {
  indexes: new Uint32Array(0),
  hashes: Buffer.alloc(0),
  owners: new Uint32Array(0),
  slots: new Uint32Array(0),
};

/** First position whose index is >= `index`. */
export function lowerBound(s: SortedBlocks, index: number): number {
  let lo = 0;
  let hi = s.indexes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((s.indexes[mid] as number) < index) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function hashAt(s: SortedBlocks, pos: number): Buffer {
  return s.hashes.subarray(pos * 32, pos * 32 + 32);
}

/** The position of `index`, or -1 when the block was never written. */
export function positionOf(s: SortedBlocks, index: number): number {
  const pos = lowerBound(s, index);
  return s.indexes[pos] === index ? pos : -1;
}

export interface Entry {
  hash: Buffer;
  slot: number;
}

/**
 * The blocks written into one layer: a volume's writes since its last snapshot, or the blocks put into an EBS
 * direct snapshot. Bytes go to `<id>.dat` (appended, one 512 KiB slot per write), then a record to `<id>.idx`
 * (the last record of an index wins), so an index record never points at bytes not yet written. Once frozen (the
 * snapshot is taken or completed) a layer never changes again: a crash cannot corrupt a snapshot.
 */
export class Layer {
  private writes: Map<number, Entry> | undefined = new Map();
  private sorted: SortedBlocks = EMPTY;
  private nextSlot = 0;
  private indexBytes = 0; // where the next index record goes

  constructor(
    readonly id: string,
    readonly num: number,
    readonly parent: Layer | undefined,
    private readonly path: string, // without extension
    private readonly fds: FdCache,
  ) {}

  get dataFile(): string {
    return `${this.path}.dat`;
  }

  get indexFile(): string {
    return `${this.path}.idx`;
  }

  /** Replays the index; a torn tail (crash mid-append) is cut off. Bytes past the last record are skipped over. */
  load(): void {
    const idx = this.indexFile;
    const writes = this.writes ?? new Map<number, Entry>();
    let maxSlot = -1;
    if (existsSync(idx)) {
      const buf = readFileSync(idx);
      let good = 0;
      for (let off = 0; off + RECORD <= buf.length; off += RECORD) {
        const index = buf.readUInt32LE(off);
        const slot = buf.readUInt32LE(off + 4);
        if ((index ^ slot ^ MAGIC) >>> 0 !== buf.readUInt32LE(off + 40)) break;
        writes.set(index, { hash: Buffer.from(buf.subarray(off + 8, off + 40)), slot });
        if (slot !== NO_DATA) maxSlot = Math.max(maxSlot, slot);
        good = off + RECORD;
      }
      if (good !== buf.length) truncateSync(idx, good);
      this.indexBytes = good;
    }
    const size = existsSync(this.dataFile) ? fstatSync(this.fds.get(this.dataFile)).size : 0;
    this.nextSlot = Math.max(maxSlot + 1, Math.ceil(size / BLOCK_SIZE));
    this.writes = writes;
  }

  get mutable(): boolean {
    return this.writes !== undefined;
  }

  /** Slots used in the data file, live or not. */
  get dataSlots(): number {
    return this.nextSlot;
  }

  /** Data slots no longer referenced (blocks rewritten in this layer): worth compacting when many. */
  get wastedSlots(): number {
    let live = 0;
    for (const e of this.writes?.values() ?? []) if (e.slot !== NO_DATA) live++;
    return this.writes ? this.nextSlot - live : 0;
  }

  /** Live blocks with their hashes and slots, for copying into a compacted layer. */
  entries(): IterableIterator<[number, Entry]> {
    if (!this.writes) throw new Error(`layer ${this.id} is frozen`);
    return this.writes.entries();
  }

  /** Records a block (its verified SHA-256 given); returns the hash it replaced in this layer, if any. */
  write(index: number, hash: Buffer, data: Uint8Array): Buffer | undefined {
    if (!this.writes) throw new Error(`layer ${this.id} is frozen`);
    let slot = NO_DATA;
    if (!ZERO_HASH.equals(hash)) {
      slot = this.nextSlot++;
      writeBlock(this.fds, this.dataFile, data, slot * BLOCK_SIZE); // O_DIRECT when data is aligned memory
    }
    const rec = Buffer.allocUnsafe(RECORD);
    rec.writeUInt32LE(index, 0);
    rec.writeUInt32LE(slot, 4);
    rec.set(hash.subarray(0, 32), 8);
    rec.writeUInt32LE((index ^ slot ^ MAGIC) >>> 0, 40);
    // Positional write on a kept-open descriptor: an append without open/close per block.
    writeSync(this.fds.get(this.indexFile), rec, 0, RECORD, this.indexBytes);
    this.indexBytes += RECORD;
    const previous = this.writes.get(index)?.hash;
    this.writes.set(index, { hash: rec.subarray(8, 40), slot });
    return previous;
  }

  /** The layer's own blocks, ascending (computed on demand while mutable). */
  blocks(): SortedBlocks {
    return this.writes ? this.sortWrites(this.writes) : this.sorted;
  }

  freeze(): void {
    if (!this.writes) return;
    this.sorted = this.sortWrites(this.writes);
    this.writes = undefined;
    this.fds.close(this.indexFile); // never written again
  }

  /** The hash and slot of a block written in this layer (not its parents). */
  own(index: number): Entry | undefined {
    if (this.writes) return this.writes.get(index);
    const pos = positionOf(this.sorted, index);
    return pos < 0 ? undefined : { hash: hashAt(this.sorted, pos), slot: this.sorted.slots[pos] as number };
  }

  private sortWrites(m: Map<number, Entry>): SortedBlocks {
    const indexes = Uint32Array.from(m.keys()).sort();
    const hashes = Buffer.allocUnsafe(indexes.length * 32);
    const slots = new Uint32Array(indexes.length);
    indexes.forEach((index, pos) => {
      const e = m.get(index) as Entry;
      hashes.set(e.hash, pos * 32);
      slots[pos] = e.slot;
    });
    return { indexes, hashes, owners: new Uint32Array(indexes.length).fill(this.num), slots };
  }
}

/** Overlays `top` on `base`: the blocks of base, replaced or extended by those of top. Linear merge. */
export function overlay(base: SortedBlocks, top: SortedBlocks): SortedBlocks {
  const n = base.indexes.length;
  const m = top.indexes.length;
  if (m === 0) return base;
  if (n === 0) return top;
  const out = {
    indexes: new Uint32Array(n + m),
    hashes: Buffer.allocUnsafe((n + m) * 32),
    owners: new Uint32Array(n + m),
    slots: new Uint32Array(n + m),
  };
  let i = 0;
  let j = 0;
  let k = 0;
  const take = (from: SortedBlocks, pos: number) => {
    out.indexes[k] = from.indexes[pos] as number;
    from.hashes.copy(out.hashes, k * 32, pos * 32, pos * 32 + 32);
    out.owners[k] = from.owners[pos] as number;
    out.slots[k] = from.slots[pos] as number;
    k++;
  };
  while (i < n || j < m) {
    const a = i < n ? (base.indexes[i] as number) : Number.POSITIVE_INFINITY;
    const b = j < m ? (top.indexes[j] as number) : Number.POSITIVE_INFINITY;
    if (b <= a) {
      take(top, j++);
      if (a === b) i++;
    } else {
      take(base, i++);
    }
  }
  return {
    indexes: out.indexes.subarray(0, k),
    hashes: out.hashes.subarray(0, k * 32),
    owners: out.owners.subarray(0, k),
    slots: out.slots.subarray(0, k),
  };
}
