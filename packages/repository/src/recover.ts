import { DATA_PREFIX, SESSIONS_PREFIX, TREE_PACK_PREFIX } from './format.js';
import { writeIndexFiles } from './index/file.js';
import { fetchPackTrailer, type IndexEntry } from './pack.js';
import type { Repository } from './repository.js';
import type { SessionRecord } from './sessions.js';
import { append } from './util.js';

/** Tolerated clock difference between the host that wrote a marker and the store's clock. */
const SKEW_MS = 5 * 60_000;

/**
 * A backup killed between storing a pack and storing the index file that names it leaves a pack no index file
 * names: invisible to deduplication, so the next run would upload it again. Its session marker stays behind
 * (until it expires and prune removes it), which tells where to look: packs written since that session started.
 * Each such pack is indexed from its own trailer (two ranged reads). A pack of a backup that is in fact still
 * running is indexed twice, which is harmless (the same blob at the same place).
 */
export async function indexOrphanPacks(repo: Repository, ownSession: string): Promise<number> {
  const { items } = await repo.listMeta<SessionRecord>(SESSIONS_PREFIX);
  const others = items.map((i) => i.value).filter((s) => s.id !== ownSession);
  if (others.length === 0) return 0;
  const since = Math.min(...others.map((s) => s.startedAt)) - SKEW_MS;
  const index = await repo.loadIndex();
  const found: IndexEntry[] = [];
  for (const prefix of [DATA_PREFIX, TREE_PACK_PREFIX]) {
    for await (const o of repo.store.list(prefix)) {
      if ((o.lastModified ?? 0) < since) continue;
      const packId = o.key.slice(o.key.lastIndexOf('/') + 1);
      let entries: IndexEntry[];
      try {
        entries = await fetchPackTrailer(repo.key, repo.store, o.key, packId, o.size);
      } catch {
        continue; // unreadable: check reports it if anything uses it, prune removes it otherwise
      }
      if (entries.some((e) => index.get(e.id)?.packId === packId)) continue; // indexed already
      append(found, entries);
    }
  }
  if (found.length === 0) return 0;
  await writeIndexFiles(repo.store, repo.key, repo.codec, found, []);
  repo.indexCommitted(found);
  return new Set(found.map((e) => e.packId)).size;
}
