import { closeSync, fstatSync, openSync, readSync, writevSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { blobId, openBlob, type PackedBlob, packBlob, sealBlob, sealPacked } from '../blob.js';
import { Codec } from '../compress.js';
import { deriveMasterKey, type MasterKey } from '../crypto/keys.js';
import { idFromDigest, sha256 } from '../crypto/seal.js';
import { CHUNK_SIZE } from '../format.js';
import type {
  HashRequest,
  InitMessage,
  OpenRequest,
  PrefetchRequest,
  SealRequest,
  WorkerMessage,
  WorkerReply,
  WorkerRequest,
} from './protocol.js';

/**
 * A data worker: hashing, compression and encryption of blocks on its own core. It reads image blocks itself
 * (file descriptors are shared by the whole process), so that block bytes never cross threads on the way in, and
 * writes restored blocks itself for the same reason on the way out.
 */
const init = workerData as InitMessage | undefined;
let masterKey: MasterKey | undefined = init && deriveMasterKey(Buffer.from(init.secret), init.repositoryId);
const codec = new Codec();
const ZERO = Buffer.alloc(CHUNK_SIZE);

/**
 * Blocks held between a job's requests, by "job:block". `hash` holds the bytes for `seal`; a prefetch holds the
 * SHA-256 and the compressed form (the bytes only when they do not compress), or `zero` for an all-zero block.
 */
interface Held {
  data?: Buffer;
  id?: Buffer;
  digest?: Buffer;
  packed?: PackedBlob;
  zero?: boolean;
}
const held = new Map<string, Held>();
/** Prefetch jobs that failed, with why: their `hash` reports it. */
const failedPrefetch = new Map<number, string>();

function key(): MasterKey {
  if (!masterKey) throw new Error('the worker has no repository key yet');
  return masterKey;
}

/**
 * Block buffers are reused: a fresh 512 KiB buffer per block costs page faults and leaves garbage that the GC
 * collects late (memory grows by hundreds of MiB on a large disk).
 */
const free: Buffer[] = [];
const MAX_FREE = 32;

function takeBuffer(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_SIZE);
}

function giveBack(buf: Buffer): void {
  if (free.length < MAX_FREE) free.push(buf);
}

function readBlock(fd: number, sizeBytes: number, block: number): Buffer {
  const buf = takeBuffer();
  const start = block * CHUNK_SIZE;
  const want = Math.min(CHUNK_SIZE, sizeBytes - start);
  let done = 0;
  while (done < want) {
    const n = readSync(fd, buf, done, want - done, start + done);
    if (n === 0) break;
    done += n;
  }
  if (done < want) throw new Error(`the image ended at byte ${start + done}, before its size ${sizeBytes}`);
  if (done < CHUNK_SIZE) buf.fill(0, done); // the last block of an image is zero-padded, as EBS pads it
  return buf;
}

function prefetch(req: PrefetchRequest): void {
  let fd: number | undefined;
  try {
    fd = openSync(req.path, 'r');
    const sizeBytes = fstatSync(fd).size;
    for (const block of req.blocks) {
      const data = readBlock(fd, sizeBytes, block);
      if (data.equals(ZERO)) {
        giveBack(data);
        held.set(`${req.job}:${block}`, { zero: true });
        continue;
      }
      const packed = packBlob(codec, data);
      const keep = packed.payload === data; // stored raw: the bytes are the payload
      if (!keep) giveBack(data);
      held.set(`${req.job}:${block}`, { digest: sha256(data), packed, ...(keep ? { data } : {}) });
    }
  } catch (err) {
    failedPrefetch.set(req.job, describe(err));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function hash(req: HashRequest): WorkerReply {
  const failed = failedPrefetch.get(req.job);
  if (failed !== undefined) {
    failedPrefetch.delete(req.job);
    throw new Error(failed);
  }
  const ids = req.blocks.map((block) => {
    const k = `${req.job}:${block}`;
    const pre = held.get(k);
    if (pre?.zero) {
      held.delete(k);
      return null;
    }
    if (pre?.digest) {
      pre.id = idFromDigest(key().idKey, pre.digest);
      return new Uint8Array(pre.id);
    }
    const data = readBlock(req.fd, req.sizeBytes, block);
    if (data.equals(ZERO)) {
      giveBack(data);
      return null;
    }
    const id = blobId(key(), data);
    held.set(k, { data, id });
    return new Uint8Array(id);
  });
  return { job: req.job, ids };
}

function drop(jobs: readonly number[]): void {
  for (const job of jobs) {
    failedPrefetch.delete(job);
    release(job);
  }
}

/** Forgets what a job holds, returning block buffers to the free list. */
function release(job: number): void {
  for (const [k, h] of held) {
    if (!k.startsWith(`${job}:`)) continue;
    held.delete(k);
    if (h.data) giveBack(h.data);
  }
}

function seal(req: SealRequest): { reply: WorkerReply; transfer: ArrayBuffer[] } {
  const sealed: Uint8Array[][] = [];
  const transfer: ArrayBuffer[] = [];
  for (const block of req.blocks) {
    const h = held.get(`${req.job}:${block}`);
    if (!h?.id) throw new Error(`block ${block} of job ${req.job} is not held`);
    // The cipher's outputs own their memory: they are moved to the main thread, not copied.
    const parts = (h.packed ? sealPacked(key(), h.id, h.packed) : sealBlob(key(), codec, h.id, h.data!))
      .filter((p) => p.length > 0)
      .map((p) => (p.byteOffset === 0 && p.byteLength === p.buffer.byteLength ? p : new Uint8Array(p)));
    for (const p of parts) transfer.push(p.buffer as ArrayBuffer);
    sealed.push(parts);
  }
  release(req.job);
  return { reply: { job: req.job, sealed }, transfer };
}

function openRun(req: OpenRequest): { reply: WorkerReply; transfer: ArrayBuffer[] } {
  const run = Buffer.from(req.run.buffer, req.run.byteOffset, req.run.byteLength);
  const pending: Array<{ block: number; data: Buffer }> = [];
  const buffers: Buffer[] = [];
  const errors = req.items.map((item) => {
    try {
      const into = req.fd >= 0 ? takeBuffer() : undefined;
      if (into) buffers.push(into);
      const plain = openBlob(
        key(),
        codec,
        item.id,
        run.subarray(item.offset, item.offset + item.length),
        item.rawLength,
        req.verifyId,
        `chunk ${Buffer.from(item.id).toString('hex').slice(0, 16)}`,
        into,
      );
      if (req.fd >= 0)
        pending.push({
          block: item.block,
          data: plain.subarray(0, Math.min(plain.length, req.sizeBytes - item.block * CHUNK_SIZE)),
        });
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  });
  try {
    if (errors.every((e) => e === null)) writeBlocks(req.fd, pending);
  } finally {
    for (const b of buffers) giveBack(b);
  }
  // A restore's read buffer goes back to the main thread to be read into again (nothing here refers to it now).
  if (req.fd < 0) return { reply: { job: req.job, errors }, transfer: [] };
  return { reply: { job: req.job, errors, run: req.run }, transfer: [req.run.buffer as ArrayBuffer] };
}

/**
 * Writes restored blocks, one positional writev per range of consecutive blocks: a run of a full backup is up to
 * 8 MiB of adjacent blocks, and one system call for it instead of sixteen halves the time spent in the file
 * system (both workers write the same file, under its inode lock).
 */
function writeBlocks(fd: number, blocks: Array<{ block: number; data: Buffer }>): void {
  let i = 0;
  while (i < blocks.length) {
    let j = i + 1;
    while (j < blocks.length && blocks[j]!.block === blocks[j - 1]!.block + 1) j++;
    let bufs = blocks.slice(i, j).map((b) => b.data);
    let position = blocks[i]!.block * CHUNK_SIZE;
    let left = bufs.reduce((n, b) => n + b.length, 0);
    while (left > 0) {
      const n = writevSync(fd, bufs, position);
      left -= n;
      position += n;
      if (left > 0) bufs = dropFront(bufs, n);
    }
    i = j;
  }
}

function dropFront(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bufs) {
    if (n >= b.length) n -= b.length;
    else {
      out.push(b.subarray(n));
      n = 0;
    }
  }
  return out;
}

parentPort!.on('message', (req: WorkerRequest | WorkerMessage | { op: 'close'; fd: number }) => {
  // Messages without a reply first: they must not answer, or a failure would reach no one.
  if (req.op === 'key') {
    masterKey = deriveMasterKey(Buffer.from(req.secret), req.repositoryId);
    return;
  }
  if (req.op === 'prefetch') return prefetch(req);
  if (req.op === 'drop') return drop(req.jobs);
  try {
    if (req.op === 'hash') parentPort!.postMessage(hash(req));
    else if (req.op === 'seal') {
      const { reply, transfer } = seal(req);
      parentPort!.postMessage(reply, transfer);
    } else if (req.op === 'open') {
      const { reply, transfer } = openRun(req);
      parentPort!.postMessage(reply, transfer);
    } else if (req.op === 'close') closeSync(req.fd);
  } catch (err) {
    parentPort!.postMessage({ job: (req as { job?: number }).job ?? -1, error: describe(err) });
  }
});

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : e.message;
}
