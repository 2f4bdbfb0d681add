import { checkpoint } from '../crash.js';
import { INDEX_PREFIX, indexKey } from '../format.js';
import type { IndexEntry } from '../pack.js';
import type { Repository } from '../repository.js';
import { append } from '../util.js';
import { decodeIndexFile, INDEX_FILE_MAX_ENTRIES, writeIndexFiles } from './file.js';

/**
 * Drops index entries: every index file holding an entry `drop` selects is superseded by new index files with its
 * other entries, written first (writeIndexFiles names the superseded files last), then the superseded files are
 * deleted. Used by prune (entries of doomed packs) and repair (broken locations). Returns whether anything changed.
 * Memory is bounded: kept entries are written out every INDEX_FILE_MAX_ENTRIES as files that supersede nothing
 * (their entries are also in the old files until the last file supersedes those: a blob indexed twice is valid);
 * an interruption leaves such duplicates, which cost index space, never data.
 */
export async function supersedeEntries(repo: Repository, drop: (e: IndexEntry) => boolean): Promise<boolean> {
  const superseded: string[] = [];
  let kept: IndexEntry[] = [];
  for await (const o of repo.store.list(INDEX_PREFIX)) {
    const id = o.key.slice(INDEX_PREFIX.length);
    const file = decodeIndexFile(repo.key, repo.codec, id, await repo.store.get(o.key));
    const keep = file.entries.filter((e) => !drop(e));
    if (keep.length === file.entries.length) continue;
    superseded.push(id);
    append(superseded, file.supersedes);
    append(kept, keep);
    if (kept.length >= INDEX_FILE_MAX_ENTRIES) {
      const full = kept.slice(0, INDEX_FILE_MAX_ENTRIES * Math.floor(kept.length / INDEX_FILE_MAX_ENTRIES));
      kept = kept.slice(full.length);
      await writeIndexFiles(repo.store, repo.key, repo.codec, full, []);
    }
  }
  if (superseded.length === 0) return false;
  await writeIndexFiles(repo.store, repo.key, repo.codec, kept, superseded);
  await checkpoint('prune:superseding-index-stored');
  for (const s of superseded) {
    await repo.store.delete(indexKey(s));
    await checkpoint('prune:superseded-index-deleted');
  }
  return true;
}
