import { read, readSync, writeSync } from 'node:fs';
import { isAligned } from './direct.js';
import { type FdCache, isEinval, type Pin } from './files.js';

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

/** Fills `into` from `pos`; the file must hold that many bytes there. */
export function readBlock(fds: FdCache, path: string, into: Uint8Array, pos: number): void {
  if (isAligned(into)) {
    const fd = fds.direct(path);
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
  readFully(fds.get(path), into, pos, path);
}

/**
 * readBlock on libuv's thread pool, so that several reads are in flight and the event loop does not wait on
 * the disk. The fd is pinned for the read's duration: evicting or closing the file (its layer deleted) while
 * it runs defers the close, so the read never lands on a closed or reused fd number; a removed file's bytes
 * stay readable through the open fd until then.
 */
export async function readBlockAsync(fds: FdCache, path: string, into: Uint8Array, pos: number) {
  // Pinned before the first await: the caller found the block's file in this same tick.
  let pin: Pin = fds.pin(path, isAligned(into));
  try {
    await readFullyAsync(pin.fd, into, pos, path);
  } catch (e) {
    if (!pin.direct || !isEinval(e)) throw e;
    pin.release();
    fds.refuseDirect(path);
    pin = fds.pin(path, false);
    await readFullyAsync(pin.fd, into, pos, path);
  } finally {
    pin.release();
  }
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

function readFullyAsync(fd: number, into: Uint8Array, pos: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = () =>
      read(fd, into, done, into.length - done, pos + done, (err, n) => {
        if (err) return reject(err);
        if (n === 0) return reject(shortFile(path, pos));
        done += n;
        if (done < into.length) step();
        else resolve();
      });
    step();
  });
}

function shortFile(path: string, pos: number): Error {
  return new Error(`${path} ends inside the block at ${pos}`);
}
