import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupImage } from '../src/backup.js';
import { checkRepository } from '../src/check.js';
import { CHUNK_SIZE } from '../src/format.js';
import { repairRepository } from '../src/repair.js';
import { Repository } from '../src/repository.js';
import { restoreDisk } from '../src/restore.js';
import { LocalStore } from '../src/store/local.js';
import { buildImage, newRepo, sha, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);
const p = (name: string) => join(tmp.path, name);

function packsUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function flipByte(file: string, offset: number): void {
  const b = readFileSync(file);
  b[offset]! ^= 0x40;
  rmSync(file);
  writeFileSync(file, b);
}

describe('repo repair', () => {
  it('stores corrupt chunks and leaves again from the source; restores byte-identical afterwards', async () => {
    const repo = await newRepo(p('r1'));
    const img = buildImage(p('a.img'), {
      sizeBytes: 6 * CHUNK_SIZE,
      blocks: { 0: 'random', 2: 'random', 4: 'text' },
    });
    const m = await backupImage(repo, {
      disks: [{ name: 'root', path: p('a.img') }],
      resource: { id: 'a', kind: 'image' },
    });
    flipByte(packsUnder(p('r1/repo/data'))[0]!, 100); // the first blob: block 0
    flipByte(packsUnder(p('r1/repo/meta/packs'))[0]!, 40); // the only leaf
    const store = new LocalStore(p('r1/repo'));
    const damaged = await checkRepository(await Repository.open(store, 'test password'), { readData: true });
    expect(damaged.ok).toBe(false);
    const report = await repairRepository(await Repository.open(store, 'test password'), {
      sources: { root: p('a.img') },
      readData: true,
    });
    expect(report.unrecoverable).toEqual([]);
    expect(report.repaired.length).toBe(2);
    const fresh = await Repository.open(store, 'test password');
    expect((await checkRepository(fresh, { readData: true })).ok).toBe(true);
    await restoreDisk(fresh, m, 'root', p('a.out'));
    expect(sha(readFileSync(p('a.out')))).toBe(sha(img));
  });

  it('records what the source cannot give back and reports it', async () => {
    const repo = await newRepo(p('r2'));
    buildImage(p('b.img'), { sizeBytes: 2 * CHUNK_SIZE, blocks: { 0: 'random' } });
    await backupImage(repo, {
      disks: [{ name: 'root', path: p('b.img') }],
      resource: { id: 'b', kind: 'image' },
    });
    rmSync(packsUnder(p('r2/repo/data'))[0]!);
    buildImage(p('other.img'), { sizeBytes: 2 * CHUNK_SIZE, blocks: { 0: 'seed:different' } });
    const store = new LocalStore(p('r2/repo'));
    const report = await repairRepository(await Repository.open(store, 'test password'), {
      sources: { root: p('other.img') },
    });
    expect(report.repaired).toEqual([]);
    expect(report.unrecoverable).toHaveLength(1);
    expect(report.unrecoverable[0]!.where[0]).toMatch(/disk root bytes 0-524287/);
    expect(readdirSync(p('r2/repo/meta/damage'))).toHaveLength(1);
  });
});
