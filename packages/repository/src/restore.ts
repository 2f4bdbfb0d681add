import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openBlob } from './blob.js';
import { openDirect } from './direct-io.js';
import { checkAborted, RepositoryError } from './errors.js';
import { CHUNK_SIZE, packKey } from './format.js';
import type { DiskRecord, Manifest } from './manifest.js';
import type { IndexEntry } from './pack.js';
import type { Progress } from './progress.js';
import type { Repository } from './repository.js';
import { TreeReader } from './tree/reader.js';
import { WorkerPool } from './workers/pool.js';
import type { OpenResult } from './workers/protocol.js';

const RUN_MAX_BYTES = 8 * 1024 * 1024;
/** A worker decompresses a whole run before writing it: bounded in blocks too, as blobs may compress 1000:1. */
const RUN_MAX_BLOCKS = 16;
const RUNS_PER_WORKER = 3;

export interface RestoreOptions {
  progress?: Progress;
  workers?: number;
  overwrite?: boolean;
  signal?: AbortSignal;
  /**
   * fsync the image before renaming it into place (durable against a power cut at once); off by default, as with
   * cp, restic and borg: the kernel writes it back.
   */
  sync?: boolean;
  /**
   * Hash every restored block again and compare with its id. Off by default: each blob is authenticated with
   * AES-GCM under a key derived from its id, so a blob altered, swapped or read from the wrong place never
   * decrypts; this re-checks that the backup itself sealed the right bytes (check --read-data always does).
   */
  verifyIds?: boolean;
  /** Write whole blocks with O_DIRECT where the file system allows it (default true; see direct-io.ts). */
  directIo?: boolean;
}

export function findDisk(point: Manifest, name?: string): DiskRecord {
  if (name === undefined) {
    if (point.disks.length === 1) return point.disks[0]!;
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `restore point ${point.id} has ${point.disks.length} disks (${point.disks.map((d) => d.name).join(', ')}): choose one with --disk`,
    );
  }
  const disk = point.disks.find((d) => d.name === name);
  if (!disk) {
    throw new RepositoryError(
      'NOT_FOUND',
      `restore point ${point.id} has no disk "${name}" (it has: ${point.disks.map((d) => d.name).join(', ')})`,
    );
  }
  return disk;
}

export function diskTree(repo: Repository, point: Manifest, disk: DiskRecord): TreeReader {
  const what = `restore point ${point.id} disk ${disk.name}`;
  return new TreeReader(
    { root: disk.tree.root ? Buffer.from(disk.tree.root, 'hex') : null, height: disk.tree.height },
    (id) => repo.loadBlob(id, `${what} tree`),
    what,
  );
}

interface Run {
  type: 'data';
  packId: string;
  offset: number;
  length: number;
  items: Array<{ entry: IndexEntry; block: number }>;
}

/**
 * Restores one disk into a file: a temporary file beside the target, sparse (holes are never written), filled by
 * the workers (authenticate and decrypt, decompress, write), renamed over the target only when every block is
 * right (fsynced first with `sync`). Pack reads are coalesced into runs of up to 8 MiB of adjacent blobs.
 */
export async function restoreDisk(
  repo: Repository,
  point: Manifest,
  diskName: string | undefined,
  target: string,
  options: RestoreOptions = {},
): Promise<DiskRecord> {
  const disk = findDisk(point, diskName);
  if (!existsSync(dirname(target))) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `the directory ${dirname(target)} of ${target} does not exist`,
    );
  }
  if (!options.overwrite && existsSync(target)) {
    throw new RepositoryError('INVALID_ARGUMENT', `${target} exists; remove it or pass --overwrite`);
  }
  const index = await repo.loadIndex();
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.lifeboat-tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx');
  } catch (cause) {
    throw new RepositoryError('INVALID_ARGUMENT', `cannot create ${tmp}: ${(cause as Error).message}`, {
      cause,
    });
  }
  // Whole blocks go through a second, direct descriptor (direct-io.ts); a partial last block through fd.
  const directFd = options.directIo === false ? -1 : openDirect(tmp);
  const pool = new WorkerPool({ secret: repo.key.secret, repositoryId: repo.id }, options.workers);
  let ok = false;
  try {
    ftruncateSync(fd, disk.sizeBytes);
    options.progress?.start(`restore ${disk.name}`, disk.stats.dataBlocks * CHUNK_SIZE);
    const tree = diskTree(repo, point, disk);
    const inFlight: Array<Promise<void>> = [];
    const limit = pool.size * RUNS_PER_WORKER;
    const buffers: ArrayBuffer[] = [];
    for await (const run of runsOf(tree, index.get.bind(index), point, disk)) {
      checkAborted(options.signal, `the restore of ${disk.name} to ${target}`);
      inFlight.push(
        restoreRun(
          repo,
          pool,
          run,
          { fd, directFd, buffers },
          disk,
          point,
          Boolean(options.verifyIds),
          options.progress,
        ),
      );
      if (inFlight.length >= limit) await inFlight.shift();
    }
    await Promise.all(inFlight);
    checkAborted(options.signal, `the restore of ${disk.name} to ${target}`);
    if (options.sync) fsyncSync(fd);
    if (directFd >= 0) closeSync(directFd);
    closeSync(fd);
    renameSync(tmp, target);
    ok = true;
    options.progress?.done();
    return disk;
  } finally {
    await pool.close();
    if (!ok) {
      for (const f of [fd, directFd]) {
        try {
          if (f >= 0) closeSync(f);
        } catch {
          // already closed
        }
      }
      try {
        unlinkSync(tmp);
      } catch {
        // never created or already renamed
      }
    }
  }
}

async function* runsOf(
  tree: TreeReader,
  lookup: (id: Uint8Array) => IndexEntry | undefined,
  point: Manifest,
  disk: DiskRecord,
): AsyncIterable<Run> {
  let run: Run | undefined;
  for await (const leaf of tree.leaves()) {
    for (const { block, id } of await tree.leafBlocks(leaf.leafIndex, leaf.id)) {
      const entry = lookup(id);
      if (!entry)
        throw damaged(point, disk, block, `chunk ${id.toString('hex').slice(0, 16)} is in no index file`);
      if (
        run &&
        run.packId === entry.packId &&
        run.offset + run.length === entry.offset &&
        run.length + entry.length <= RUN_MAX_BYTES &&
        run.items.length < RUN_MAX_BLOCKS
      ) {
        run.length += entry.length;
        run.items.push({ entry, block });
        continue;
      }
      if (run) yield run;
      run = {
        type: 'data',
        packId: entry.packId,
        offset: entry.offset,
        length: entry.length,
        items: [{ entry, block }],
      };
    }
  }
  if (run) yield run;
}

/**
 * Reads a run of a pack and has a worker open and write its blobs. Read buffers go to the worker and come back
 * with its reply, to be read into again: a fresh 8 MiB buffer per run costs page faults on every byte restored.
 */
async function restoreRun(
  repo: Repository,
  pool: WorkerPool,
  run: Run,
  { fd, directFd, buffers }: { fd: number; directFd: number; buffers: ArrayBuffer[] },
  disk: DiskRecord,
  point: Manifest,
  verifyIds: boolean,
  progress?: Progress,
): Promise<void> {
  let bytes: Buffer;
  const into = new Uint8Array(buffers.pop() ?? new ArrayBuffer(RUN_MAX_BYTES));
  try {
    bytes = await repo.store.getRange(packKey('data', run.packId), run.offset, run.length, into);
  } catch (err) {
    const first = run.items[0]!.block;
    throw damaged(
      point,
      disk,
      first,
      `pack ${run.packId}: ${(err as Error).message}`,
      run.items.at(-1)!.block,
    );
  }
  const { job, worker } = pool.newJob();
  const run8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const transferable =
    bytes.buffer === into.buffer || (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength);
  const result = await pool.request<OpenResult>(
    worker,
    {
      op: 'open',
      job,
      run: run8,
      fd,
      directFd,
      sizeBytes: disk.sizeBytes,
      verifyId: verifyIds,
      items: run.items.map(({ entry, block }) => ({
        id: entry.id,
        offset: entry.offset - run.offset,
        length: entry.length,
        rawLength: entry.rawLength,
        block,
      })),
    },
    transferable ? [bytes.buffer as ArrayBuffer] : [],
  );
  if (result.run?.buffer.byteLength === RUN_MAX_BYTES) buffers.push(result.run.buffer as ArrayBuffer);
  const bad = result.errors.findIndex((e) => e !== null);
  if (bad >= 0)
    throw damaged(point, disk, run.items[bad]!.block, `pack ${run.packId}: ${result.errors[bad]}`);
  progress?.advance(run.items.length * CHUNK_SIZE);
}

export function damaged(
  point: Manifest,
  disk: DiskRecord,
  block: number,
  reason: string,
  lastBlock = block,
): RepositoryError {
  const start = block * CHUNK_SIZE;
  const end = Math.min((lastBlock + 1) * CHUNK_SIZE, disk.sizeBytes) - 1;
  return new RepositoryError(
    'REPO_CORRUPT',
    `restore point ${point.id}, disk ${disk.name}, bytes ${start}-${end} (block ${block}${lastBlock !== block ? `-${lastBlock}` : ''}) cannot be restored: ${reason}. Run "lifeboat repo check --read-data" for the full extent of the damage`,
  );
}

/**
 * Random access to a disk of a restore point, without restoring the rest: what `image cat` and file-level
 * recovery read. Each block is authenticated and verified against its id before any byte of it is returned.
 */
export class DiskReader {
  private readonly tree: TreeReader;

  constructor(
    private readonly repo: Repository,
    private readonly point: Manifest,
    readonly disk: DiskRecord,
  ) {
    this.tree = diskTree(repo, point, disk);
  }

  get sizeBytes(): number {
    return this.disk.sizeBytes;
  }

  /** Yields the bytes [offset, offset+length) in pieces of at most one block. */
  async *read(offset: number, length: number): AsyncIterable<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RepositoryError('INVALID_ARGUMENT', 'offset and length must be non-negative integers');
    }
    if (offset + length > this.disk.sizeBytes) {
      throw new RepositoryError(
        'INVALID_ARGUMENT',
        `bytes ${offset}-${offset + length - 1} are past the end of disk ${this.disk.name} (${this.disk.sizeBytes} bytes)`,
      );
    }
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const block = Math.floor(pos / CHUNK_SIZE);
      const from = pos - block * CHUNK_SIZE;
      const to = Math.min(CHUNK_SIZE, end - block * CHUNK_SIZE);
      yield (await this.block(block)).subarray(from, to);
      pos = block * CHUNK_SIZE + to;
    }
  }

  /** The whole block (zeros for a hole). */
  async block(block: number): Promise<Buffer> {
    const id = await this.tree.blockId(block);
    if (!id) return Buffer.alloc(CHUNK_SIZE);
    const entry = (await this.repo.loadIndex()).get(id);
    if (!entry)
      throw damaged(
        this.point,
        this.disk,
        block,
        `chunk ${id.toString('hex').slice(0, 16)} is in no index file`,
      );
    try {
      const sealed = await this.repo.store.getRange(
        packKey('data', entry.packId),
        entry.offset,
        entry.length,
      );
      return openBlob(
        this.repo.key,
        this.repo.codec,
        id,
        sealed,
        entry.rawLength,
        true,
        `chunk in pack ${entry.packId}`,
      );
    } catch (err) {
      throw damaged(this.point, this.disk, block, (err as Error).message);
    }
  }
}
