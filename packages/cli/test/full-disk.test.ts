/**
 * A full disk: a repository on a 12 MiB tmpfs, a backup of an incompressible image larger than the space. Needs
 * `mount -t tmpfs` (root); skipped with the reason otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  BLOCK,
  expectOneLineError,
  type PointJson,
  Repo,
  random,
  removeDir,
  repoFiles,
  sha256,
  tempDir,
  writeImage,
} from './helpers.js';

let dir: string;
let mnt: string;
let small2: string; // a restore target mount of 1 MiB
let mounted = false;
let reason = '';

beforeAll(() => {
  dir = tempDir('full');
  mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mnt], { encoding: 'utf8' });
  mounted = r.status === 0;
  if (!mounted) reason = `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()})`;
  small2 = join(dir, 'small-mnt');
  mkdirSync(small2);
  if (mounted) mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small2]).status === 0;
});

afterAll(() => {
  spawnSync('umount', [mnt], { stdio: 'ignore' });
  spawnSync('umount', [small2], { stdio: 'ignore' });
  removeDir(dir);
});

describe('a full disk', () => {
  let repo: Repo;
  let small: string;
  let p1: string;
  let before: Map<string, number>;

  it('fails the backup with a one-line "no space left" error', async (ctx) => {
    if (!mounted) return ctx.skip(reason);
    repo = new Repo(join(mnt, 'repo'));
    small = writeImage(join(dir, 'small.img'), 2 * BLOCK, [[0, random(2 * BLOCK)]]);
    const big = writeImage(join(dir, 'big.img'), 32 * BLOCK, [[0, random(32 * BLOCK)]]); // 16 MiB > 12 MiB
    await repo.ok(['repo', 'init']);
    p1 = (await repo.json(['image', 'backup', small, '-q'])).id;
    before = repoFiles(repo.path);

    const r = await repo.run(['image', 'backup', big, '-q']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no space left/i);
    expectOneLineError(r.stderr);
  });

  it('then repo check is clean and points lists only the earlier restore point', async (ctx) => {
    if (!mounted) return ctx.skip(reason);
    const check = await repo.run(['repo', 'check']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const points = await repo.json<PointJson[]>(['points']);
    expect(points.map((p) => p.id)).toEqual([p1]);
  });

  it('leaves no partial object behind: no staging file, no truncated pack, the space is free again', async (ctx) => {
    if (!mounted) return ctx.skip(reason);
    expect(readdirSync(join(repo.path, '.tmp'))).toEqual([]);
    const left = [...repoFiles(repo.path)].filter(([f]) => !before.has(f));
    expect(left, 'objects written by the failed backup').toEqual([]);
    const fs = statfsSync(mnt);
    expect((fs.blocks - fs.bfree) * fs.bsize).toBeLessThan(4 * 1024 * 1024);
  });

  it('then repo check --read-data is clean', async (ctx) => {
    if (!mounted) return ctx.skip(reason);
    const check = await repo.run(['repo', 'check', '--read-data']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('and the repository still takes backups and restores them', async (ctx) => {
    if (!mounted) return ctx.skip(reason);
    const p2 = (await repo.json(['image', 'backup', small, '-q', '--resource', 'again'])).id;
    const out = join(dir, 'small.out');
    await repo.ok(['image', 'restore', p2, out]);
    expect(sha256(out)).toBe(sha256(small));
    expect((await repo.json<PointJson[]>(['points'])).map((p) => p.id)).toEqual([p1, p2]);
  });
});

describe('a restore target without space', () => {
  it('fails with a one-line error and leaves neither the target nor a temporary file', async (ctx) => {
    if (!mounted) return ctx.skip(reason);
    const repo = new Repo(join(dir, 'repo-2'));
    const img = writeImage(join(dir, 'two.img'), 4 * BLOCK, [[0, random(4 * BLOCK)]]); // 2 MiB > 1 MiB
    await repo.ok(['repo', 'init']);
    const id = (await repo.json(['image', 'backup', img, '-q'])).id;
    const r = await repo.run(['image', 'restore', id, join(small2, 'two.out')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no space left|ENOSPC/i);
    expectOneLineError(r.stderr);
    expect(readdirSync(small2)).toEqual([]);
  });
});

describe('a write cut short by the file system (file size limit, as with a quota)', () => {
  it('is a failed backup, never a restore point whose pack is truncated', async () => {
    const repo = new Repo(join(dir, 'repo-fsize'));
    await repo.ok(['repo', 'init']);
    const img = writeImage(join(dir, 'fsize.img'), 32 * BLOCK, [[0, random(32 * BLOCK)]]); // one 16 MiB pack
    // RLIMIT_FSIZE of 10 MB: the pack write is cut short (EFBIG), the small metadata objects fit
    const r = spawnSync(
      'sh',
      ['-c', 'ulimit -f 10000 && exec "$@"', 'sh', process.execPath, BIN, 'image', 'backup', img, '-q'],
      { env: { PATH: process.env.PATH, ...repo.env() }, encoding: 'utf8' },
    );
    const points = await repo.json<PointJson[]>(['points']);
    const check = await repo.run(['repo', 'check']);
    expect(
      { backupFailed: r.status !== 0, points: points.length, checkExit: check.code },
      `backup: ${r.stdout}${r.stderr}\ncheck: ${check.stdout}`,
    ).toEqual({ backupFailed: true, points: 0, checkExit: 0 });
    expectOneLineError(r.stderr);
  });
});
