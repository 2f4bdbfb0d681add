import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import { openBlob } from './blob.js';
import { openDirect } from './direct-io.js';
import { checkAborted, isRepositoryError, RepositoryError } from './errors.js';
import { CHUNK_SIZE, packKey } from './format.js';
import type { DiskRecord, Manifest } from './manifest.js';
import type { IndexEntry } from './pack.js';
import type { Progress } from './progress.js';
import type { Repository } from './repository.js';
import { createTemporary, ownerTag, removeStaleTemporaries } from './tempfile.js';
import { TreeReader } from './tree/reader.js';
import { TaskGroup } from './util.js';
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
  /**
   * Restore what can be restored: damaged ranges are left as zeros and returned (and saved beside the image as
   * `<target>.damaged.json`) instead of ending the restore.
   */
  partial?: boolean;
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

/** A byte range of a restored disk that could not be restored (zeros in the image): `--partial`'s report. */
export interface DamagedExtent {
  disk: string;
  offset: number;
  length: number;
  reason: string;
}

/** What restoreDisk restored: the disk's record and, with `partial`, the ranges it had to leave zero. */
export interface RestoredDisk extends DiskRecord {
  damaged: DamagedExtent[];
}

/** Errors that mean the repository's bytes are damaged or missing (not that the store or the target failed). */
function isDamage(err: unknown): boolean {
  return isRepositoryError(err, 'REPO_CORRUPT') || isRepositoryError(err, 'NOT_FOUND');
}

/**
 * Collects damaged blocks of one disk. Without `partial` the first one ends the restore (a damaged() error);
 * with it, the block range is recorded and left as zeros, and the restore goes on.
 */
class DamageLog {
  private readonly ranges: Array<{ first: number; last: number; reasons: string[] }> = [];

  constructor(
    private readonly point: Manifest,
    private readonly disk: DiskRecord,
    private readonly partial: boolean,
    private readonly progress?: Progress,
  ) {}

  /** Blocks [first, first + count) are lost for `reason`: thrown without partial, recorded with it. */
  add(first: number, count: number, reason: string, dataBlocks = count): void {
    const blocks = Math.ceil(this.disk.sizeBytes / CHUNK_SIZE);
    const last = Math.min(first + count, blocks) - 1;
    if (!this.partial) throw damaged(this.point, this.disk, first, reason, last);
    if (last < first) return;
    this.ranges.push({ first, last, reasons: [reason] });
    this.progress?.advance(dataBlocks * CHUNK_SIZE);
  }

  /** The damaged ranges in disk order, adjacent ones merged (their reasons listed together). */
  extents(): DamagedExtent[] {
    const sorted = [...this.ranges].sort((a, b) => a.first - b.first);
    const merged: typeof sorted = [];
    for (const r of sorted) {
      const prev = merged.at(-1);
      if (prev && r.first <= prev.last + 1) {
        prev.last = Math.max(prev.last, r.last);
        for (const why of r.reasons) if (!prev.reasons.includes(why)) prev.reasons.push(why);
      } else merged.push({ ...r, reasons: [...r.reasons] });
    }
    return merged.map((r) => {
      const offset = r.first * CHUNK_SIZE;
      const end = Math.min((r.last + 1) * CHUNK_SIZE, this.disk.sizeBytes);
      const shown = r.reasons.slice(0, 3).join('; ');
      const more = r.reasons.length > 3 ? `; and ${r.reasons.length - 3} more` : '';
      return { disk: this.disk.name, offset, length: end - offset, reason: shown + more };
    });
  }
}

/**
 * Restores one disk into a file: a temporary file beside the target, sparse (holes are never written), filled by
 * the workers (authenticate and decrypt, decompress, write), renamed over the target only when every block is
 * right (fsynced first with `sync`). Pack reads are coalesced into runs of up to 8 MiB of adjacent blobs.
 *
 * Damaged data (a blob that fails authentication, a pack or index entry that is missing, a tree node that does not
 * open) ends the restore with a REPO_CORRUPT error naming the byte range, and the temporary file is removed. With
 * `partial`, every intact block is written and each damaged range stays zero: one block per damaged chunk, every
 * block below a damaged tree node; the image is renamed into place and the ranges are returned.
 */
export async function restoreDisk(
  repo: Repository,
  point: Manifest,
  diskName: string | undefined,
  target: string,
  options: RestoreOptions = {},
): Promise<RestoredDisk> {
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
  removeStaleTemporaries(target); // what a killed restore of this target left
  const index = await repo.loadIndex();
  let tmp: string;
  let fd: number;
  try {
    ({ path: tmp, fd } = createTemporary(target));
  } catch (cause) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `cannot create a temporary file beside ${target}: ${(cause as Error).message}`,
      { cause },
    );
  }
  let directFd = -1;
  let pool: WorkerPool | undefined;
  let group: TaskGroup | undefined;
  let ok = false;
  try {
    // Whole blocks go through a second, direct descriptor (direct-io.ts); a partial last block through fd.
    directFd = options.directIo === false ? -1 : openDirect(tmp);
    pool = new WorkerPool({ secret: repo.key.secret, repositoryId: repo.id }, options.workers);
    const workers = pool;
    const runs = new TaskGroup(workers.size * RUNS_PER_WORKER);
    group = runs;
    ftruncateSync(fd, disk.sizeBytes);
    options.progress?.start(`restore ${disk.name}`, disk.stats.dataBlocks * CHUNK_SIZE);
    const log = new DamageLog(point, disk, Boolean(options.partial), options.progress);
    const tree = diskTree(repo, point, disk);
    const buffers: ArrayBuffer[] = [];
    const files = { fd, directFd, buffers };
    for await (const run of runsOf(tree, index.get.bind(index), disk, log)) {
      checkAborted(options.signal, `the restore of ${disk.name} to ${target}`);
      await runs.add(() =>
        restoreRun(repo, workers, run, files, disk, log, Boolean(options.verifyIds), options.progress),
      );
    }
    await runs.finish();
    checkAborted(options.signal, `the restore of ${disk.name} to ${target}`);
    if (options.sync) fsyncSync(fd);
    if (directFd >= 0) closeSync(directFd);
    directFd = -1;
    closeSync(fd);
    fd = -1;
    const extents = log.extents();
    const report = `${target}.damaged.json`;
    if (extents.length) writeDamageReport(report, point, disk, extents);
    else rmSync(report, { force: true }); // an earlier partial restore's list, now untrue
    renameSync(tmp, target);
    ok = true;
    options.progress?.done();
    return { ...disk, damaged: extents };
  } finally {
    // Nothing may still write into the file when it is closed and removed (a descriptor number is reused).
    await group?.drain();
    await pool?.close();
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
        // already renamed
      }
    }
  }
}

/** `<image>.damaged.json`: the ranges a partial restore left zero, written whole before the image is renamed. */
function writeDamageReport(path: string, point: Manifest, disk: DiskRecord, extents: DamagedExtent[]): void {
  const body = {
    point: point.id,
    disk: disk.name,
    sizeBytes: disk.sizeBytes,
    image: basename(path.slice(0, -'.damaged.json'.length)),
    damaged: extents,
  };
  const tmp = `${path}.${ownerTag()}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * The runs of a disk, in block order. Damage met on the way (a tree node that does not open, a chunk in no
 * index file) goes to the log: it throws without partial, and the blocks are skipped with it.
 */
async function* runsOf(
  tree: TreeReader,
  lookup: (id: Uint8Array) => IndexEntry | undefined,
  disk: DiskRecord,
  log: DamageLog,
): AsyncIterable<Run> {
  let run: Run | undefined;
  for await (const { block, id } of tree.blocks((first, count, err) => {
    if (!isDamage(err)) throw err;
    log.add(first, count, `tree node: ${(err as Error).message}`, dataBlocksIn(disk, first, count));
  })) {
    const entry = lookup(id);
    if (!entry) {
      log.add(block, 1, `chunk ${id.toString('hex').slice(0, 16)} is in no index file`);
      continue;
    }
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
  if (run) yield run;
}

/** Progress counts data blocks; below a lost tree node their number is unknown: the share of the disk's. */
function dataBlocksIn(disk: DiskRecord, first: number, count: number): number {
  const blocks = Math.max(1, Math.ceil(disk.sizeBytes / CHUNK_SIZE));
  return Math.round((disk.stats.dataBlocks * Math.min(count, blocks - first)) / blocks);
}

/**
 * Reads a run of a pack and has a worker open and write its blobs. Read buffers go to the worker and come back
 * with its reply, to be read into again: a fresh 8 MiB buffer per run costs page faults on every byte restored.
 * A run that cannot be read whole (a truncated pack) is read blob by blob, so that only what is lost is lost.
 */
async function restoreRun(
  repo: Repository,
  pool: WorkerPool,
  run: Run,
  files: { fd: number; directFd: number; buffers: ArrayBuffer[] },
  disk: DiskRecord,
  log: DamageLog,
  verifyIds: boolean,
  progress?: Progress,
): Promise<void> {
  let bytes: Buffer;
  const into = new Uint8Array(files.buffers.pop() ?? new ArrayBuffer(RUN_MAX_BYTES));
  try {
    bytes = await repo.store.getRange(packKey('data', run.packId), run.offset, run.length, into);
  } catch (err) {
    if (!isDamage(err)) throw err;
    if (run.items.length === 1) {
      const why = `pack ${run.packId}: ${(err as Error).message}`;
      return log.add(run.items[0]!.block, 1, why);
    }
    files.buffers.push(into.buffer as ArrayBuffer);
    for (const item of run.items) {
      const one: Run = { ...run, offset: item.entry.offset, length: item.entry.length, items: [item] };
      await restoreRun(repo, pool, one, files, disk, log, verifyIds, progress);
    }
    return;
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
      fd: files.fd,
      directFd: files.directFd,
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
  if (result.run?.buffer.byteLength === RUN_MAX_BYTES) files.buffers.push(result.run.buffer as ArrayBuffer);
  let good = 0;
  result.errors.forEach((e, i) => {
    if (e === null) good++;
    else log.add(run.items[i]!.block, 1, `pack ${run.packId}: ${e}`);
  });
  progress?.advance(good * CHUNK_SIZE);
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
    let id: Buffer | null;
    try {
      id = await this.tree.blockId(block);
    } catch (err) {
      if (!isDamage(err)) throw err;
      throw damaged(this.point, this.disk, block, `tree node: ${(err as Error).message}`);
    }
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
      if (!isDamage(err)) throw err;
      throw damaged(this.point, this.disk, block, (err as Error).message);
    }
  }
}
