/**
 * Damage: a flipped bit, a truncated or missing pack, a missing index file, a corrupt manifest. Each case works on
 * a fresh copy of one repository holding two restore points with separate packs: A (undamaged) and B (damaged).
 * `repo check` must name B, its disk and the byte range; restore and cat must fail cleanly, never returning
 * wrong bytes; A must still restore.
 */
import { mkdirSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  added,
  BLOCK,
  damagedLines,
  expectOneLineError,
  flipBit,
  Repo,
  random,
  readRange,
  removeDir,
  repoFiles,
  sha256,
  tempDir,
  writeImage,
} from './helpers.js';

const B_SIZE = 4 * BLOCK - 777;

let dir: string;
let origin: Repo;
let aImg: string;
let bImg: string;
let aId: string;
let bId: string;
let bFiles: { dataPack: string; treePack: string; index: string; manifest: string };
let n = 0;

beforeAll(async () => {
  dir = tempDir('damage');
  origin = new Repo(join(dir, 'origin'));
  aImg = writeImage(join(dir, 'a.img'), 4 * BLOCK, [
    [0, random(BLOCK)],
    [2 * BLOCK, random(BLOCK)],
  ]);
  bImg = writeImage(join(dir, 'b.img'), B_SIZE, [[0, random(B_SIZE)]]);
  await origin.ok(['repo', 'init']);
  aId = (await origin.json(['image', 'backup', aImg, '--disk', 'root', '-q'])).id;
  const before = repoFiles(origin.path);
  bId = (await origin.json(['image', 'backup', bImg, '--disk', 'vol', '-q'])).id;
  const files = added(before, repoFiles(origin.path));
  const one = (prefix: string) => {
    const matching = files.filter((f) => f.startsWith(prefix));
    expect(matching, prefix).toHaveLength(1);
    return matching[0]!;
  };
  bFiles = {
    dataPack: one('data/'),
    treePack: one('meta/packs/'),
    index: one('meta/index/'),
    manifest: one('meta/points/'),
  };
  expect(bFiles.manifest).toBe(`meta/points/${bId}`);
});

afterAll(() => removeDir(dir));

/** A fresh copy of the repository, damaged by `damage(root)`, and an empty folder for restores. */
function damagedCopy(damage: (root: string) => void): { repo: Repo; out: string } {
  n++;
  const repo = origin.copy(join(dir, `copy-${n}`));
  damage(repo.path);
  const out = join(dir, `out-${n}`);
  mkdirSync(out);
  return { repo, out };
}

async function expectCheckNames(
  repo: Repo,
  args: string[],
  range: { start: number; end: number } | undefined,
): Promise<string> {
  const r = await repo.run(['repo', 'check', ...args]);
  expect(r.code, r.stdout + r.stderr).toBe(3);
  expect(r.stdout).toContain(bId);
  expect(r.stdout).not.toContain(aId); // the undamaged point is not named
  if (range) {
    const lines = damagedLines(r.stdout);
    expect(lines.length, r.stdout).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.point).toBe(bId);
      expect(l.disk).toBe('vol');
    }
    // the damaged ranges cover exactly the damaged blocks
    expect(Math.min(...lines.map((l) => l.start))).toBe(range.start);
    expect(Math.max(...lines.map((l) => l.end))).toBe(range.end);
  }
  return r.stdout;
}

async function expectRestoreFails(repo: Repo, out: string): Promise<void> {
  const target = join(out, 'b.out');
  const r = await repo.run(['image', 'restore', bId, target]);
  expect(r.code, r.stderr).toBe(3); // README: 3 is damaged data
  expect(r.stderr).toContain(bId);
  expectOneLineError(r.stderr);
  expect(readdirSync(out)).toEqual([]); // neither the target nor a temporary file
}

/** cat must fail, and whatever it wrote before failing must be the right bytes. */
async function expectCatFails(repo: Repo, offset: number, length: number): Promise<void> {
  const r = await repo.run([
    'image',
    'cat',
    bId,
    '--disk',
    'vol',
    '--offset',
    String(offset),
    '--length',
    String(length),
  ]);
  expect(r.code, r.stderr).toBe(3);
  expectOneLineError(r.stderr);
  expect(r.out.length).toBeLessThan(length);
  expect(r.out.equals(readRange(bImg, offset, r.out.length))).toBe(true);
}

async function expectCatWorks(repo: Repo, offset: number, length: number): Promise<void> {
  const r = await repo.ok(['image', 'cat', bId, '--offset', String(offset), '--length', String(length)]);
  expect(r.out.equals(readRange(bImg, offset, length))).toBe(true);
}

async function expectARestores(repo: Repo, out: string): Promise<void> {
  const target = `${out}-a.out`; // beside `out`, which must stay empty after the failed restores
  await repo.ok(['image', 'restore', aId, target]);
  expect(sha256(target)).toBe(sha256(aImg));
  rmSync(target);
}

describe('an undamaged repository', () => {
  it('checks clean, with and without --read-data', async () => {
    const [plain, full] = await Promise.all([
      origin.run(['repo', 'check']),
      origin.run(['repo', 'check', '--read-data']),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/no errors found/);
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/no errors found/);
    const j = await origin.json<{ ok: boolean; stats: { points: number } }>(['repo', 'check', '--read-data']);
    expect(j.ok).toBe(true);
    expect(j.stats.points).toBe(2);
  });
});

describe('damage', () => {
  it('a flipped bit in a data pack: check --read-data names it; restore and cat fail; A restores', async () => {
    const { repo, out } = damagedCopy((root) => flipBit(join(root, bFiles.dataPack), 8 + 1000, 3));
    const [j] = await Promise.all([
      repo.run(['--json', 'repo', 'check', '--read-data']),
      expectCheckNames(repo, ['--read-data'], { start: 0, end: BLOCK - 1 }),
      expectRestoreFails(repo, out),
      expectCatFails(repo, 100, 1000),
      expectCatWorks(repo, BLOCK, 2 * BLOCK),
      expectARestores(repo, out),
    ]);
    expect(j.code).toBe(3);
    const report = JSON.parse(j.stdout);
    expect(report.ok).toBe(false);
    expect(report.damaged).toEqual([
      { point: bId, disk: 'vol', ranges: [expect.objectContaining({ start: 0, end: BLOCK - 1 })] },
    ]);
  });

  it('a truncated data pack: check names the lost blocks; restore and cat fail; A restores', async () => {
    const { repo, out } = damagedCopy((root) => {
      const p = join(root, bFiles.dataPack);
      truncateSync(p, Math.floor(statSync(p).size * 0.6)); // blobs of blocks 0 and 1 stay whole
    });
    await Promise.all([
      expectCheckNames(repo, [], { start: 2 * BLOCK, end: B_SIZE - 1 }),
      expectRestoreFails(repo, out),
      expectCatFails(repo, 2 * BLOCK - 10, 100),
      expectCatWorks(repo, 10, BLOCK),
      expectARestores(repo, out),
    ]);
  });

  it('a deleted data pack: check names the whole disk; restore and cat fail; A restores', async () => {
    const { repo, out } = damagedCopy((root) => rmSync(join(root, bFiles.dataPack)));
    await Promise.all([
      expectCheckNames(repo, [], { start: 0, end: B_SIZE - 1 }),
      expectRestoreFails(repo, out),
      expectCatFails(repo, B_SIZE - 100, 100),
      expectARestores(repo, out),
    ]);
  });

  it('a deleted index file: check names the whole disk; restore and cat fail; A restores', async () => {
    const { repo, out } = damagedCopy((root) => rmSync(join(root, bFiles.index)));
    await Promise.all([
      expectCheckNames(repo, [], { start: 0, end: B_SIZE - 1 }),
      expectRestoreFails(repo, out),
      expectCatFails(repo, 0, 10),
      expectARestores(repo, out),
    ]);
  });

  it('a flipped bit in a tree pack: check names the disk; restore fails; A restores', async () => {
    const { repo, out } = damagedCopy((root) => flipBit(join(root, bFiles.treePack), 8 + 20));
    await Promise.all([
      expectCheckNames(repo, [], { start: 0, end: B_SIZE - 1 }),
      expectRestoreFails(repo, out),
      expectCatFails(repo, BLOCK, 10),
      expectARestores(repo, out),
    ]);
  });

  it('a corrupt manifest: check names the restore point; restore fails; A restores and is listed', async () => {
    const { repo, out } = damagedCopy((root) => {
      const p = join(root, bFiles.manifest);
      flipBit(p, Math.floor(statSync(p).size / 2));
    });
    const [report, points] = await Promise.all([
      expectCheckNames(repo, [], undefined),
      repo.run(['points']),
      expectRestoreFails(repo, out),
      expectARestores(repo, out),
    ]);
    expect(report).toContain(`restore point ${bId}`);
    // one unreadable manifest must not hide the others: points still lists A (and says B is damaged)
    expect(points.stdout).toContain(aId);
    expect(points.stdout + points.stderr).toContain(bId);
  });
});
