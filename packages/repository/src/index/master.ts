import { INDEX_PREFIX } from '../format.js';
import type { IndexEntry } from '../pack.js';
import { mapLimit } from '../util.js';
import type { IndexCacheSource } from './cache.js';
import { decodeIndexFile } from './file.js';

/**
 * Where each blob is, for every index file of the repository: what backup, restore and check use. Two
 * implementations: PagedBlobIndex (index/paged.ts, the default: runs on local disk, ~1.4 bytes of RAM per blob)
 * and MemoryBlobIndex (everything in a Map, about 120 bytes per blob: 2 million blobs = 1 TiB of unique data =
 * 250+ MiB; kept for the blob writer's pending blobs, check, and LIFEBOAT_INDEX=memory).
 */
export interface BlobIndex {
  /** Synchronous: a paged index reads at most a page or two. */
  get(id: Uint8Array): IndexEntry | undefined;
  has(id: Uint8Array): boolean;
  /** An entry for this process only (no index file named). */
  add(entry: IndexEntry): void;
  /** Entries of an index file just stored; with its id, a paged index keeps them in its cache. */
  commit?(entries: readonly IndexEntry[], indexId?: string): void;
  /** Writes what commit() kept in memory to the cache, so that the next process need not read those files. */
  flush?(): void;
  readonly size: number;
  /** Streams every entry (a paged index: in id order, each blob once). */
  entries(): IterableIterator<IndexEntry>;
  /** Releases files; the index must not be used afterwards. */
  close?(): void;
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

  delete(id: Uint8Array): void {
    this.map.delete(MemoryBlobIndex.key(id));
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<IndexEntry> {
    return this.map.values();
  }
}

/** v1 behaviour: every index file read into a MemoryBlobIndex; superseded index files are skipped. */
export async function loadMemoryIndex(src: IndexCacheSource): Promise<MemoryBlobIndex> {
  const index = new MemoryBlobIndex();
  const ids: string[] = [];
  for await (const o of src.store.list(INDEX_PREFIX)) ids.push(o.key.slice(INDEX_PREFIX.length));
  const files = await mapLimit(ids, 8, async (id) =>
    decodeIndexFile(src.key, src.codec, id, await src.store.get(`${INDEX_PREFIX}${id}`)),
  );
  const superseded = new Set(files.flatMap((f) => f.supersedes));
  for (const f of files) if (!superseded.has(f.id)) for (const e of f.entries) index.add(e);
  return index;
}
