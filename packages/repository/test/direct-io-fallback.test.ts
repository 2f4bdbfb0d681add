import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { alignedBuffers, DirectWriter } from '../src/direct-io.js';
import { CHUNK_SIZE } from '../src/format.js';
import { LocalStore } from '../src/store/local.js';
import { sha, tempDir } from './helpers.js';

/**
 * This kernel accepts O_DIRECT on every local file system (tmpfs included since Linux 6.6), so the refusals that
 * other file systems answer with EINVAL are simulated: direct descriptors are told apart by their open flags.
 */
const state = vi.hoisted(() => ({ refuseOpen: false, refuseWrite: false, directFds: new Set<number>() }));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const einval = () => Object.assign(new Error('EINVAL: invalid argument'), { code: 'EINVAL' });
  return {
    ...real,
    writev: (
      fd: number,
      bufs: NodeJS.ArrayBufferView[],
      pos: number,
      cb: (e: Error | null, n: number) => void,
    ) => {
      if (state.refuseWrite && state.directFds.has(fd)) return process.nextTick(cb, einval(), 0);
      return real.writev(fd, bufs, pos, cb);
    },
  };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const einval = () => Object.assign(new Error('EINVAL: invalid argument'), { code: 'EINVAL' });
  return {
    ...real,
    open: async (path: string, flags: number | string, mode?: number) => {
      const direct = typeof flags === 'number' && (flags & fs.constants.O_DIRECT) !== 0;
      if (direct && state.refuseOpen) throw einval();
      const fh = await real.open(path, flags, mode);
      if (direct && state.refuseWrite) {
        const write = fh.write.bind(fh) as (...a: unknown[]) => Promise<unknown>;
        (fh as { write: unknown }).write = (...a: unknown[]) =>
          state.refuseWrite ? Promise.reject(einval()) : write(...a);
      }
      return fh;
    },
  };
});

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('direct I/O refused by the file system', () => {
  for (const refusal of ['open', 'first write'] as const) {
    it(`LocalStore writes large objects buffered when O_DIRECT is refused at ${refusal}`, async () => {
      state.refuseOpen = refusal === 'open';
      state.refuseWrite = refusal === 'first write';
      try {
        const store = new LocalStore(join(tmp.path, refusal.replace(' ', '-')));
        for (const size of [2 * 1024 * 1024 + 5, 9 * 1024 * 1024]) {
          const data = randomBytes(size);
          await store.put(`data/x/${size}`, [data.subarray(0, 1000), data.subarray(1000)]);
          expect(sha(await store.get(`data/x/${size}`))).toBe(sha(data));
        }
      } finally {
        state.refuseOpen = state.refuseWrite = false;
      }
    });
  }

  it('DirectWriter rewrites a refused range buffered, and writes buffered from then on', async () => {
    const path = join(tmp.path, 'image');
    const fd = fs.openSync(path, 'w');
    const directFd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
    state.directFds.add(directFd);
    state.refuseWrite = true;
    try {
      const bufs = alignedBuffers(4, CHUNK_SIZE);
      for (const [i, b] of bufs.entries()) b.fill(`block ${i} `);
      const writer = new DirectWriter();
      expect(writer.usable).toBe(true);
      // blocks 0-1 (a range), 3, then a partial last block 5 from a plain buffer
      const tail = Buffer.from('the end');
      await writer.writeBlocks(fd, directFd, [
        { block: 0, data: bufs[0]! },
        { block: 1, data: bufs[1]! },
        { block: 3, data: bufs[2]! },
        { block: 5, data: tail },
      ]);
      expect(writer.usable).toBe(false);
      const out = fs.readFileSync(path);
      expect(out.length).toBe(5 * CHUNK_SIZE + tail.length);
      expect(sha(out.subarray(0, CHUNK_SIZE))).toBe(sha(bufs[0]!));
      expect(sha(out.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE))).toBe(sha(bufs[1]!));
      expect(out.subarray(2 * CHUNK_SIZE, 3 * CHUNK_SIZE).every((x) => x === 0)).toBe(true);
      expect(sha(out.subarray(3 * CHUNK_SIZE, 4 * CHUNK_SIZE))).toBe(sha(bufs[2]!));
      expect(out.subarray(5 * CHUNK_SIZE).toString()).toBe('the end');
    } finally {
      state.refuseWrite = false;
      fs.closeSync(fd);
      fs.closeSync(directFd);
    }
  });
});
