import { constants, openSync, writev } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { CHUNK_SIZE } from './format.js';

/**
 * Direct I/O (O_DIRECT) for the two big writers, restored images and pack files: each byte is written once and not
 * read back soon, and a buffered write must first find and fill a fresh page-cache page for every 4 KiB. On a
 * virtual machine whose free memory goes back to the host that costs 1.5-2.5 CPU-s per GiB written (measured
 * here: 4 GiB buffered 8-10 s, direct 2.3-2.9 s with 0.2 CPU-s), and on any machine it evicts what the page cache
 * held for other programs. O_DIRECT wants buffer addresses, file offsets and lengths aligned to the device's
 * logical block; DIRECT_ALIGN (4 KiB) covers the devices Lifeboat writes to, and a refusal (EINVAL) falls back
 * to buffered writes.
 */
export const DIRECT_ALIGN = 4096;

// Node has WebAssembly; the TypeScript lib this project builds with (no DOM) does not declare it.
declare const WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } };

const WASM_PAGE = 65536;
const aligned = new WeakSet<ArrayBufferLike>();

/**
 * `count` buffers of `size` bytes at page-aligned addresses. Plain Buffers are not aligned (malloc puts a header
 * before them) and JavaScript cannot see addresses; a WebAssembly memory starts on a page boundary.
 */
export function alignedBuffers(count: number, size: number): Buffer[] {
  if (size % WASM_PAGE !== 0) throw new Error(`aligned buffers are multiples of ${WASM_PAGE} bytes`);
  const memory = new WebAssembly.Memory({ initial: (count * size) / WASM_PAGE });
  aligned.add(memory.buffer);
  return Array.from({ length: count }, (_, i) => Buffer.from(memory.buffer, i * size, size));
}

/** Whether buf is (a slice of) memory from alignedBuffers; its offset must still be checked. */
export function isAlignedMemory(buf: Uint8Array): boolean {
  return aligned.has(buf.buffer) && buf.byteOffset % DIRECT_ALIGN === 0;
}

/** A descriptor of an existing file opened for direct writes, or -1 where the file system refuses (e.g. tmpfs before Linux 6.6). */
export function openDirect(path: string): number {
  if (constants.O_DIRECT === undefined) return -1;
  try {
    return openSync(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch {
    return -1;
  }
}

const STAGE_BYTES = 8 * 1024 * 1024;
const MAX_FREE_STAGES = 4;
const stages: Buffer[] = [];

/**
 * Writes `parts` (total bytes) from offset 0 of a new, empty file: whole 4 KiB pages through a direct descriptor
 * (copied into an aligned staging buffer first: the parts are the workers' sealed blobs, at any address), the last
 * partial page through `buffered`. Returns false, having written nothing, when the file system refuses direct
 * I/O; the caller then writes buffered. The caller fsyncs (the tail and the file's metadata need it).
 */
export async function writeDirect(
  path: string,
  buffered: FileHandle,
  parts: readonly Uint8Array[],
  total: number,
): Promise<boolean> {
  if (constants.O_DIRECT === undefined) return false;
  let direct: FileHandle;
  try {
    direct = await open(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch {
    return false;
  }
  const stage = stages.pop() ?? alignedBuffers(1, STAGE_BYTES)[0]!;
  try {
    let filled = 0;
    let position = 0;
    for (const part of parts) {
      for (let off = 0; off < part.length; ) {
        const n = Math.min(part.length - off, stage.length - filled);
        stage.set(part.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled < stage.length) continue;
        if (!(await writeFully(direct, stage, position, position === 0))) return false;
        position += filled;
        filled = 0;
      }
    }
    const whole = filled - (filled % DIRECT_ALIGN);
    if (whole > 0 && !(await writeFully(direct, stage.subarray(0, whole), position, position === 0))) {
      return false;
    }
    if (filled > whole) await writeFully(buffered, stage.subarray(whole, filled), position + whole, false);
    if (position + filled !== total) throw new Error(`wrote ${position + filled} of ${total} bytes`);
    return true;
  } finally {
    await direct.close();
    if (stages.length < MAX_FREE_STAGES) stages.push(stage);
  }
}

/**
 * Writes all of buf at position; a short write (a full disk) is continued and no progress at all is ENOSPC.
 * EINVAL on the first write of a file means the file system wants another alignment: false, nothing written.
 */
async function writeFully(fh: FileHandle, buf: Buffer, position: number, first: boolean): Promise<boolean> {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      ({ bytesWritten: n } = await fh.write(buf, done, buf.length - done, position + done));
    } catch (err) {
      if (first && done === 0 && (err as NodeJS.ErrnoException).code === 'EINVAL') return false;
      throw err;
    }
    if (n === 0) {
      throw Object.assign(new Error(`only ${position + done} bytes could be written`), { code: 'ENOSPC' });
    }
    done += n;
  }
  return true;
}

/**
 * Writes restored blocks, one positional writev per range of consecutive blocks: a run of a full backup is up to
 * 8 MiB of adjacent blocks, and one system call for it instead of sixteen halves the time spent in the file
 * system. Whole blocks in aligned memory go through `directFd` when there is one; a partial last block goes
 * through `fd`, and so does everything once the file system has refused a direct write (EINVAL: an alignment
 * stricter than ours), the refused range included.
 */
export class DirectWriter {
  private refused = false;

  get usable(): boolean {
    return !this.refused;
  }

  async writeBlocks(
    fd: number,
    directFd: number,
    blocks: ReadonlyArray<{ block: number; data: Buffer }>,
  ): Promise<void> {
    let i = 0;
    while (i < blocks.length) {
      let j = i + 1;
      while (j < blocks.length && blocks[j]!.block === blocks[j - 1]!.block + 1) j++;
      const range = blocks.slice(i, j).map((b) => b.data);
      const position = blocks[i]!.block * CHUNK_SIZE;
      i = j;
      const whole = range.every((b) => b.length === CHUNK_SIZE && isAlignedMemory(b));
      if (directFd >= 0 && whole && !this.refused) {
        try {
          await writevFully(directFd, range, position);
          continue;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
          this.refused = true;
        }
      }
      await writevFully(fd, range, position);
    }
  }
}

/**
 * Writes all of bufs at position. writev may write less than asked without an error (a full disk, a file size
 * limit): the rest is written again, and no progress at all is ENOSPC, so a short file is never taken for whole.
 */
export async function writevFully(fd: number, bufs: readonly Uint8Array[], position: number): Promise<void> {
  let left = bufs.reduce((n, b) => n + b.length, 0);
  while (left > 0) {
    const n = await new Promise<number>((resolve, reject) =>
      writev(fd, bufs, position, (err, written) => (err ? reject(err) : resolve(written))),
    );
    if (n === 0)
      throw Object.assign(new Error(`no byte could be written at ${position}`), { code: 'ENOSPC' });
    left -= n;
    position += n;
    if (left > 0) bufs = dropFront(bufs, n);
  }
}

function dropFront(bufs: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (n >= b.length) n -= b.length;
    else {
      out.push(b.subarray(n));
      n = 0;
    }
  }
  return out;
}
