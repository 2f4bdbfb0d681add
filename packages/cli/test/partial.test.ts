/**
 * Restoring over damage: `image restore --partial` writes every intact block, leaves each damaged range zero,
 * renames the image into place and lists the ranges (stdout, --json, TARGET.damaged.json), exit 3; without it the
 * first damaged block stops the restore cleanly. Temporary files: a restore killed with -9 leaves one, named by
 * its owner; the next restore of the same target removes it, and never one whose owner is alive.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  BLOCK,
  expectOneLineError,
  flipBit,
  LEAF_BLOCKS,
  Repo,
  random,
  readRange,
  removeDir,
  repoFiles,
  sameBytes,
  tempDir,
  writeImage,
} from './helpers.js';

/** Sealed length of a random (incompressible) block: nonce, flag byte, block, tag. */
const RAW_BLOB = 12 + 1 + BLOCK + 16;
const PACK_HEADER = 8;

let dir: string;
let origin: Repo;
/** 40 random blocks: 3 runs of a restore, in one data pack, all blobs of the same size. */
let flat: { img: string; id: string; pack: string };
/** A sparse disk of two leaves (1024 + 8 blocks) under an inner node. */
let tall: { img: string; id: string; treePack: string };
let n = 0;

beforeAll(async () => {
  dir = tempDir('partial');
  origin = new Repo(join(dir, 'origin'));
  await origin.ok(['repo', 'init']);
  const flatImg = writeImage(join(dir, 'flat.img'), 40 * BLOCK, [[0, random(40 * BLOCK)]]);
  let before = repoFiles(origin.path);
  const flatId = (await origin.json(['image', 'backup', flatImg, '--disk', 'root', '-q'])).id;
  const newFiles = () => [...repoFiles(origin.path).keys()].filter((f) => !before.has(f));
  flat = { img: flatImg, id: flatId, pack: newFiles().find((f) => f.startsWith('data/'))! };
  before = repoFiles(origin.path);
  const tallSize = (LEAF_BLOCKS + 8) * BLOCK;
  const tallImg = writeImage(join(dir, 'tall.img'), tallSize, [
    [0, random(2 * BLOCK)],
    [LEAF_BLOCKS * BLOCK, random(2 * BLOCK)],
  ]);
  const tallId = (await origin.json(['image', 'backup', tallImg, '--disk', 'root', '-q'])).id;
  tall = { img: tallImg, id: tallId, treePack: newFiles().find((f) => f.startsWith('meta/packs/'))! };
}, 120_000);

afterAll(() => removeDir(dir));

function copy(damage: (root: string) => void): { repo: Repo; out: string } {
  n++;
  const repo = origin.copy(join(dir, `copy-${n}`));
  damage(repo.path);
  const out = join(dir, `out-${n}`);
  mkdirSync(out);
  return { repo, out };
}

interface Extent {
  disk: string;
  offset: number;
  length: number;
  reason: string;
}

/** Every byte outside the extents equals the source, every byte inside is zero. */
function expectZerosExactly(restored: string, source: string, extents: Extent[]): void {
  expect(statSync(restored).size).toBe(statSync(source).size);
  let pos = 0;
  const size = statSync(source).size;
  const same = (from: number, to: number) => {
    for (let o = from; o < to; o += 64 * BLOCK) {
      const len = Math.min(64 * BLOCK, to - o);
      expect(readRange(restored, o, len).equals(readRange(source, o, len)), `bytes ${o}+${len}`).toBe(true);
    }
  };
  for (const e of extents) {
    same(pos, e.offset);
    expect(readRange(restored, e.offset, e.length).equals(Buffer.alloc(e.length))).toBe(true);
    pos = e.offset + e.length;
  }
  same(pos, size);
}

describe('image restore --partial', () => {
  it('a data pack with two damaged chunks: zeros exactly there, the ranges listed and saved, exit 3', async () => {
    // Blobs 5 and 33 of the pack: different runs (a run holds up to 16 blocks).
    const { repo, out } = copy((root) => {
      for (const blob of [5, 33]) flipBit(join(root, flat.pack), PACK_HEADER + blob * RAW_BLOB + 1000, 2);
    });
    const target = join(out, 'flat.out');
    const plain = await repo.run(['image', 'restore', flat.id, target]);
    expect(plain.code, plain.stderr).toBe(3);
    expectOneLineError(plain.stderr);
    expect(readdirSync(out)).toEqual([]);

    const r = await repo.run(['image', 'restore', flat.id, target, '--partial', '-q']);
    expect(r.code, r.stderr).toBe(3);
    expectOneLineError(r.stderr);
    expect(r.stderr).toContain('2 damaged range(s)');
    expect(readdirSync(out).sort()).toEqual(['flat.out', 'flat.out.damaged.json']);
    const saved = JSON.parse(readFileSync(`${target}.damaged.json`, 'utf8'));
    expect(saved.point).toBe(flat.id);
    const extents = saved.damaged as Extent[];
    expect(extents).toHaveLength(2);
    for (const e of extents) {
      expect(e.disk).toBe('root');
      expect(e.length).toBe(BLOCK); // one block per damaged chunk
      expect(e.offset % BLOCK).toBe(0);
      expect(e.reason).toMatch(/failed authentication/);
    }
    expectZerosExactly(target, flat.img, extents);
    for (const e of extents)
      expect(r.stdout).toContain(`damaged: bytes ${e.offset}-${e.offset + e.length - 1}`);

    // --json prints the same list as data; check names the same ranges.
    const j = await repo.run([
      '--json',
      'image',
      'restore',
      flat.id,
      join(out, 'again.out'),
      '--partial',
      '-q',
    ]);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout).damaged).toEqual(extents);
    const check = await repo.run(['--json', 'repo', 'check', '--read-data']);
    expect(check.code).toBe(3);
    const ranges = JSON.parse(check.stdout).damaged[0].ranges as Array<{ start: number; end: number }>;
    expect(ranges.map((x) => [x.start, x.end - x.start + 1])).toEqual(
      extents.map((e) => [e.offset, e.length]),
    );
  });

  it('an undamaged restore with --partial is whole, exit 0, and an old damage list is removed', async () => {
    const { repo, out } = copy(() => {});
    const target = join(out, 'flat.out');
    writeFileSync(target, 'old');
    writeFileSync(`${target}.damaged.json`, '{}');
    const r = await repo.run([
      '--json',
      'image',
      'restore',
      flat.id,
      target,
      '--partial',
      '--overwrite',
      '-q',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).damaged).toEqual([]);
    expect(readdirSync(out)).toEqual(['flat.out']);
    expect(sameBytes(target, flat.img).same).toBe(true);
  });

  it('a damaged tree node loses every block below it, and only those', async () => {
    // The first blob of the tree pack: a leaf (written before the node above it) or the root.
    const { repo, out } = copy((root) => flipBit(join(root, tall.treePack), PACK_HEADER + 20));
    const target = join(out, 'tall.out');
    const plain = await repo.run(['image', 'restore', tall.id, target]);
    expect(plain.code, plain.stderr).toBe(3);
    expect(readdirSync(out)).toEqual([]);
    const r = await repo.run(['--json', 'image', 'restore', tall.id, target, '--partial', '-q']);
    expect(r.code, r.stderr).toBe(3);
    const extents = JSON.parse(r.stdout).damaged as Extent[];
    expect(extents).toHaveLength(1);
    const size = statSync(tall.img).size;
    const leaf = LEAF_BLOCKS * BLOCK;
    // a whole leaf, or everything (the root)
    expect([
      [0, leaf],
      [leaf, size - leaf],
      [0, size],
    ]).toContainEqual([extents[0]!.offset, extents[0]!.length]);
    expect(extents[0]!.reason).toMatch(/tree node/);
    expectZerosExactly(target, tall.img, extents);
  });
});

describe('temporary files of a restore', () => {
  it('kill -9 leaves one named by its owner; the next restore removes it and is never fooled by it', async () => {
    const { repo, out } = copy(() => {});
    const target = join(out, 'flat.out');
    // Killed as soon as its temporary file appears (a restore of 20 MiB takes some 100 ms more).
    const child = spawn(
      process.execPath,
      [BIN, 'image', 'restore', flat.id, target, '--workers', '1', '-q'],
      {
        env: { ...repo.env(), PATH: process.env.PATH, HOME: process.env.HOME },
        stdio: 'ignore',
      },
    );
    let tmp: string | undefined;
    for (let i = 0; i < 2000 && !tmp; i++) {
      await new Promise((r) => setTimeout(r, 5));
      tmp = readdirSync(out).find((f) => f.endsWith('.lifeboat-tmp'));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(tmp, 'the restore made its temporary file').toBeDefined();
    expect(tmp).toMatch(new RegExp(`^\\.flat\\.out\\.${child.pid}-\\d+\\.lifeboat-tmp$`));
    const left = readdirSync(out);
    if (left.includes('flat.out')) return; // it finished before the kill: nothing half-written to look at
    expect(left).toEqual([tmp]);

    // Beside it: a live owner's file (this test process), a dead owner's, a reused pid (ours, another start
    // time), and one of an older build, untouched for an hour.
    const live = `.flat.out.${process.pid}-${startTime(process.pid)}.lifeboat-tmp`;
    const reused = `.flat.out.${process.pid}-1.lifeboat-tmp`;
    const legacy = '.flat.out.0123456789ab.lifeboat-tmp';
    for (const f of [live, reused, legacy]) writeFileSync(join(out, f), 'x');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(out, legacy), hourAgo, hourAgo);

    await repo.ok(['image', 'restore', flat.id, target, '-q']);
    expect(sameBytes(target, flat.img).same).toBe(true);
    expect(readdirSync(out).sort()).toEqual([live, 'flat.out'].sort());
    rmSync(join(out, live));
  });

  it('a failed restore removes its temporary file and leaves others alone', async () => {
    const { repo, out } = copy((root) => flipBit(join(root, flat.pack), PACK_HEADER + 30 * RAW_BLOB + 7));
    const other = `.flat.out.${process.pid}-${startTime(process.pid)}.lifeboat-tmp`;
    writeFileSync(join(out, other), 'a concurrent restore');
    const r = await repo.run(['image', 'restore', flat.id, join(out, 'flat.out')]);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr);
    expect(readdirSync(out)).toEqual([other]);
    expect(existsSync(join(out, 'flat.out'))).toBe(false);
  });
});

function startTime(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}
