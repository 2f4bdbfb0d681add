/**
 * Incremental backups: `image backup --parent P --changed-blocks FILE` on a sparse image of two disk map leaves
 * (a leaf covers 1024 blocks = 512 MiB) with little data.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  added,
  allocated,
  BLOCK,
  compressible,
  copySparse,
  expectOneLineError,
  LEAF_BLOCKS,
  patchImage,
  Repo,
  random,
  readRange,
  removeDir,
  repoFiles,
  sameBytes,
  tempDir,
  writeImage,
} from './helpers.js';

const BLOCKS = LEAF_BLOCKS + 40; // two leaves, the second mostly past the end
const SIZE = BLOCKS * BLOCK - 1000; // unaligned: the last block is partial
const TAIL = BLOCKS - 1;

let dir: string;
let repo: Repo;
let base: string; // data in blocks 0, 3, 700 (leaf 0); leaf 1 is all holes
let v1: string; // base with block 3 rewritten
let v2: string; // v1 with block 700 zeroed, block 1030 (leaf 1) and the tail written, block 0 rewritten as is
let p0: string;
let p1: string;
let p2: string;

function changedFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

function expectSame(a: string, b: string): void {
  const r = sameBytes(a, b);
  expect(r.same, `${a} vs ${b}: ${r.reason}`).toBe(true);
}

beforeAll(async () => {
  dir = tempDir('incr');
  repo = new Repo(join(dir, 'repo'));
  base = writeImage(join(dir, 'base.img'), SIZE, [
    [0, random(BLOCK)],
    [3 * BLOCK, random(BLOCK)],
    [700 * BLOCK, compressible(BLOCK, 'block 700')],
  ]);
  v1 = join(dir, 'v1.img');
  copySparse(base, v1);
  patchImage(v1, [[3 * BLOCK + 4096, random(100)]]);
  v2 = join(dir, 'v2.img');
  copySparse(v1, v2);
  patchImage(v2, [
    [0, readRange(v1, 0, BLOCK)],
    [700 * BLOCK, Buffer.alloc(BLOCK)],
    [1030 * BLOCK, random(BLOCK)],
    [TAIL * BLOCK, random(SIZE - TAIL * BLOCK)],
  ]);
  await repo.ok(['repo', 'init']);
  const j = await repo.json(['image', 'backup', base, '-q']);
  expect(j.disks[0].stats.blocksRead).toBe(BLOCKS);
  expect(j.disks[0].stats.dataBlocks).toBe(3);
  p0 = j.id;
});

afterAll(() => removeDir(dir));

describe('incremental backup with a changed-block list', () => {
  it('a one-block change reads one block and writes a small, bounded number of objects', async () => {
    const before = repoFiles(repo.path);
    const j = await repo.json([
      'image',
      'backup',
      v1,
      '-q',
      '--parent',
      p0,
      '--changed-blocks',
      changedFile('c1', '3\n'),
    ]);
    p1 = j.id;
    expect(j.parent).toBe(p0);
    const s = j.disks[0].stats;
    expect(s.blocksRead).toBe(1);
    expect(s.newChunks).toBe(1);
    expect(s.dataBlocks).toBe(3);
    expect(j.disks[0].sizeBytes).toBe(SIZE);

    const after = repoFiles(repo.path);
    const newFiles = added(before, after);
    // one data pack, one tree pack, one index file, one manifest: not one object per leaf or per block
    expect(newFiles.length).toBeLessThanOrEqual(4);
    expect(newFiles.filter((f) => f.startsWith('data/'))).toHaveLength(1);
    expect(newFiles).toContain(`meta/points/${p1}`);
    const bytes = (prefix: string) =>
      newFiles.filter((f) => f.startsWith(prefix)).reduce((n, f) => n + after.get(f)!, 0);
    expect(bytes('data/')).toBeLessThan(BLOCK + 4096);
    expect(bytes('meta/')).toBeLessThan(16 * 1024);
    // nothing existing was rewritten (write-once)
    for (const [f, size] of before) expect(after.get(f), f).toBe(size);
  });

  it('the incremental restores byte-identical to the changed image, sparse', async () => {
    const out = join(dir, 'p1.out');
    await repo.ok(['image', 'restore', p1, out]);
    expectSame(out, v1);
    expect(allocated(out)).toBeLessThan(8 * BLOCK);
  });

  it('changes across leaves (a zeroed block, a new leaf, the unaligned tail) restore byte-identical', async () => {
    const j = await repo.json([
      'image',
      'backup',
      v2,
      '-q',
      '--parent',
      p1,
      '--changed-blocks',
      changedFile('c2', `0\n700\n${1030}\n${TAIL}\n`),
    ]);
    p2 = j.id;
    const s = j.disks[0].stats;
    expect(s.blocksRead).toBe(4);
    expect(s.newChunks).toBe(2); // block 0 is unchanged data, block 700 became a hole
    expect(s.dataBlocks).toBe(4);
    const out = join(dir, 'p2.out');
    await repo.ok(['image', 'restore', p2, out]);
    expectSame(out, v2);
  });

  it('the parents still restore byte-identical', async () => {
    const o0 = join(dir, 'p0.out');
    const o1 = join(dir, 'p1-again.out');
    await Promise.all([repo.ok(['image', 'restore', p0, o0]), repo.ok(['image', 'restore', p1, o1])]);
    expectSame(o0, base);
    expectSame(o1, v1);
  });

  it('image cat reads the changed and unchanged bytes of an incremental', async () => {
    const offset = 1030 * BLOCK - 50;
    const [r, tail] = await Promise.all([
      repo.ok(['image', 'cat', p2, '--offset', String(offset), '--length', String(BLOCK + 100)]),
      repo.ok(['image', 'cat', p2, '--offset', String(SIZE - 300)]),
    ]);
    expect(r.out.equals(readRange(v2, offset, BLOCK + 100))).toBe(true);
    expect(tail.out.equals(readRange(v2, SIZE - 300, 300))).toBe(true);
  });

  it('with --parent but no changed-block list every block is read, and nothing new is stored', async () => {
    const j = await repo.json(['image', 'backup', v2, '-q', '--parent', p1]);
    const s = j.disks[0].stats;
    expect(s.blocksRead).toBe(BLOCKS);
    expect(s.newChunks).toBe(0);
    expect(s.dataBlocks).toBe(4);
    const out = join(dir, 'full.out');
    await repo.ok(['image', 'restore', j.id, out]);
    expectSame(out, v2);
  });

  it('blocks not in the list are taken from the parent unread', async () => {
    // v3 differs from v2 in blocks 0 and 3, but only block 3 is listed: block 0 must come from the parent
    const v3 = join(dir, 'v3.img');
    copySparse(v2, v3);
    const new3 = random(BLOCK);
    patchImage(v3, [
      [0, random(BLOCK)],
      [3 * BLOCK, new3],
    ]);
    const j = await repo.json([
      'image',
      'backup',
      v3,
      '-q',
      '--parent',
      p2,
      '--changed-blocks',
      changedFile('c3', '3\n'),
    ]);
    expect(j.disks[0].stats.blocksRead).toBe(1);
    const r = await repo.ok(['image', 'cat', j.id, '--length', String(4 * BLOCK)]);
    expect(r.out.subarray(0, BLOCK).equals(readRange(v2, 0, BLOCK))).toBe(true);
    expect(r.out.subarray(3 * BLOCK).equals(new3)).toBe(true);
  });
});

describe('changed-block list errors', () => {
  it('a line that is not a block index: exit 2, naming the file and line; nothing written', async () => {
    const before = repoFiles(repo.path);
    for (const text of ['3\nabc\n', '3\n-1\n', '1.5\n', '0x10\n']) {
      const f = changedFile('bad', text);
      const r = await repo.run(['image', 'backup', v1, '--parent', p0, '--changed-blocks', f]);
      expect(r.code, text).toBe(2);
      expect(r.stderr, text).toContain(f);
      expect(r.stderr, text).toMatch(/line \d+/);
      expectOneLineError(r.stderr);
    }
    expect(repoFiles(repo.path)).toEqual(before);
  });

  it('a block index beyond the image: exit 2 with a clear message; nothing written', async () => {
    const before = repoFiles(repo.path);
    const r = await repo.run([
      'image',
      'backup',
      v1,
      '--parent',
      p0,
      '--changed-blocks',
      changedFile('beyond', `3\n${BLOCKS}\n`),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(String(BLOCKS));
    expect(r.stderr).toMatch(/outside the image/);
    expectOneLineError(r.stderr);
    expect(repoFiles(repo.path)).toEqual(before);
  });

  it('--changed-blocks without --parent is refused', async () => {
    const r = await repo.run(['image', 'backup', v1, '--changed-blocks', changedFile('c', '3\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--parent/);
    expectOneLineError(r.stderr);
  });

  it('a parent that does not exist, or lacks the disk, is refused', async () => {
    const c = changedFile('c', '3\n');
    const [unknown, otherDisk] = await Promise.all([
      repo.run(['image', 'backup', v1, '--parent', 'rp-nope', '--changed-blocks', c]),
      repo.run(['image', 'backup', v1, '--disk', 'data', '--parent', p0, '--changed-blocks', c]),
    ]);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/rp-nope/);
    expect(otherDisk.code).toBe(2);
    expect(otherDisk.stderr).toMatch(/no disk "data"/);
  });
});
