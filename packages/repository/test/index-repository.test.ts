import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupImage } from '../src/backup.js';
import { CHUNK_SIZE, INDEX_PREFIX } from '../src/format.js';
import { defaultCacheRoot } from '../src/index/cache.js';
import { Repository } from '../src/repository.js';
import { restoreDisk } from '../src/restore.js';
import { LocalStore } from '../src/store/local.js';
import { buildImage, sha, TEST_KDF, tempDir } from './helpers.js';

const tmp = tempDir('lb-index-repo-');
afterAll(tmp.cleanup);
const p = (...parts: string[]) => join(tmp.path, ...parts);

describe('the repository with its paged index', () => {
  it('backs up, reopens from the cache and restores byte-identical; the in-memory index agrees', async () => {
    const cacheDir = p('cache');
    const repo = await Repository.init(new LocalStore(p('repo')), 'pw', {
      kdfCost: TEST_KDF,
      cacheDir,
      index: 'paged',
    });
    const img = buildImage(p('a.img'), {
      sizeBytes: 16 * CHUNK_SIZE,
      blocks: { 0: 'random', 2: 'text', 5: 'random', 9: 'copy:0', 15: 'random' },
    });
    const m = await backupImage(repo, {
      disks: [{ name: 'root', path: p('a.img') }],
      resource: { id: 'a', kind: 'image' },
    });
    const runs = readdirSync(join(cacheDir, repo.id, 'index'));
    expect(runs.every((f) => f.endsWith('.run'))).toBe(true);
    const again = await Repository.open(new LocalStore(p('repo')), 'pw', { cacheDir, index: 'paged' });
    const index = await again.loadIndex();
    expect(index.size).toBe(4 + 1); // 4 distinct chunks, 1 leaf
    await restoreDisk(again, m, 'root', p('a.out'), { workers: 1 });
    expect(sha(readFileSync(p('a.out')))).toBe(sha(img));
    // a second backup deduplicates against the cached index
    const second = await backupImage(again, {
      disks: [{ name: 'root', path: p('a.img') }],
      resource: { id: 'a', kind: 'image' },
    });
    expect(second.disks[0]!.stats.newChunks).toBe(0);
    const memory = await Repository.open(new LocalStore(p('repo')), 'pw', { index: 'memory' });
    const mem = await memory.loadIndex();
    for (const e of index.entries()) expect(mem.get(e.id)).toEqual(e);
    expect(mem.size).toBe(index.size);
    index.close?.();
  });

  it('keeps the entries of the index files a backup wrote in the cache: the next open reads none of them', async () => {
    const cacheDir = p('cache2');
    const reads: string[] = [];
    class CountingStore extends LocalStore {
      override get(key: string): Promise<Buffer> {
        reads.push(key);
        return super.get(key);
      }
    }
    const repo = await Repository.init(new CountingStore(p('repo2')), 'pw', {
      kdfCost: TEST_KDF,
      cacheDir,
      index: 'paged',
    });
    buildImage(p('b.img'), { sizeBytes: 8 * CHUNK_SIZE, blocks: { 0: 'random', 3: 'text', 7: 'random' } });
    await backupImage(repo, {
      disks: [{ name: 'root', path: p('b.img') }],
      resource: { id: 'b', kind: 'image' },
    });
    const again = await Repository.open(new CountingStore(p('repo2')), 'pw', { cacheDir, index: 'paged' });
    reads.length = 0;
    const index = await again.loadIndex();
    expect(reads.filter((k) => k.startsWith(INDEX_PREFIX))).toEqual([]);
    expect(index.size).toBe(3 + 1); // 3 chunks, 1 leaf
    index.close?.();
  });

  it('finds its cache folder from the environment', () => {
    expect(defaultCacheRoot({ LIFEBOAT_CACHE: '/x' })).toBe('/x');
    expect(defaultCacheRoot({ XDG_CACHE_HOME: '/y' })).toBe('/y/lifeboat');
    expect(defaultCacheRoot({})).toMatch(/\.cache\/lifeboat$/);
  });
});
