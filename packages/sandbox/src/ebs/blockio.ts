import { readSync, writeSync } from 'node:fs';
import { isAligned } from './direct.js';
import { type FdCache, isEinval } from './files.js';

/**
 * Block I/O on data files: O_DIRECT when the buffer is aligned memory (direct.ts) and the file system takes it,
 * buffered otherwise. Each slot is written once (slots are never reused), and Linux keeps the two coherent
 * anyway: a direct read first writes back dirty cached pages of its range, a direct write drops them.
 */

/** Writes all of `data` at `pos`. */
export function writeBlock(fds: FdCache, path: string, data: Uint8Array, pos: number): void {
  if (isAligned(data)) {
    const fd = fds.direct(path);
    if (fd !== undefined) {
      try {
        writeFully(fd, data, pos);
        return;
      } catch (e) {
        if (!isEinval(e)) throw e;
        fds.refuseDirect(path); // then write it all again, buffered
      }
    }
  }
  writeFully(fds.get(path), data, pos);
}

/** Fills `into` from `pos`; the file must exist and hold that many bytes there. */
export function readBlock(fds: FdCache, path: string, into: Uint8Array, pos: number): void {
  if (isAligned(into)) {
    const fd = fds.direct(path, false);
    if (fd !== undefined) {
      try {
        readFully(fd, into, pos, path);
        return;
      } catch (e) {
        if (!isEinval(e)) throw e;
        fds.refuseDirect(path);
      }
    }
  }
  readFully(fds.get(path, false), into, pos, path);
}

function writeFully(fd: number, data: Uint8Array, pos: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, pos + done);
}

function readFully(fd: number, into: Uint8Array, pos: number, path: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, pos + done);
    if (n === 0) throw shortFile(path, pos);
    done += n;
  }
}

function shortFile(path: string, pos: number): Error {
  return new Error(`${path} ends inside the block at ${pos}`);
}
