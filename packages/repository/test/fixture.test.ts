import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRepository } from '../src/check.js';
import { Repository } from '../src/repository.js';
import { DiskReader, restoreDisk } from '../src/restore.js';
import { LocalStore } from '../src/store/local.js';
import { sha, tempDir } from './helpers.js';

const fixture = join(import.meta.dirname, 'fixtures', 'v1');
const expected = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'v1-expected.json'), 'utf8'),
) as {
  password: string;
  points: Record<string, Record<string, string>>;
};
const tmp = tempDir();
afterAll(tmp.cleanup);

describe('the committed format v1 repository', () => {
  it('opens, lists and restores every restore point byte-identical', async () => {
    const repo = await Repository.open(new LocalStore(fixture), expected.password);
    const points = await repo.points();
    expect(points.map((p) => p.id)).toEqual(Object.keys(expected.points));
    expect(points[0]!.resource).toEqual({
      id: 'i-0fixture',
      kind: 'ec2-instance',
      account: '111111111111',
      region: 'us-east-1',
    });
    expect(points[0]!.configuration).toEqual({ instanceType: 't3.micro' });
    expect(points[1]!.parent).toBe('rp-fixture-full');
    for (const p of points) {
      for (const d of p.disks) {
        const target = join(tmp.path, `${p.id}-${d.name}`);
        await restoreDisk(repo, p, d.name, target, { workers: 1 });
        expect(sha(readFileSync(target))).toBe(expected.points[p.id]![d.name]);
        const reader = new DiskReader(repo, p, d);
        const pieces: Buffer[] = [];
        for await (const piece of reader.read(0, d.sizeBytes)) pieces.push(piece);
        expect(sha(Buffer.concat(pieces))).toBe(expected.points[p.id]![d.name]);
      }
    }
    const report = await checkRepository(repo, { readData: true, workers: 1 });
    expect(report.ok).toBe(true);
    expect(report.stats.points).toBe(2);
  });

  it('refuses an unknown format version with a clear error', async () => {
    const copy = join(tmp.path, 'v2');
    cpSync(fixture, copy, { recursive: true });
    const config = JSON.parse(readFileSync(join(copy, 'config'), 'utf8'));
    writeFileSync(join(copy, 'config'), JSON.stringify({ ...config, version: 2 }));
    await expect(Repository.open(new LocalStore(copy), expected.password)).rejects.toMatchObject({
      code: 'REPO_VERSION',
      message: expect.stringMatching(/format version 2; this build of Lifeboat reads version 1/),
    });
  });

  it('refuses a wrong password', async () => {
    await expect(Repository.open(new LocalStore(fixture), 'nope')).rejects.toMatchObject({
      code: 'WRONG_PASSWORD',
    });
  });
});
