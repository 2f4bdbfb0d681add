import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BLOCK_SIZE } from '../core/blocks.js';

/** Byte ranges of a file that hold data, [start, end). */
export type Range = [number, number];

/**
 * The data ranges of a sparse file, from SEEK_DATA/SEEK_HOLE (through xfs_io, as Node has no lseek), so that a
 * mostly empty 8 GiB image is read in milliseconds. Without xfs_io, the whole file is one range and zero blocks
 * are skipped while reading.
 */
export function dataRanges(path: string): Range[] {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  closeSync(fd);
  const r = spawnSync('xfs_io', ['-r', '-c', 'seek -r -a 0', path], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return size ? [[0, size]] : [];
  const ranges: Range[] = [];
  let start: number | undefined;
  for (const line of r.stdout.split('\n')) {
    const m = /^(DATA|HOLE)\s+(\d+|EOF)/.exec(line);
    if (!m) continue;
    const at = m[2] === 'EOF' ? size : Number(m[2]);
    if (m[1] === 'DATA') start = at;
    else if (start !== undefined) {
      ranges.push([start, at]);
      start = undefined;
    }
  }
  if (start !== undefined) ranges.push([start, size]);
  return ranges;
}

/**
 * Calls write(offset, bytes) for every non-zero block-aligned chunk of a sparse file, at `base` + its offset in
 * the file. Chunks are BLOCK_SIZE long (the last may be shorter) and aligned on the destination's blocks.
 */
export function forEachDataBlock(
  path: string,
  base: number,
  write: (offset: number, data: Buffer) => void,
): number {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(BLOCK_SIZE);
  const zero = Buffer.alloc(BLOCK_SIZE);
  let written = 0;
  try {
    let next = 0; // first file offset not yet handled, so that ranges sharing a block read it once
    for (const [start, end] of dataRanges(path)) {
      let pos = Math.max(next, 0, start - ((base + start) % BLOCK_SIZE));
      while (pos < end) {
        const len = Math.min(BLOCK_SIZE - ((base + pos) % BLOCK_SIZE), size - pos);
        const n = readSync(fd, buf, 0, len, pos);
        const chunk = buf.subarray(0, n);
        if (n > 0 && !chunk.equals(zero.subarray(0, n))) {
          write(base + pos, Buffer.from(chunk));
          written += n;
        }
        pos += len;
      }
      next = pos;
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
