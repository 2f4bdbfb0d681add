import { closeSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { blobId, openBlob, sealBlob } from '../blob.js';
import { Codec } from '../compress.js';
import { deriveMasterKey } from '../crypto/keys.js';
import { alignedBuffers, DirectWriter, isAlignedMemory } from '../direct-io.js';
import { CHUNK_SIZE } from '../format.js';
import type {
  HashRequest,
  InitMessage,
  OpenRequest,
  SealRequest,
  WorkerReply,
  WorkerRequest,
} from './protocol.js';

/**
 * A data worker: hashing, compression and encryption of blocks on its own core. It reads image blocks itself
 * (file descriptors are shared by the whole process), so that block bytes never cross threads on the way in, and
 * writes restored blocks itself for the same reason on the way out.
 */
const init = workerData as InitMessage;
const key = deriveMasterKey(Buffer.from(init.secret), init.repositoryId);
const codec = new Codec();
const ZERO = Buffer.alloc(CHUNK_SIZE);
const held = new Map<string, { data: Buffer; id: Buffer }>();

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

/**
 * Restored blocks written with O_DIRECT must sit at aligned addresses (direct-io.ts): enough aligned block
 * buffers for the runs the main thread keeps in flight per worker (restore.ts RUNS_PER_WORKER x RUN_MAX_BLOCKS);
 * past that, blocks fall back to plain buffers and buffered writes.
 */
const ALIGNED_BLOCKS = 48;
let aligned: Buffer[] | undefined;
const direct = new DirectWriter();

function takeAligned(): Buffer {
  aligned ??= alignedBuffers(ALIGNED_BLOCKS, CHUNK_SIZE);
  return aligned.pop() ?? Buffer.allocUnsafeSlow(CHUNK_SIZE);
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

function hash(req: HashRequest): WorkerReply {
  const ids = req.blocks.map((block) => {
    const data = readBlock(req.fd, req.sizeBytes, block);
    if (data.equals(ZERO)) {
      giveBack(data);
      return null;
    }
    const id = blobId(key, data);
    held.set(`${req.job}:${block}`, { data, id });
    return new Uint8Array(id);
  });
  return { job: req.job, ids };
}

function seal(req: SealRequest): { reply: WorkerReply; transfer: ArrayBuffer[] } {
  const sealed: Uint8Array[][] = [];
  const transfer: ArrayBuffer[] = [];
  for (const block of req.blocks) {
    const h = held.get(`${req.job}:${block}`);
    if (!h) throw new Error(`block ${block} of job ${req.job} is not held`);
    // The cipher's outputs own their memory: they are moved to the main thread, not copied.
    const parts = sealBlob(key, codec, h.id, h.data)
      .filter((p) => p.length > 0)
      .map((p) => (p.byteOffset === 0 && p.byteLength === p.buffer.byteLength ? p : new Uint8Array(p)));
    for (const p of parts) transfer.push(p.buffer as ArrayBuffer);
    sealed.push(parts);
  }
  for (const [k, h] of held) {
    if (!k.startsWith(`${req.job}:`)) continue;
    held.delete(k);
    giveBack(h.data);
  }
  return { reply: { job: req.job, sealed }, transfer };
}

/**
 * Opens (authenticates, decrypts, decompresses) the blobs of a run, then writes them. The write is asynchronous so
 * that this thread opens the next run while the disk takes this one: a direct write waits for the device.
 */
async function openRun(req: OpenRequest): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  const run = Buffer.from(req.run.buffer, req.run.byteOffset, req.run.byteLength);
  const pending: Array<{ block: number; data: Buffer }> = [];
  const buffers: Buffer[] = [];
  const useDirect = (req.directFd ?? -1) >= 0 && direct.usable;
  const errors = req.items.map((item) => {
    try {
      // Blobs open into reused block buffers (given back once written), aligned ones for direct writes.
      const into = req.fd < 0 ? undefined : useDirect ? takeAligned() : takeBuffer();
      if (into) buffers.push(into);
      let plain = openBlob(
        key,
        codec,
        item.id,
        run.subarray(item.offset, item.offset + item.length),
        item.rawLength,
        req.verifyId,
        `chunk ${Buffer.from(item.id).toString('hex').slice(0, 16)}`,
        into,
      );
      if (!into) return null;
      if (plain.buffer !== into.buffer) plain = into.subarray(0, plain.copy(into)); // a blob stored raw
      pending.push({
        block: item.block,
        data: plain.subarray(0, Math.min(plain.length, req.sizeBytes - item.block * CHUNK_SIZE)),
      });
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  });
  // The read buffer goes back to the main thread to be read into again (nothing here refers to it now).
  if (req.fd < 0) return { reply: { job: req.job, errors }, transfer: [] };
  const reply = { reply: { job: req.job, errors, run: req.run }, transfer: [req.run.buffer as ArrayBuffer] };
  try {
    // The blocks that opened are written even when others did not: a partial restore keeps them, and a failing
    // one removes the whole file anyway.
    await direct.writeBlocks(req.fd, useDirect ? req.directFd! : -1, pending);
  } finally {
    for (const b of buffers) isAlignedMemory(b) ? aligned!.push(b) : giveBack(b);
  }
  return reply;
}

function replyError(req: { job?: number }, err: unknown): void {
  const e = err as NodeJS.ErrnoException;
  parentPort!.postMessage({ job: req.job ?? -1, error: e.code ? `${e.code}: ${e.message}` : e.message });
}

parentPort!.on('message', (req: WorkerRequest | { op: 'close'; fd: number }) => {
  try {
    if (req.op === 'hash') parentPort!.postMessage(hash(req));
    else if (req.op === 'seal') {
      const { reply, transfer } = seal(req);
      parentPort!.postMessage(reply, transfer);
    } else if (req.op === 'open') {
      // Every failure of the run, its reply included, travels back as an error reply: a rejection left
      // unhandled here would end the worker and, before the pool listened for that, the process.
      openRun(req)
        .then(({ reply, transfer }) => parentPort!.postMessage(reply, transfer))
        .catch((err: unknown) => replyError(req, err));
    } else if (req.op === 'close') closeSync(req.fd);
  } catch (err) {
    replyError(req as { job?: number }, err);
  }
});
