import { randomBytes } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { indexKey } from '../src/format.js';
import { openPagedIndex } from '../src/index/cache.js';
import { decodeIndexFile, encodeIndexFile } from '../src/index/file.js';
import { decodeIndexRecords, RECORD, readEntry } from '../src/index/records.js';
import type { IndexEntry } from '../src/pack.js';
import { tempDir } from './helpers.js';
import { fakeEntries, IndexFixture } from './index-helpers.js';

const tmp = tempDir('lb-index-');
afterAll(tmp.cleanup);
let n = 0;
const fixture = () => new IndexFixture(join(tmp.path, `f${n++}`));
const runs = (f: IndexFixture) => readdirSync(f.cache).filter((x) => x.endsWith('.run'));
/** Cheap (vitest's expect per entry would cost seconds at 100k entries); types are all data in index files here. */
const same = (a: IndexEntry | undefined, b: IndexEntry) => {
  const ok =
    a?.id.equals(b.id) &&
    a.packId === b.packId &&
    a.offset === b.offset &&
    a.length === b.length &&
    a.rawLength === b.rawLength;
  if (!ok) expect(a).toEqual(b);
};

describe('index records', () => {
  it('decode exactly as decodeIndexFile does', () => {
    const f = fixture();
    const entries = fakeEntries(1000, 5).map((e) => ({ ...e, type: 'tree' as const }));
    const sealed = encodeIndexFile(f.key, f.codec, {
      id: 'a'.repeat(32),
      supersedes: ['b'.repeat(32)],
      entries,
    });
    const file = decodeIndexFile(f.key, f.codec, 'a'.repeat(32), sealed);
    const recs = decodeIndexRecords(f.key, f.codec, 'a'.repeat(32), sealed);
    expect(recs.supersedes).toEqual(file.supersedes);
    expect(recs.count).toBe(1000);
    const buf = recs.slice(0, 1000);
    expect(file.entries.map((_, i) => readEntry(buf, i * RECORD))).toEqual(file.entries);
    expect(() => decodeIndexRecords(f.key, f.codec, 'c'.repeat(32), sealed)).toThrow(/failed authentication/);
  });
});

describe('the paged index', () => {
  it('finds 120k entries over several runs and merges, streams them in id order, misses absent ids', async () => {
    const f = fixture();
    const all: IndexEntry[] = [];
    for (let i = 0; i < 30; i++) {
      const e = fakeEntries(4000);
      await f.write(e);
      all.push(...e);
    }
    const index = await f.open({ buildLimit: 10_000, limits: { maxRuns: 4 } });
    expect(f.store.gets).toBe(30);
    expect(index.runCount).toBeLessThanOrEqual(4);
    expect(index.size).toBe(120_000);
    for (const e of all) same(index.get(e.id), e);
    let found = 0;
    for (let i = 0; i < 20_000; i++) if (index.has(randomBytes(32))) found++;
    expect(found).toBe(0);
    let count = 0;
    let unordered = 0;
    let prev = Buffer.alloc(32);
    for (const e of index.entries()) {
      if (Buffer.compare(prev, e.id) >= 0) unordered++;
      prev = e.id;
      count++;
    }
    expect([count, unordered]).toEqual([120_000, 0]);
    expect(index.memoryBytes).toBeLessThan(120_000 * 2);
    index.close();
    // Reopened: nothing read from the store, same answers.
    const again = await f.open({ limits: { maxRuns: 4 } });
    expect(f.store.gets).toBe(0);
    for (const e of all.slice(0, 5000)) same(again.get(e.id), e);
    again.close();
  });

  it('follows the store: new index files are read, deleted and superseded ones stop counting', async () => {
    const f = fixture();
    const a = fakeEntries(500);
    const b = fakeEntries(500);
    const idA = await f.write(a);
    const idB = await f.write(b);
    (await f.open()).close();
    const c = fakeEntries(300);
    await f.write(c);
    const index = await f.open();
    expect(f.store.gets).toBe(1); // only the new one
    for (const e of [...a, ...b, ...c]) same(index.get(e.id), e);
    index.close();
    await f.store.delete(indexKey(idB));
    const afterDelete = await f.open();
    expect(f.store.gets).toBe(0);
    expect(afterDelete.get(b[0]!.id)).toBeUndefined();
    same(afterDelete.get(a[0]!.id), a[0]!);
    expect(afterDelete.size).toBe(800);
    afterDelete.close();
    // A compaction keeps half of A under a new index file that supersedes A (A is still listed).
    await f.write(a.slice(0, 250), [idA]);
    const compacted = await f.open();
    same(compacted.get(a[0]!.id), a[0]!);
    expect(compacted.get(a[400]!.id)).toBeUndefined();
    expect(compacted.size).toBe(550);
    expect([...compacted.entries()].length).toBe(550);
    compacted.close();
  });

  it('rebuilds what is damaged or foreign, and cleans up what a crash left', async () => {
    const f = fixture();
    const e1 = fakeEntries(3000);
    const e2 = fakeEntries(3000);
    await f.write(e1);
    await f.write(e2);
    (await f.open({ buildLimit: 2000 })).close();
    expect(runs(f)).toHaveLength(2);
    // a flipped bit in the records of one run: that run is dropped and its index file read again
    const victim = join(f.cache, runs(f)[0]!);
    const bytes = readFileSync(victim);
    bytes[RECORD * 10 + 40]! ^= 1;
    writeFileSync(victim, bytes);
    writeFileSync(join(f.cache, 'garbage.run'), 'not a run');
    writeFileSync(join(f.cache, 'x.run.tmp-999999999'), 'left by a dead process');
    const index = await f.open({ buildLimit: 2000 });
    expect(f.store.gets).toBe(1);
    for (const e of [...e1, ...e2]) same(index.get(e.id), e);
    expect(runs(f)).toHaveLength(2);
    expect(readdirSync(f.cache).some((x) => x.includes('tmp') || x.startsWith('garbage'))).toBe(false);
    index.close();
    // a truncated run
    const t = join(f.cache, runs(f)[1]!);
    writeFileSync(t, readFileSync(t).subarray(0, 1000));
    const again = await f.open({ buildLimit: 2000 });
    expect(f.store.gets).toBe(1);
    for (const e of [...e1, ...e2]) same(again.get(e.id), e);
    again.close();
    // the cache of another repository under the same folder is not used
    f.store.gets = 0;
    const foreign = await openPagedIndex({ ...f.src, repository: 'f'.repeat(32) }, f.cache);
    expect(foreign.size).toBe(6000);
    expect(f.store.gets).toBe(2);
    foreign.close();
  });

  it('drops the inputs of a merge that completed before a crash; files are private', async () => {
    const f = fixture();
    for (let i = 0; i < 3; i++) await f.write(fakeEntries(100));
    (await f.open({ buildLimit: 100 })).close();
    const before = runs(f);
    expect(before).toHaveLength(3);
    const saved = join(f.dir, 'saved.run');
    copyFileSync(join(f.cache, before[0]!), saved);
    (await f.open({ limits: { maxRuns: 1 } })).close(); // merges all three into one
    expect(runs(f)).toHaveLength(1);
    copyFileSync(saved, join(f.cache, before[0]!)); // as if the crash came before its deletion
    const index = await f.open({ limits: { maxRuns: 1 } });
    expect(f.store.gets).toBe(0);
    expect(index.size).toBe(300);
    expect(runs(f)).toHaveLength(1);
    index.close();
    expect(statSync(f.cache).mode & 0o777).toBe(0o700);
    expect(statSync(join(f.cache, runs(f)[0]!)).mode & 0o777).toBe(0o600);
  });

  it('sorts an index file larger than the build buffer in slices into one run', async () => {
    const f = fixture();
    const big = fakeEntries(3500);
    const small = fakeEntries(300);
    await f.write(big);
    await f.write(small);
    const index = await f.open({ buildLimit: 1000 });
    expect(runs(f)).toHaveLength(2); // the big file whole in one run, the small one in another
    for (const e of [...big, ...small]) same(index.get(e.id), e);
    index.close();
    const again = await f.open({ buildLimit: 1000 });
    expect(f.store.gets).toBe(0);
    expect(again.size).toBe(3800);
    again.close();
  });

  it('answers right through Bloom false positives and ids sharing their first bytes across pages', async () => {
    const f = fixture();
    const entries = fakeEntries(2000);
    // 200 ids with one 8-byte prefix: they straddle many 4-record pages
    for (let i = 0; i < 200; i++) Buffer.from('samepref').copy(entries[i]!.id);
    await f.write(entries);
    const index = await f.open({ tuning: { pageRecords: 4, bloomBitsPerId: 0.05 } });
    for (const e of entries) same(index.get(e.id), e);
    for (let i = 0; i < 2000; i++) {
      const id = randomBytes(32);
      if (i < 100) Buffer.from('samepref').copy(id);
      expect(index.get(id)).toBeUndefined();
    }
    index.close();
  });

  it('keeps committed entries, flushes them to runs, persists those of index files only', async () => {
    const f = fixture();
    const base = fakeEntries(1000);
    await f.write(base);
    const index = await f.open({ limits: { memtableLimit: 1000, maxRuns: 2 } });
    const session = fakeEntries(10);
    for (const e of session) index.add(e);
    const committed: IndexEntry[] = [];
    const iterator = index.entries();
    iterator.next(); // an iteration in progress survives flushes and merges
    for (let i = 0; i < 5; i++) {
      const e = fakeEntries(700);
      const id = await f.write(e);
      index.commit(e, id);
      committed.push(...e);
    }
    expect(index.runCount).toBeLessThanOrEqual(2);
    for (const e of [...base, ...session, ...committed]) same(index.get(e.id), e);
    expect([...iterator].length).toBe(1000 + 10 - 1); // its snapshot: the runs and table of its first step
    expect([...index.entries()].length).toBe(1000 + 10 + 3500);
    index.close();
    const reopened = await f.open();
    expect(f.store.gets).toBe(1); // the one still in memory at close; the flushed ones are cached
    expect(reopened.get(session[0]!.id)).toBeUndefined(); // no index file names it
    for (const e of [...base, ...committed]) same(reopened.get(e.id), e);
    reopened.close();
  });

  it('reports damaged index files in tolerant mode and fails clearly otherwise', async () => {
    const f = fixture();
    const good = fakeEntries(100);
    await f.write(good);
    const bad = await f.write(fakeEntries(100));
    const path = join(f.dir, 'repo', 'meta', 'index', bad);
    const bytes = readFileSync(path);
    bytes[20]! ^= 1;
    writeFileSync(path, bytes);
    await expect(f.open()).rejects.toMatchObject({ code: 'REPO_CORRUPT' });
    const damaged: string[] = [];
    const index = await f.open({ onDamaged: (key) => damaged.push(key) });
    expect(damaged).toEqual([indexKey(bad)]);
    expect(index.size).toBe(100);
    index.close();
    writeFileSync(join(f.dir, 'file'), 'x');
    await expect(openPagedIndex(f.src, join(f.dir, 'file', 'sub'))).rejects.toMatchObject({
      code: 'CACHE_IO',
    });
  });
});
