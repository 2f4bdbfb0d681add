import { createHash } from 'node:crypto';
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupImage } from '../src/backup.js';
import { checkRepository } from '../src/check.js';
import { CHUNK_SIZE, LEAF_BLOCKS } from '../src/format.js';
import { Repository } from '../src/repository.js';
import { DiskReader, restoreDisk } from '../src/restore.js';
import { LocalStore } from '../src/store/local.js';
import { buildImage, newRepo, sha, shaFile, TEST_KDF, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);
const p = (name: string) => join(tmp.path, name);

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.parentPath.includes('.tmp'))
    .map((e) => join(e.parentPath, e.name));
}

/** SHA-256 of a disk of a restore point, read through DiskReader (random access path). */
async function shaOfDisk(repo: Repository, pointId: string, disk: string): Promise<string> {
  const point = await repo.readPoint(pointId);
  const reader = new DiskReader(repo, point, point.disks.find((d) => d.name === disk)!);
  const h = createHash('sha256');
  for await (const piece of reader.read(0, reader.sizeBytes)) h.update(piece);
  return h.digest('hex');
}

describe('image backup and restore', () => {
  it('backs up holes, duplicates, compressible and random blocks; restores sparse and byte-identical', async () => {
    const repo = await newRepo(p('r1'));
    const img = buildImage(p('a.img'), {
      sizeBytes: 40 * CHUNK_SIZE + 12345,
      blocks: { 0: 'random', 1: 'text', 2: 'copy:0', 7: 'random', 20: 'text', 40: 'random' },
    });
    const m = await backupImage(repo, {
      disks: [{ name: 'root', path: p('a.img') }],
      resource: { id: 'a', kind: 'image' },
    });
    expect(m.disks[0]!.stats).toMatchObject({ dataBlocks: 6, blocksRead: 41, newChunks: 4 });
    // 3 random blocks stored raw + one compressible block: well under 4 raw blocks
    expect(m.disks[0]!.stats.newBytesStored).toBeLessThan(3.1 * CHUNK_SIZE);
    await restoreDisk(repo, m, 'root', p('a.out'));
    expect(sha(readFileSync(p('a.out')))).toBe(sha(img));
    expect(statSync(p('a.out')).blocks * 512).toBeLessThan(8 * CHUNK_SIZE); // holes were not written
    expect(readdirSync(tmp.path).filter((f) => f.includes('lifeboat-tmp'))).toEqual([]);
  });

  it('dedups across disks and restore points, and an incremental reads only changed blocks', async () => {
    const repo = await newRepo(p('r2'));
    const spec = {
      sizeBytes: (2 * LEAF_BLOCKS + 10) * CHUNK_SIZE,
      blocks: { 0: 'random', 1500: 'random', 2050: 'text' },
    } as const;
    buildImage(p('big.img'), spec);
    buildImage(p('big2.img'), spec);
    const imgSha = await shaFile(p('big.img'));
    const full = await backupImage(repo, {
      disks: [
        { name: 'a', path: p('big.img') },
        { name: 'b', path: p('big.img') },
      ],
      resource: { id: 'i-1', kind: 'ec2-instance' },
    });
    expect(full.disks[1]!.stats.newChunks).toBe(0); // disk b is a copy of disk a
    const before = files(p('r2/repo'));
    // change one block in the middle leaf, punch one hole in the first leaf
    const fd = openSync(p('big2.img'), 'r+');
    writeSync(fd, Buffer.alloc(CHUNK_SIZE, 7), 0, CHUNK_SIZE, 1500 * CHUNK_SIZE);
    writeSync(fd, Buffer.alloc(CHUNK_SIZE), 0, CHUNK_SIZE, 0);
    closeSync(fd);
    const img2Sha = await shaFile(p('big2.img'));
    const incr = await backupImage(repo, {
      parent: full.id,
      disks: [{ name: 'a', path: p('big2.img'), changedBlocks: [1500, 0] }],
      resource: { id: 'i-1', kind: 'ec2-instance' },
    });
    expect(incr.disks[0]!.stats).toMatchObject({ blocksRead: 2, newChunks: 1, dataBlocks: 2 });
    // metadata proportional to the change: 1 data pack, 1 tree pack (2 leaves + root), 1 index file, 1 manifest
    const added = files(p('r2/repo')).filter((f) => !before.includes(f));
    expect(added.length).toBe(4);
    expect(await shaOfDisk(repo, incr.id, 'a')).toBe(img2Sha);
    expect(await shaOfDisk(repo, full.id, 'a')).toBe(imgSha);
    expect(await shaOfDisk(repo, full.id, 'b')).toBe(imgSha);
    // the same change without a changed-block list reads everything and stores nothing new
    const rescan = await backupImage(repo, {
      parent: incr.id,
      disks: [{ name: 'a', path: p('big2.img') }],
      resource: { id: 'i-1', kind: 'ec2-instance' },
    });
    expect(rescan.disks[0]!.stats).toMatchObject({ blocksRead: 2 * LEAF_BLOCKS + 10, newChunks: 0 });
    expect(rescan.disks[0]!.tree.root).toBe(incr.disks[0]!.tree.root);
  });

  it('reopens from the repository alone and lists every restore point (no catalog)', async () => {
    const repo = await Repository.open(new LocalStore(p('r2/repo')), 'test password');
    expect((await repo.points()).length).toBe(3);
    expect((await checkRepository(repo, { readData: true })).ok).toBe(true);
  });

  it('refuses bad input before writing anything', async () => {
    const repo = await newRepo(p('r3'));
    buildImage(p('c.img'), { sizeBytes: 4 * CHUNK_SIZE, blocks: { 0: 'text' } });
    const m = await backupImage(repo, {
      disks: [{ name: 'root', path: p('c.img') }],
      resource: { id: 'c', kind: 'image' },
    });
    const before = files(p('r3/repo')).length;
    const attempts = [
      { disks: [{ name: 'root', path: p('c.img'), changedBlocks: [9] }], parent: m.id },
      { disks: [{ name: 'other', path: p('c.img'), changedBlocks: [1] }], parent: m.id },
      { disks: [{ name: 'root', path: p('c.img'), changedBlocks: [1] }] },
      { disks: [{ name: 'root', path: p('missing.img') }] },
      { disks: [{ name: 'root', path: p('c.img') }], id: m.id },
      { disks: [{ name: 'root', path: p('c.img') }], id: 'Bad Id' },
      {
        disks: [
          { name: 'x', path: p('c.img') },
          { name: 'x', path: p('c.img') },
        ],
      },
    ];
    for (const a of attempts) {
      await expect(backupImage(repo, { ...a, resource: { id: 'c', kind: 'image' } })).rejects.toMatchObject({
        code: expect.stringMatching(/INVALID_ARGUMENT|SOURCE_IO/),
      });
    }
    expect(files(p('r3/repo')).length).toBe(before);
  });

  it('names the restore point, disk and byte range of damage; never returns wrong data', async () => {
    const repo = await newRepo(p('r4'));
    const img = buildImage(p('d.img'), {
      sizeBytes: 8 * CHUNK_SIZE,
      blocks: { 0: 'random', 3: 'random', 5: 'text' },
    });
    const m = await backupImage(repo, {
      disks: [{ name: 'root', path: p('d.img') }],
      resource: { id: 'd', kind: 'image' },
    });
    const pack = files(p('r4/repo')).find((f) => f.includes('/data/'))!;
    const bytes = readFileSync(pack);
    bytes[8 + 100]! ^= 1; // inside the first blob of the pack: block 0
    rmSync(pack);
    writeFileSync(pack, bytes);
    const fresh = await Repository.open(new LocalStore(p('r4/repo')), 'test password');
    const plain = await checkRepository(fresh);
    expect(plain.ok).toBe(true); // structure is intact: only reading the data can see a flipped bit
    const deep = await checkRepository(fresh, { readData: true });
    expect(deep.ok).toBe(false);
    expect(deep.damaged).toEqual([
      {
        point: m.id,
        disk: 'root',
        ranges: [{ start: 0, end: CHUNK_SIZE - 1, reason: expect.stringContaining('failed authentication') }],
      },
    ]);
    await expect(restoreDisk(fresh, m, 'root', p('d.out'))).rejects.toThrow(
      new RegExp(`restore point ${m.id}, disk root, bytes 0-524287`),
    );
    expect(readdirSync(tmp.path).filter((f) => f.startsWith('d.out') || f.includes('d.out'))).toEqual([]);
    // undamaged blocks still read
    const reader = new DiskReader(fresh, m, m.disks[0]!);
    expect((await reader.block(3)).equals(img.subarray(3 * CHUNK_SIZE, 4 * CHUNK_SIZE))).toBe(true);
    await expect(reader.block(0)).rejects.toMatchObject({ code: 'REPO_CORRUPT' });
    // a truncated pack is seen by the plain check
    truncateSync(pack, 1000);
    const truncated = await checkRepository(
      await Repository.open(new LocalStore(p('r4/repo')), 'test password'),
    );
    expect(truncated.damaged[0]!.ranges.map((r) => [r.start, r.end])).toEqual([
      [0, CHUNK_SIZE - 1],
      [3 * CHUNK_SIZE, 4 * CHUNK_SIZE - 1],
      [5 * CHUNK_SIZE, 6 * CHUNK_SIZE - 1],
    ]);
    // reading the data: the pack's trailer is gone, so every blob the index places in it is named unreadable
    const reopened = await Repository.open(new LocalStore(p('r4/repo')), 'test password');
    const unreadable = await checkRepository(reopened, { readData: true, workers: 1 });
    expect(unreadable.problems.some((x) => x.includes(pack.slice(pack.indexOf('/data/') + 1)))).toBe(true);
    expect(unreadable.badBlobs.map((b) => b.reason).sort()).toEqual([
      expect.stringMatching(/is truncated/),
      expect.stringMatching(/is truncated/),
      expect.stringMatching(/is truncated/),
    ]);
    expect(unreadable.damaged[0]!.ranges).toHaveLength(3);
    // check builds its index afresh in a private folder and removes it
    const cacheOfRepo = join(process.env.LIFEBOAT_CACHE!, reopened.id);
    expect(readdirSync(cacheOfRepo).filter((n) => n.startsWith('fresh-'))).toEqual([]);
    // a damaged index file is a problem, not a failure of check: what it indexed is named as in no index file
    const indexFile = files(p('r4/repo')).find((f) => f.includes('/index/'))!;
    writeFileSync(indexFile, Buffer.from('not an index file'));
    const noIndex = await checkRepository(
      await Repository.open(new LocalStore(p('r4/repo')), 'test password'),
    );
    expect(noIndex.ok).toBe(false);
    expect(
      noIndex.problems.some((x) => x.startsWith('index file meta/index/')),
      noIndex.problems.join('; '),
    ).toBe(true);
    const reasons = noIndex.damaged[0]!.ranges.map((r) => r.reason);
    expect(
      reasons.some((r) => /is in no index file/.test(r)),
      reasons.join('; '),
    ).toBe(true);
  });

  it('manages password key slots', async () => {
    const repo = await newRepo(p('r5'), 'one');
    const store = new LocalStore(p('r5/repo'));
    const two = await repo.addPassword('two');
    expect((await Repository.open(store, 'two')).slotId).toBe(two.id);
    await repo.removeSlot(repo.slotId);
    await expect(Repository.open(store, 'one')).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    await expect(repo.removeSlot(two.id)).rejects.toMatchObject({ code: 'KEY_SLOT' });
    await expect(Repository.init(store, 'x', { kdfCost: TEST_KDF })).rejects.toMatchObject({
      code: 'REPO_EXISTS',
    });
  });
});
