import type { IndexEntry } from '../pack.js';

/**
 * Where each blob is, for every index file of the repository. In memory in v1 of the code (about 120 bytes per
 * blob: 2 million blobs = 1 TiB of unique data); the interface is what backup, restore and check use, so that a
 * paged on-disk index can replace it without touching them.
 */
export interface BlobIndex {
  get(id: Uint8Array): IndexEntry | undefined;
  has(id: Uint8Array): boolean;
  add(entry: IndexEntry): void;
  readonly size: number;
  entries(): IterableIterator<IndexEntry>;
}

export class MemoryBlobIndex implements BlobIndex {
  private readonly map = new Map<string, IndexEntry>();

  private static key(id: Uint8Array): string {
    return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1');
  }

  get(id: Uint8Array): IndexEntry | undefined {
    return this.map.get(MemoryBlobIndex.key(id));
  }

  has(id: Uint8Array): boolean {
    return this.map.has(MemoryBlobIndex.key(id));
  }

  /** The first place a blob was indexed wins: duplicates from concurrent writers are harmless. */
  add(entry: IndexEntry): void {
    const k = MemoryBlobIndex.key(entry.id);
    if (!this.map.has(k)) this.map.set(k, entry);
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<IndexEntry> {
    return this.map.values();
  }
}
