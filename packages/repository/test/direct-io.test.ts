import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupImage } from '../src/backup.js';
import { alignedBuffers, isAlignedMemory } from '../src/direct-io.js';
import { CHUNK_SIZE } from '../src/format.js';
import { restoreDisk } from '../src/restore.js';
import { LocalStore } from '../src/store/local.js';
import { newRepo, prng, sha, tempDir } from './helpers.js';

const tmp = tempDir();
// Another file system (tmpfs takes O_DIRECT since Linux 6.6; refusals are simulated in direct-io-fallback.test.ts).
const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/lb-direct-') : undefined;
afterAll(() => {
  tmp.cleanup();
  if (shm) rmSync(shm, { recursive: true, force: true });
});
const p = (name: string) => join(tmp.path, name);

describe('aligned buffers', () => {
  it('are page-aligned slices of one memory; plain Buffers are not aligned memory', () => {
    const bufs = alignedBuffers(3, CHUNK_SIZE);
    expect(bufs.map((b) => [b.length, b.byteOffset])).toEqual([
      [CHUNK_SIZE, 0],
      [CHUNK_SIZE, CHUNK_SIZE],
      [CHUNK_SIZE, 2 * CHUNK_SIZE],
    ]);
    expect(bufs.every(isAlignedMemory)).toBe(true);
    expect(isAlignedMemory(bufs[0]!.subarray(100))).toBe(false);
    expect(isAlignedMemory(Buffer.allocUnsafeSlow(CHUNK_SIZE))).toBe(false);
    expect(() => alignedBuffers(1, 1000)).toThrow(/multiples/);
  });
});

describe('LocalStore with direct I/O', () => {
  // Sizes around the 1 MiB threshold, the 8 MiB staging buffer and 4 KiB pages; parts of odd sizes.
  const sizes = [
    1024 * 1024 - 1,
    1024 * 1024,
    1024 * 1024 + 1,
    8 * 1024 * 1024,
    8 * 1024 * 1024 + 4095,
    20_000_777,
  ];
  const places = [
    { name: 'ext4, direct', dir: () => p('s-direct'), directIo: true },
    { name: 'ext4, --no-direct-io', dir: () => p('s-buffered'), directIo: false },
    ...(shm ? [{ name: 'tmpfs', dir: () => join(shm, 's'), directIo: true }] : []),
  ];
  for (const place of places) {
    it(`stores and reads back large objects made of odd parts: ${place.name}`, async () => {
      const store = new LocalStore(place.dir(), { directIo: place.directIo });
      for (const size of sizes) {
        const whole = randomBytes(size);
        const parts: Buffer[] = [];
        for (let off = 0, k = 1; off < size; k++) {
          const n = Math.min(size - off, 777 + ((k * 104_729) % 3_000_000));
          parts.push(whole.subarray(off, off + n));
          off += n;
        }
        const key = `data/objects/${size}`;
        await store.put(key, parts);
        expect(sha(await store.get(key))).toBe(sha(whole));
        await expect(store.put(key, parts)).rejects.toMatchObject({ code: 'OBJECT_EXISTS' });
      }
      expect(readdirSync(join(place.dir(), '.tmp'))).toEqual([]);
    });
  }
});

describe('restore with direct I/O', () => {
  it('writes the same image direct, buffered and on tmpfs: odd size, raw and compressible blocks, long runs', async () => {
    // 40 distinct, highly compressible blocks in a row (runs are cut at 16 blocks), random ones, holes, and a
    // last block of 4,321 bytes (written buffered: not a whole page).
    const blocks = 60;
    const size = (blocks - 1) * CHUNK_SIZE + 4321;
    const img = Buffer.alloc(size);
    for (let b = 0; b < blocks; b++) {
      const block = img.subarray(b * CHUNK_SIZE, Math.min(size, (b + 1) * CHUNK_SIZE));
      if (b < 40) block.fill(`block ${b} of a compressible run; `);
      else if (b % 3 === 0) prng(`r${b}`, block.length).copy(block);
      else if (b === blocks - 1) block.fill('tail');
    }
    writeFileSync(p('odd.img'), img);
    const repo = await newRepo(p('r'));
    const point = await backupImage(repo, {
      disks: [{ name: 'root', path: p('odd.img') }],
      resource: { id: 'odd', kind: 'image' },
    });
    const targets = [
      { target: p('direct.out'), directIo: true },
      { target: p('buffered.out'), directIo: false },
      ...(shm ? [{ target: join(shm, 'tmpfs.out'), directIo: true }] : []),
    ];
    for (const { target, directIo } of targets) {
      await restoreDisk(repo, point, 'root', target, { directIo });
      expect(sha(readFileSync(target)), target).toBe(sha(img));
    }
  });
});
