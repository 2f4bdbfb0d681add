import { appendFileSync, existsSync, readFileSync, truncateSync, unlinkSync } from 'node:fs';

/** One index record: block index (u32), index ^ MAGIC (u32, detects a torn or zeroed tail), SHA-256 (32). */
const RECORD = 40;
const MAGIC = 0x4c42424b;

/** Sorted block indexes with their SHA-256s side by side: 36 bytes per block. */
export interface SortedBlocks {
  readonly indexes: Uint32Array;
  readonly hashes: Buffer; // 32 bytes per entry, same order
}

export const EMPTY: SortedBlocks = { indexes: new Uint32Array(0), hashes: Buffer.alloc(0) };

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

export function find(s: SortedBlocks, index: number): Buffer | undefined {
  const pos = lowerBound(s, index);
  return s.indexes[pos] === index ? hashAt(s, pos) : undefined;
}

/**
 * The blocks written into one layer: a volume's writes since its last snapshot, or the blocks put into an EBS
 * direct snapshot. Mutable layers append each write to `<id>.idx` (last record of an index wins); once frozen
 * (the snapshot is taken or completed) a layer never changes again, so a crash cannot corrupt a snapshot.
 */
export class Layer {
  private writes: Map<number, Buffer> | undefined = new Map();
  private sorted: SortedBlocks = EMPTY;

  constructor(
    readonly id: string,
    readonly parent: Layer | undefined,
    private readonly file: string,
  ) {}

  /** Replays the index file; a torn tail (crash mid-append) is cut off. */
  load(): void {
    if (!existsSync(this.file)) return;
    const buf = readFileSync(this.file);
    const writes = this.writes ?? new Map<number, Buffer>();
    let good = 0;
    for (let off = 0; off + RECORD <= buf.length; off += RECORD) {
      const index = buf.readUInt32LE(off);
      if ((buf.readUInt32LE(off + 4) ^ MAGIC) >>> 0 !== index) break;
      writes.set(index, Buffer.from(buf.subarray(off + 8, off + RECORD)));
      good = off + RECORD;
    }
    if (good !== buf.length) truncateSync(this.file, good);
    this.writes = writes;
  }

  get mutable(): boolean {
    return this.writes !== undefined;
  }

  get size(): number {
    return this.writes ? this.writes.size : this.sorted.indexes.length;
  }

  get(index: number): Buffer | undefined {
    return this.writes ? this.writes.get(index) : find(this.sorted, index);
  }

  /** Records a write; returns the hash it replaced in this layer, if any. */
  set(index: number, hash: Uint8Array): Buffer | undefined {
    if (!this.writes) throw new Error(`layer ${this.id} is frozen`);
    const previous = this.writes.get(index);
    const rec = Buffer.allocUnsafe(RECORD);
    rec.writeUInt32LE(index, 0);
    rec.writeUInt32LE((index ^ MAGIC) >>> 0, 4);
    rec.set(hash.subarray(0, 32), 8);
    appendFileSync(this.file, rec);
    this.writes.set(index, rec.subarray(8));
    return previous;
  }

  /** The layer's own blocks, ascending (computed on demand while mutable). */
  blocks(): SortedBlocks {
    return this.writes ? sortMap(this.writes) : this.sorted;
  }

  freeze(): void {
    if (!this.writes) return;
    this.sorted = sortMap(this.writes);
    this.writes = undefined;
  }

  deleteFile(): void {
    if (existsSync(this.file)) unlinkSync(this.file);
  }
}

function sortMap(m: Map<number, Buffer>): SortedBlocks {
  const indexes = Uint32Array.from(m.keys()).sort();
  const hashes = Buffer.allocUnsafe(indexes.length * 32);
  indexes.forEach((index, pos) => hashes.set(m.get(index) as Buffer, pos * 32));
  return { indexes, hashes };
}

/** Overlays `top` on `base`: the blocks of base, replaced or extended by those of top. Linear merge. */
export function overlay(base: SortedBlocks, top: SortedBlocks): SortedBlocks {
  const n = base.indexes.length;
  const m = top.indexes.length;
  if (m === 0) return base;
  if (n === 0) return top;
  const indexes = new Uint32Array(n + m);
  const hashes = Buffer.allocUnsafe((n + m) * 32);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < n || j < m) {
    const a = i < n ? (base.indexes[i] as number) : Number.POSITIVE_INFINITY;
    const b = j < m ? (top.indexes[j] as number) : Number.POSITIVE_INFINITY;
    if (b <= a) {
      indexes[k] = b;
      top.hashes.copy(hashes, k * 32, j * 32, j * 32 + 32);
      j++;
      if (a === b) i++;
    } else {
      indexes[k] = a;
      base.hashes.copy(hashes, k * 32, i * 32, i * 32 + 32);
      i++;
    }
    k++;
  }
  return { indexes: indexes.subarray(0, k), hashes: hashes.subarray(0, k * 32) };
}
