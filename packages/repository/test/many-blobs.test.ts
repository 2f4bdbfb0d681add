import { afterAll, describe, expect, it } from 'vitest';
import { sealBlob } from '../src/blob.js';
import { INDEX_PREFIX } from '../src/format.js';
import { decodeIndexFile, INDEX_FILE_MAX_ENTRIES } from '../src/index/file.js';
import { supersedeEntries } from '../src/index/rewrite.js';
import { Repository } from '../src/repository.js';
import { LocalStore } from '../src/store/local.js';
import { append } from '../src/util.js';
import { BlobWriter } from '../src/writer.js';
import { newRepo, tempDir } from './helpers.js';

/**
 * Packs of tiny blobs (a disk of near-empty blocks compresses each to ~60 bytes: half a million fit in one
 * 32 MiB pack) must neither overflow the stack nor make index files or memory grow without bound.
 */
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('many tiny blobs', () => {
  it('append takes more items than fit in one call', () => {
    const target = [1];
    append(target, new Array<number>(300_000).fill(2));
    expect(target.length).toBe(300_001);
  });

  it('one pack of 150,000 blobs is indexed in files of at most 65,536 entries; prune-style rewrites stay bounded', async () => {
    const repo = await newRepo(tmp.path);
    const writer = new BlobWriter(repo);
    const n = 150_000;
    const ids: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const plain = Buffer.from(`tiny blob ${i}`);
      const id = repo.blobId(plain);
      ids.push(id);
      await writer.addSealed('data', id, sealBlob(repo.key, repo.codec, id, plain), plain.length);
    }
    await writer.flush();
    expect(writer.packsStored).toBe(1);
    const store = repo.store;
    const files = async () => {
      const out = [];
      for await (const o of store.list(INDEX_PREFIX)) {
        const id = o.key.slice(INDEX_PREFIX.length);
        out.push(decodeIndexFile(repo.key, repo.codec, id, await store.get(o.key)));
      }
      return out;
    };
    const before = await files();
    expect(before.map((f) => f.entries.length).sort((a, b) => a - b)).toEqual([
      n - 2 * INDEX_FILE_MAX_ENTRIES,
      INDEX_FILE_MAX_ENTRIES,
      INDEX_FILE_MAX_ENTRIES,
    ]);
    // another process sees every blob
    const other = await Repository.open(new LocalStore(store.location), 'test password');
    const index = await other.loadIndex();
    expect(ids.every((id) => index.has(id))).toBe(true);
    // drop every tenth blob: the rest is rewritten in bounded files, the old files go
    const dropped = new Set(ids.filter((_, i) => i % 10 === 0).map((id) => id.toString('hex')));
    expect(await supersedeEntries(repo, (e) => dropped.has(e.id.toString('hex')))).toBe(true);
    const after = await files();
    expect(after.every((f) => f.entries.length <= INDEX_FILE_MAX_ENTRIES)).toBe(true);
    expect(after.some((f) => before.some((b) => b.id === f.id))).toBe(false);
    const live = new Set(after.flatMap((f) => f.entries.map((e) => e.id.toString('hex'))));
    expect(live.size).toBe(n - dropped.size);
    expect([...dropped].some((id) => live.has(id))).toBe(false);
  });
});
