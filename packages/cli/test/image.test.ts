/**
 * `lifeboat image backup|restore|cat` and `lifeboat points` on small images: holes, an unaligned size, duplicate
 * blocks, random and compressible data, several disks, restore point references.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocated,
  BIN,
  BLOCK,
  compressible,
  expectOneLineError,
  lastLine,
  type PointJson,
  Repo,
  random,
  readRange,
  removeDir,
  sha256,
  tempDir,
  writeImage,
} from './helpers.js';

let dir: string;
let repo: Repo;
let mainImg: string; // 7 blocks, the last partial; holes, a duplicate block, compressible and random data
let dupImg: string; // same bytes as mainImg
let randImg: string;
let textImg: string;
const MAIN_SIZE = 6 * BLOCK + 12345;
const MAIN_ID = 'point-main-0001';
let dupId: string;
let multiId: string;
let configDoc: unknown;

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return out;
}

beforeAll(async () => {
  dir = tempDir('image');
  repo = new Repo(join(dir, 'repo'));
  const r0 = random(BLOCK);
  mainImg = writeImage(join(dir, 'main.img'), MAIN_SIZE, [
    [0, r0], // block 0: random
    // block 1: hole
    [2 * BLOCK, compressible(BLOCK)], // block 2: compressible
    [3 * BLOCK, r0], // block 3: a duplicate of block 0
    [4 * BLOCK, random(BLOCK / 2)], // block 4: half data, half zeros
    [5 * BLOCK, Buffer.alloc(BLOCK)], // block 5: zeros written out (not a hole in the file, a hole in the backup)
    [6 * BLOCK, random(12345)], // block 6: the unaligned tail
  ]);
  dupImg = join(dir, 'dup.img');
  writeFileSync(dupImg, readFileSync(mainImg));
  randImg = writeImage(join(dir, 'rand.img'), 4 * BLOCK, [[0, random(4 * BLOCK)]]);
  textImg = writeImage(join(dir, 'text.img'), 8 * BLOCK, [[0, compressible(8 * BLOCK, 'text')]]);
  configDoc = { instance: { type: 't3.micro', tags: [{ Key: 'Name', Value: 'web' }] }, n: 42 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configDoc));
  await repo.ok(['repo', 'init']);
});

afterAll(() => removeDir(dir));

describe('image backup', () => {
  it('prints the restore point id as its last line and records what it is given', async () => {
    const r = await repo.ok([
      'image',
      'backup',
      mainImg,
      '--disk',
      'root',
      '--resource',
      'i-0abc123',
      '--resource-kind',
      'ec2-instance',
      '--account',
      '123456789012',
      '--region',
      'eu-west-1',
      '--tag',
      'env=prod',
      '--tag',
      'team=ops',
      '--config',
      join(dir, 'config.json'),
      '--source-snapshot',
      'snap-0123456789',
      '--id',
      MAIN_ID,
    ]);
    expect(lastLine(r.stdout)).toBe(MAIN_ID);
    // on a pipe, progress is line-wise: no carriage returns, no escape sequences
    expect(r.stderr).not.toMatch(/[\r\x1b]/);
  });

  it('points --json lists it with its resource, disks, sizes, tags, snapshot and configuration', async () => {
    const points = await repo.json<PointJson[]>(['points']);
    const p = points.find((x) => x.id === MAIN_ID)!;
    expect(p).toBeTruthy();
    expect(p.resource).toEqual({
      id: 'i-0abc123',
      kind: 'ec2-instance',
      account: '123456789012',
      region: 'eu-west-1',
    });
    expect(p.tags).toEqual({ env: 'prod', team: 'ops' });
    expect(p.disks).toHaveLength(1);
    const d = p.disks[0];
    expect(d.name).toBe('root');
    expect(d.sizeBytes).toBe(MAIN_SIZE);
    expect(d.sourceSnapshotId).toBe('snap-0123456789');
    // blocks 0, 2, 3, 4, 6 hold data; 3 is a copy of 0; 1 and 5 are holes
    expect(d.stats.dataBlocks).toBe(5);
    expect(d.stats.blocksRead).toBe(7);
    expect(d.stats.newChunks).toBe(4);
    expect(Date.parse(p.finishedAt)).toBeGreaterThanOrEqual(Date.parse(p.startedAt));
    // the opaque configuration document given with --config is part of the restore point
    expect(p.configuration).toEqual(configDoc);
  });

  it('--json gives an object with id and disks; an identical image stores 0 new chunks (dedup)', async () => {
    const j = await repo.json(['image', 'backup', dupImg, '-q']);
    expect(j.id).toMatch(/^[a-z0-9-]+$/);
    expect(j.id).not.toBe(MAIN_ID);
    expect(j.resource.id).toBe('dup.img'); // default resource: the image file name
    expect(j.disks).toHaveLength(1);
    expect(j.disks[0].sizeBytes).toBe(MAIN_SIZE);
    expect(j.disks[0].stats.dataBlocks).toBe(5);
    expect(j.disks[0].stats.newChunks).toBe(0);
    expect(j.disks[0].stats.newBytesStored).toBe(0);
    dupId = j.id;
  });

  it('compresses compressible data and does not expand random data', async () => {
    // two backups into one repository at the same time
    const [text, rand] = await Promise.all([
      repo.json(['image', 'backup', textImg, '-q']),
      repo.json(['image', 'backup', randImg, '-q']),
    ]);
    expect(text.disks[0].stats.newChunks).toBe(8);
    expect(text.disks[0].stats.newBytesStored).toBeLessThan(0.05 * 8 * BLOCK);
    expect(rand.disks[0].stats.newChunks).toBe(4);
    expect(rand.disks[0].stats.newBytesStored).toBeGreaterThanOrEqual(4 * BLOCK);
    expect(rand.disks[0].stats.newBytesStored).toBeLessThan(4 * BLOCK * 1.01 + 4096);
  });

  it('several --disk NAME=IMAGE make one multi-disk restore point', async () => {
    const j = await repo.json([
      'image',
      'backup',
      '--disk',
      'xvda=' + mainImg,
      '--disk',
      'xvdb=' + randImg,
      '--source-snapshot',
      'xvdb=snap-b',
      '--resource',
      'i-multi',
      '-q',
    ]);
    expect(j.disks.map((d) => [d.name, d.sizeBytes])).toEqual([
      ['xvda', MAIN_SIZE],
      ['xvdb', 4 * BLOCK],
    ]);
    expect(j.disks[1]?.sourceSnapshotId).toBe('snap-b');
    expect(j.disks[0].sourceSnapshotId).toBeUndefined();
    expect(j.disks[0].stats.newChunks + j.disks[1]!.stats.newChunks).toBe(0); // all seen before
    multiId = j.id;
  });

  it('refuses an existing or invalid --id, a missing image, and mixing IMAGE with NAME=IMAGE', async () => {
    const [again, bad, missing, mixed] = await Promise.all([
      repo.run(['image', 'backup', mainImg, '--id', MAIN_ID]),
      repo.run(['image', 'backup', mainImg, '--id', 'Bad_Id']),
      repo.run(['image', 'backup', join(dir, 'no-such.img')]),
      repo.run(['image', 'backup', mainImg, '--disk', `b=${randImg}`]),
    ]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);
    expectOneLineError(again.stderr);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a valid restore point id/);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no-such.img');
    expectOneLineError(missing.stderr);
    expect(mixed.code).toBe(2);
    const points = await repo.json<PointJson[]>(['points']);
    expect(points.map((p) => p.id)).toContain(MAIN_ID);
    expect(points).toHaveLength(5); // main, dup, text, rand, multi: nothing added by the refusals
  });

  it('points (human) lists every restore point', async () => {
    const [r, only] = await Promise.all([
      repo.ok(['points']),
      repo.json<PointJson[]>(['points', '--resource', 'i-multi']),
    ]);
    for (const id of [MAIN_ID, dupId, multiId]) expect(r.stdout).toContain(id);
    expect(r.stdout).toMatch(/5 restore points/);
    expect(only.map((p) => p.id)).toEqual([multiId]);
  });
});

describe('image restore', () => {
  it('restores a file byte-identical to the source, sparse', async () => {
    const out = join(dir, 'restore-1');
    mkdirSync(out);
    const target = join(out, 'main.out');
    const r = await repo.ok(['image', 'restore', MAIN_ID, target]);
    expect(r.stdout).toContain(MAIN_ID);
    expect(sha256(target)).toBe(sha256(mainImg));
    // holes stay holes: at most the 5 data blocks are allocated (block 5 was zeros written out in the source)
    expect(allocated(target)).toBeLessThanOrEqual(5 * BLOCK + 64 * 1024);
    expect(allocated(target)).toBeLessThan(allocated(mainImg));
    expect(readRange(target, BLOCK, BLOCK).equals(Buffer.alloc(BLOCK))).toBe(true);
    expect(readdirSync(out)).toEqual(['main.out']); // no temporary file left behind
  });

  it('refuses to replace an existing file unless --overwrite', async () => {
    const target = join(dir, 'existing.out');
    writeFileSync(target, 'precious');
    const r = await repo.run(['image', 'restore', MAIN_ID, target]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/exists/);
    expect(r.stderr).toMatch(/--overwrite/);
    expectOneLineError(r.stderr);
    expect(readFileSync(target, 'utf8')).toBe('precious');
    await repo.ok(['image', 'restore', MAIN_ID, target, '--overwrite']);
    expect(sha256(target)).toBe(sha256(mainImg));
  });

  it('--disk chooses the disk of a multi-disk restore point; none or an unknown one is an error', async () => {
    const a = join(dir, 'multi-a.out');
    const b = join(dir, 'multi-b.out');
    await Promise.all([
      repo.ok(['image', 'restore', multiId, a, '--disk', 'xvda']),
      repo.ok(['image', 'restore', multiId, b, '--disk', 'xvdb']),
    ]);
    expect(sha256(a)).toBe(sha256(mainImg));
    expect(sha256(b)).toBe(sha256(randImg));

    const [none, unknown] = await Promise.all([
      repo.run(['image', 'restore', multiId, join(dir, 'multi-none.out')]),
      repo.run(['image', 'restore', multiId, join(dir, 'multi-x.out'), '--disk', 'xvdz']),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--disk/);
    expect(none.stderr).toMatch(/xvda/);
    expectOneLineError(none.stderr);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no disk "xvdz"/);
    expectOneLineError(unknown.stderr);
    expect(existsSync(join(dir, 'multi-none.out'))).toBe(false);
    expect(existsSync(join(dir, 'multi-x.out'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('lifeboat-tmp'))).toEqual([]);
  });

  it('"latest" and unique id prefixes name restore points; ambiguous and unknown ones are refused', async () => {
    const latest = join(dir, 'latest.out');
    const [, points] = await Promise.all([
      repo.ok(['image', 'restore', 'latest', latest, '--disk', 'xvdb']), // the multi-disk point is the last
      repo.json<PointJson[]>(['points']),
    ]);
    expect(sha256(latest)).toBe(sha256(randImg));

    const ids = points.map((p) => p.id);
    let prefix = dupId.slice(0, 4);
    while (ids.filter((id) => id.startsWith(prefix)).length > 1) prefix = dupId.slice(0, prefix.length + 1);
    expect(prefix.length).toBeLessThan(dupId.length);
    const byPrefix = join(dir, 'prefix.out');
    const common = ids.filter((id) => id !== MAIN_ID);
    expect(common.length).toBeGreaterThan(1);
    const [, ambiguous, unknown] = await Promise.all([
      repo.ok(['image', 'restore', prefix, byPrefix]),
      repo.run(['image', 'restore', common[0]!.slice(0, 1), join(dir, 'amb.out')]),
      repo.run(['image', 'restore', 'zzzzzzz', join(dir, 'unknown.out')]),
    ]);
    expect(sha256(byPrefix)).toBe(sha256(dupImg));
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/matches \d+ restore points/);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/no restore point "zzzzzzz"/);
    expectOneLineError(unknown.stderr);
  });
});

describe('interruptions', () => {
  it('image cat into a pipe closed early (| head) ends quietly, without a stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'image', 'cat', MAIN_ID], {
      env: { PATH: process.env.PATH, ...repo.env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy()); // like `| head -c 10`
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(stderr).not.toMatch(/\n\s+at |Unhandled/);
    expect(code === 0 || code === 141 || code === 1).toBe(true);
  });

  it('an interrupted restore (SIGINT) leaves no temporary file behind', async () => {
    const img = writeImage(join(dir, 'sigint.img'), 32 * BLOCK, [[0, random(32 * BLOCK)]]);
    const id = (await repo.json(['image', 'backup', img, '-q', '--id', 'point-sigint-01'])).id;
    const out = join(dir, 'sigint');
    mkdirSync(out);
    const child = spawn(
      process.execPath,
      [BIN, 'image', 'restore', id, join(out, 'x.out'), '--workers', '1'],
      {
        env: { PATH: process.env.PATH, ...repo.env() },
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    const closed = new Promise<number | null>((done) => child.on('close', done));
    let caught = false; // interrupt while the restore is being written aside
    for (let i = 0; i < 2000 && child.exitCode === null; i++) {
      if (readdirSync(out).some((f) => f.includes('lifeboat-tmp'))) {
        child.kill('SIGINT');
        caught = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const code = await closed;
    if (!caught) return; // the restore finished before it could be interrupted: nothing to check
    expect(code).not.toBe(0);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('image cat', () => {
  // [what, --offset, --length, expected offset, expected length]; --disk root unless noted
  const ranges: Array<[string, string, string | undefined, number, number]> = [
    ['across blocks 0-1 (data into a hole)', `${BLOCK - 100}`, '300', BLOCK - 100, 300],
    ['across several blocks', '100', `${3 * BLOCK + 7}`, 100, 3 * BLOCK + 7],
    ['inside a hole', `${BLOCK + 1000}`, '5000', BLOCK + 1000, 5000],
    ['across the half-zero block into a hole', `${4.5 * BLOCK - 10}`, `${BLOCK}`, 4.5 * BLOCK - 10, BLOCK],
    ['into the unaligned tail', `${6 * BLOCK - 5}`, '10', 6 * BLOCK - 5, 10],
    ['length 0', '1234', '0', 1234, 0],
    ['to the end (no --length)', `${5 * BLOCK + 3}`, undefined, 5 * BLOCK + 3, MAIN_SIZE - 5 * BLOCK - 3],
    ['K suffixes, no --disk', '512K', '1K', BLOCK, 1024],
  ];

  it('unaligned ranges equal the same bytes of the source image', async () => {
    const results = await mapLimit(ranges, 2, ([what, offset, length]) =>
      repo.run([
        'image',
        'cat',
        MAIN_ID,
        ...(what.includes('no --disk') ? [] : ['--disk', 'root']),
        '--offset',
        offset,
        ...(length === undefined ? [] : ['--length', length]),
      ]),
    );
    ranges.forEach(([what, , , offset, length], i) => {
      const r = results[i]!;
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      const want = readRange(mainImg, offset, length);
      expect(want.length).toBe(length);
      expect(r.out.length, what).toBe(length);
      expect(r.out.equals(want), what).toBe(true);
    });
  });

  it('refuses ranges past the end, and a multi-disk point without --disk', async () => {
    const refused = await mapLimit(
      [
        [`${MAIN_SIZE - 10}`, '11'],
        [`${MAIN_SIZE + 1}`, undefined],
      ] as Array<[string, string | undefined]>,
      2,
      ([offset, length]) =>
        repo.run(['image', 'cat', MAIN_ID, '--offset', offset, ...(length ? ['--length', length] : [])]),
    );
    for (const r of refused) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expectOneLineError(r.stderr);
    }
    const [multi, bad] = await Promise.all([
      repo.run(['image', 'cat', multiId, '--length', '10']),
      repo.run(['image', 'cat', MAIN_ID, '--offset', '-5']),
    ]);
    expect(multi.code).toBe(2);
    expect(multi.stderr).toMatch(/--disk/);
    expect(bad.code).toBe(2);
  });
});
