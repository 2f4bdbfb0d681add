import { sealBlob } from './blob.js';
import { checkpoint } from './crash.js';
import { type BlobType, indexKey, PACK_TARGET_SIZE, packKey } from './format.js';
import { encodeIndexFile, INDEX_FILE_MAX_ENTRIES, newIndexId } from './index/file.js';
import { MemoryBlobIndex } from './index/master.js';
import { type IndexEntry, PackBuilder } from './pack.js';
import type { Repository } from './repository.js';
import { append } from './util.js';

/** Packs stored before an index file names them; also bounds what an interrupted backup must redo. */
const PACKS_PER_INDEX = 16;
const UPLOADS_IN_FLIGHT = 2;

/**
 * Writes new blobs into packs and packs into the store, then index files naming them, in that order: an index
 * file never names a pack that is not stored, and a blob becomes visible to deduplication in the repository's
 * index only once an index file names it. Blobs of this writer that are not yet indexed are deduplicated
 * against `pending`.
 */
export class BlobWriter {
  private readonly packs: Partial<Record<BlobType, PackBuilder>> = {};
  private readonly pending = new MemoryBlobIndex();
  private readonly uploads = new Set<Promise<void>>();
  private stored: IndexEntry[] = [];
  private storedPacks = 0;
  private failure: unknown;
  /** Bytes of new sealed blobs accepted, and of packs stored, for statistics and cost accounting. */
  blobBytesAdded = 0;
  bytesStored = 0;
  packsStored = 0;

  /** `doomed`: packs that prune plans will delete; their blobs do not count as stored (see prune.ts). */
  constructor(
    private readonly repo: Repository,
    private readonly doomed: ReadonlySet<string> = new Set(),
  ) {}

  /** True when prune plans doom some packs: reused blobs must then be checked one by one. */
  get avoidsSomePacks(): boolean {
    return this.doomed.size > 0;
  }

  /** True when the blob exists in the repository (outside doomed packs) or was written by this writer. */
  async knows(id: Uint8Array): Promise<boolean> {
    if (this.pending.has(id)) return true;
    const entry = (await this.repo.loadIndex()).get(id);
    return entry !== undefined && !this.doomed.has(entry.packId);
  }

  async addSealed(
    type: BlobType,
    id: Buffer,
    sealed: readonly Uint8Array[],
    rawLength: number,
  ): Promise<void> {
    if (this.failure) throw this.failure;
    let pack = this.packs[type];
    if (!pack) {
      pack = new PackBuilder(type);
      this.packs[type] = pack;
    }
    const entry = pack.add(id, sealed, rawLength);
    this.pending.add(entry);
    this.blobBytesAdded += entry.length;
    if (pack.size >= PACK_TARGET_SIZE) await this.closePack(type);
  }

  /** Stores a tree node (sealed here, on the main thread: nodes are small) and returns its id. */
  async addTree(plain: Buffer): Promise<Buffer> {
    const id = this.repo.blobId(plain);
    if (!(await this.knows(id)))
      await this.addSealed('tree', id, sealBlob(this.repo.key, this.repo.codec, id, plain), plain.length);
    return id;
  }

  private async closePack(type: BlobType): Promise<void> {
    const pack = this.packs[type];
    if (!pack) return;
    delete this.packs[type];
    while (this.uploads.size >= UPLOADS_IN_FLIGHT) await Promise.race(this.uploads);
    if (this.failure) throw this.failure;
    const parts = pack.finish(this.repo.key);
    const upload = this.repo.store
      .put(packKey(type, pack.packId), parts)
      .then(async () => {
        await checkpoint(`backup:${type}-pack-stored`);
        this.bytesStored += pack.size;
        this.packsStored++;
        append(this.stored, pack.entries);
        this.storedPacks++;
      })
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.uploads.delete(upload);
      });
    this.uploads.add(upload);
    if (this.storedPacks >= PACKS_PER_INDEX || this.stored.length >= INDEX_FILE_MAX_ENTRIES)
      await this.writeIndex();
  }

  /** Index files for the stored packs, at most INDEX_FILE_MAX_ENTRIES entries each (packs of tiny blobs). */
  private async writeIndex(): Promise<void> {
    const all = this.stored;
    this.stored = [];
    this.storedPacks = 0;
    for (let i = 0; i < all.length; i += INDEX_FILE_MAX_ENTRIES)
      await this.writeIndexFile(all.slice(i, i + INDEX_FILE_MAX_ENTRIES));
  }

  private async writeIndexFile(entries: IndexEntry[]): Promise<void> {
    const id = newIndexId();
    await checkpoint('backup:before-index');
    await this.repo.store.put(
      indexKey(id),
      encodeIndexFile(this.repo.key, this.repo.codec, { id, supersedes: [], entries }),
    );
    await checkpoint('backup:after-index');
    this.repo.indexCommitted(entries, id);
    // Indexed now: the repository's (paged) index answers for them, so this writer's memory stays bounded by
    // what is not yet indexed (open packs, uploads in flight, at most PACKS_PER_INDEX packs).
    for (const e of entries) this.pending.delete(e.id);
  }

  /** Stores every open pack and the index files naming them: data packs before the tree packs that name them. */
  async flush(): Promise<void> {
    for (const type of ['data', 'tree'] as const) {
      await this.closePack(type);
      await Promise.all(this.uploads);
      if (this.failure) throw this.failure;
    }
    await this.writeIndex();
    this.repo.persistIndex();
  }

  /**
   * After a failure: waits for uploads in flight and indexes the packs that were stored, so that the next backup
   * deduplicates against them instead of uploading them again. Best effort: its own errors are ignored.
   */
  async salvage(): Promise<void> {
    await Promise.allSettled([...this.uploads]);
    await this.writeIndex().catch(() => {});
  }
}
