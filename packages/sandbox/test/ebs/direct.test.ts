import {
  closeSync,
  constants,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../src/core/blocks.js';
import { readBlock, writeBlock } from '../../src/ebs/blockio.js';
import { ALIGNMENT, alignedBlock, alignedBuffer, isAligned } from '../../src/ebs/direct.js';
import { FdCache } from '../../src/ebs/files.js';
import { block, expectBytes } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'direct-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fd's open flags, from /proc (Linux): whether it really was opened with O_DIRECT. */
function isDirectFd(fd: number): boolean {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const flags = Number.parseInt(/flags:\s*(\d+)/.exec(info)?.[1] ?? '0', 8);
  return (flags & constants.O_DIRECT) !== 0;
}

/** The inode an fd refers to now, or undefined once it is closed. */
function inodeOf(fd: number): number | undefined {
  try {
    return fstatSync(fd).ino;
  } catch {
    return undefined;
  }
}

describe('aligned memory', () => {
  it('hands out distinct 512 KiB blocks at 4096-aligned offsets of aligned memory', () => {
    const blocks = Array.from({ length: 40 }, () => alignedBlock()); // spans three groups
    for (const b of blocks) {
      expect(b.length).toBe(BLOCK_SIZE);
      expect(b.byteOffset % ALIGNMENT).toBe(0);
      expect(isAligned(b)).toBe(true);
    }
    for (const [i, b] of blocks.entries()) b.fill(i);
    const ends = blocks.map((b) => [b[0], b[BLOCK_SIZE - 1]]);
    expect(ends).toEqual(blocks.map((_, i) => [i, i])); // no overlap
  });

  it('tells plain buffers and misaligned views apart', () => {
    expect(isAligned(Buffer.allocUnsafeSlow(BLOCK_SIZE))).toBe(false);
    expect(isAligned(Buffer.alloc(BLOCK_SIZE))).toBe(false);
    const b = alignedBlock();
    expect(isAligned(b.subarray(ALIGNMENT))).toBe(true);
    expect(isAligned(b.subarray(512))).toBe(false);
    expect(isAligned(b.subarray(0, 1000))).toBe(false);
    const big = alignedBuffer(3 * BLOCK_SIZE);
    expect(big.length).toBe(3 * BLOCK_SIZE);
    expect(big.every((x) => x === 0)).toBe(true);
    expect(isAligned(big.subarray(BLOCK_SIZE, 2 * BLOCK_SIZE))).toBe(true);
  });

  it('is accepted by O_DIRECT writes and reads where plain buffers are not', () => {
    const path = join(dir, 'probe.dat');
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_DIRECT, 0o644);
    try {
      const data = alignedBlock();
      data.set(block(7));
      const fds = new FdCache();
      writeBlock(fds, path, data, BLOCK_SIZE);
      const back = alignedBlock();
      readBlock(fds, path, back, BLOCK_SIZE);
      expectBytes(back, block(7));
      fds.closeAll();
      expect(() => writeSync(fd, Buffer.alloc(BLOCK_SIZE), 0, BLOCK_SIZE, 0)).toThrow(/EINVAL/);
    } finally {
      closeSync(fd);
    }
  });
});

describe('FdCache', () => {
  it('opens a second, O_DIRECT descriptor beside the buffered one; none when direct I/O is off', () => {
    const path = join(dir, 'two.dat');
    const fds = new FdCache();
    const buffered = fds.get(path);
    const direct = fds.direct(path) as number;
    expect(direct).not.toBe(buffered);
    expect(isDirectFd(direct)).toBe(true);
    expect(isDirectFd(buffered)).toBe(false);
    fds.closeAll();
    const off = new FdCache(false);
    expect(off.direct(path)).toBeUndefined();
    off.closeAll();
  });

  it('closes a file it evicts from its LRU and opens it again on next use', () => {
    const path = join(dir, 'evicted.dat');
    writeFileSync(path, block(3));
    const fds = new FdCache();
    const first = fds.get(path, false);
    const ino = inodeOf(first);
    for (let i = 0; i < 600; i++) fds.get(join(dir, `other-${i}.dat`)); // evicts it
    expect(inodeOf(first)).not.toBe(ino); // closed (its number may be reused by another file)
    const into = alignedBlock();
    readBlock(fds, path, into, 0);
    expectBytes(into, block(3));
    fds.closeAll();
  });

  it('does not create a removed file to read it: ENOENT, and the file stays gone', () => {
    const path = join(dir, 'removed.dat');
    writeFileSync(path, Buffer.concat([block(1), block(2)]));
    const fds = new FdCache();
    const into = alignedBlock();
    readBlock(fds, path, into, BLOCK_SIZE);
    expectBytes(into, block(2));
    fds.close(path);
    rmSync(path);
    expect(() => readBlock(fds, path, alignedBlock(), 0)).toThrow(/ENOENT/);
    expect(() => readBlock(fds, path, Buffer.alloc(BLOCK_SIZE), 0)).toThrow(/ENOENT/); // buffered too
    expect(() => fstatSync(openSync(path, constants.O_RDONLY))).toThrow(/ENOENT/);
    fds.closeAll();
  });
});
