import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { checkpoint } from './crash.js';
import { checkAborted, RepositoryError } from './errors.js';
import { CHUNK_SIZE, LEAF_BLOCKS, POINT_ID_PATTERN, pointKey } from './format.js';
import { type DiskRecord, encodeManifest, type Manifest, type ResourceRef } from './manifest.js';
import type { Progress } from './progress.js';
import { indexOrphanPacks } from './recover.js';
import type { Repository } from './repository.js';
import { BackupSession, doomedPacks } from './sessions.js';
import { TreeBuilder } from './tree/builder.js';
import { decodeNode, encodeLeaf, type Slot } from './tree/codec.js';
import { TreeReader } from './tree/reader.js';
import { WorkerPool } from './workers/pool.js';
import type { HashResult, SealResult } from './workers/protocol.js';
import { BlobWriter } from './writer.js';

export interface DiskSource {
  name: string;
  /** Path of a raw disk image (a file or a block device). */
  path: string;
  sourceSnapshotId?: string;
  /** Block indexes written since the parent's disk of the same name (changed block tracking). */
  changedBlocks?: readonly number[];
}

export interface BackupOptions {
  disks: DiskSource[];
  resource: ResourceRef;
  parent?: string;
  id?: string;
  tags?: Record<string, string>;
  configuration?: unknown;
  progress?: Progress;
  workers?: number;
  /** Aborting stops the backup between batches; no restore point is written. */
  signal?: AbortSignal;
}

const BATCH_BLOCKS = 8;
const BATCHES_PER_WORKER = 3;

/**
 * Backs up disk images into one new restore point. Blocks are read, hashed, compressed and encrypted by the
 * worker pool; only blocks whose id the repository lacks are sealed and stored. With a parent and a list of
 * changed blocks, only those blocks are read and every untouched leaf of the parent's disk map is reused as is.
 * The manifest is written last: until then, nothing of this backup is visible as a restore point.
 */
export async function backupImage(repo: Repository, options: BackupOptions): Promise<Manifest> {
  const started = new Date().toISOString();
  const id = options.id ?? newPointId();
  validateOptions(options, id);
  if (await repo.store.stat(pointKey(id))) {
    throw new RepositoryError('INVALID_ARGUMENT', `restore point ${id} already exists; choose another id`);
  }
  // Announce the session before reading anything of the repository (parent manifest, index), so that prune
  // cannot delete what this backup reuses; read prune plans after it, so as not to deduplicate against what
  // prune is about to delete (docs/repository-format.md, "Retention and garbage collection").
  const session = await BackupSession.start(repo);
  repo.invalidateIndex();
  let pool: WorkerPool | undefined;
  let writer: BlobWriter | undefined;
  try {
    // Started first: the threads load their modules (tens of ms) while this one reads the parent and the index.
    pool = new WorkerPool({ secret: repo.key.secret, repositoryId: repo.id }, options.workers);
    const parent = options.parent ? await repo.readPoint(options.parent) : undefined;
    writer = new BlobWriter(repo, await doomedPacks(repo));
    await repo.loadIndex();
    await indexOrphanPacks(repo, session.id);
    const disks: DiskRecord[] = [];
    for (const disk of options.disks) {
      const parentDisk = parent?.disks.find((d) => d.name === disk.name);
      if (disk.changedBlocks && !parentDisk) {
        throw new RepositoryError(
          'INVALID_ARGUMENT',
          parent
            ? `restore point ${parent.id} has no disk "${disk.name}" (it has: ${parent.disks.map((d) => d.name).join(', ')}); a changed-block list needs the same disk in the parent`
            : 'a changed-block list needs --parent: the restore point the changes are relative to',
        );
      }
      disks.push(await backupDisk(repo, pool!, writer, disk, parentDisk, options.progress, options.signal));
    }
    await writer.flush();
    const manifest: Manifest = {
      format: 1,
      id,
      resource: options.resource,
      disks,
      ...(parent ? { parent: parent.id } : {}),
      startedAt: started,
      finishedAt: new Date().toISOString(),
      tags: options.tags ?? {},
      ...(options.configuration !== undefined ? { configuration: options.configuration } : {}),
      client: 'lifeboat/0.1.0',
    };
    await checkpoint('backup:before-manifest');
    await repo.store.put(pointKey(id), encodeManifest(repo.key, repo.codec, manifest));
    await checkpoint('backup:after-manifest');
    return manifest;
  } catch (err) {
    await writer?.salvage();
    throw err;
  } finally {
    await pool?.close();
    await session.end().catch(() => {}); // an expired marker stops holding prune back anyway
  }
}

export function newPointId(): string {
  return `rp-${randomBytes(10).toString('hex')}`;
}

function validateOptions(options: BackupOptions, id: string): void {
  if (!POINT_ID_PATTERN.test(id)) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `"${id}" is not a valid restore point id (7-64 of a-z, 0-9 and -)`,
    );
  }
  if (options.disks.length === 0) throw new RepositoryError('INVALID_ARGUMENT', 'no disk to back up');
  const names = new Set<string>();
  for (const d of options.disks) {
    if (!d.name || names.has(d.name)) {
      throw new RepositoryError('INVALID_ARGUMENT', `disk names must be unique and non-empty ("${d.name}")`);
    }
    names.add(d.name);
  }
}

interface DiskContext {
  repo: Repository;
  pool: WorkerPool;
  writer: BlobWriter;
  fd: number;
  sizeBytes: number;
  progress?: Progress;
  signal?: AbortSignal;
  stats: DiskRecord['stats'];
}

async function backupDisk(
  repo: Repository,
  pool: WorkerPool,
  writer: BlobWriter,
  disk: DiskSource,
  parentDisk: DiskRecord | undefined,
  progress: Progress | undefined,
  signal: AbortSignal | undefined,
): Promise<DiskRecord> {
  let fd: number;
  try {
    fd = openSync(disk.path, 'r');
  } catch (cause) {
    throw new RepositoryError(
      'SOURCE_IO',
      `cannot open image ${disk.path} of disk "${disk.name}": ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    const sizeBytes = fstatSync(fd).size;
    if (sizeBytes === 0)
      throw new RepositoryError('INVALID_ARGUMENT', `image ${disk.path} of disk "${disk.name}" is empty`);
    const blocks = Math.ceil(sizeBytes / CHUNK_SIZE);
    const ctx: DiskContext = {
      repo,
      pool,
      writer,
      fd,
      sizeBytes,
      progress,
      signal,
      stats: { dataBlocks: 0, blocksRead: 0, newChunks: 0, newBytesStored: 0 },
    };
    const bytesBefore = writer.blobBytesAdded;
    const changed = disk.changedBlocks ? normalizeChanged(disk.changedBlocks, blocks, disk.name) : undefined;
    progress?.start(`disk ${disk.name}`, (changed ? changed.length : blocks) * CHUNK_SIZE);
    const builder = new TreeBuilder(blocks, (plain) => writer.addTree(plain));
    if (changed && parentDisk) await incrementalLeaves(ctx, builder, blocks, changed, parentDisk);
    else await fullLeaves(ctx, builder, blocks);
    const tree = builder.finish();
    ctx.stats.newBytesStored = writer.blobBytesAdded - bytesBefore;
    await checkpoint('backup:disk-done');
    progress?.done();
    return {
      name: disk.name,
      sizeBytes,
      ...(disk.sourceSnapshotId ? { sourceSnapshotId: disk.sourceSnapshotId } : {}),
      tree: { root: tree.root ? tree.root.toString('hex') : null, height: tree.height },
      stats: ctx.stats,
    };
  } finally {
    closeSync(fd);
  }
}

function normalizeChanged(list: readonly number[], blocks: number, name: string): number[] {
  for (const b of list) {
    if (!Number.isInteger(b) || b < 0 || b >= blocks) {
      throw new RepositoryError(
        'INVALID_ARGUMENT',
        `changed block ${b} of disk "${name}" is outside the image (blocks 0-${blocks - 1} of ${CHUNK_SIZE} bytes)`,
      );
    }
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

/** Reads every block; each leaf is assembled from the ordered results. */
async function fullLeaves(ctx: DiskContext, builder: TreeBuilder, blocks: number): Promise<void> {
  let leaf: Slot[] = [];
  let leafIndex = 0;
  const emit = async () => {
    ctx.stats.dataBlocks += leaf.length;
    await builder.pushLeaf(leafIndex++, leaf.length ? await ctx.writer.addTree(encodeLeaf(leaf)) : null);
    leaf = [];
  };
  for await (const { block, id } of processBlocks(ctx, rangeOf(blocks))) {
    while (Math.floor(block / LEAF_BLOCKS) > leafIndex) await emit();
    if (id) leaf.push({ slot: block % LEAF_BLOCKS, id });
  }
  while (leafIndex < builder.leafCount) await emit();
}

/** Reads only changed blocks; leaves without changes are the parent's, by id. */
async function incrementalLeaves(
  ctx: DiskContext,
  builder: TreeBuilder,
  blocks: number,
  changed: number[],
  parentDisk: DiskRecord,
): Promise<void> {
  const parentTree = new TreeReader(
    {
      root: parentDisk.tree.root ? Buffer.from(parentDisk.tree.root, 'hex') : null,
      height: parentDisk.tree.height,
    },
    (id) => ctx.repo.loadBlob(id, `parent disk ${parentDisk.name}`),
    `parent disk ${parentDisk.name}`,
  );
  const parentBlocks = Math.ceil(parentDisk.sizeBytes / CHUNK_SIZE);
  ctx.stats.dataBlocks = parentDisk.stats.dataBlocks;
  const doomed = ctx.writer.avoidsSomePacks
    ? await doomedInParent(ctx, parentTree, Math.min(parentBlocks, blocks))
    : undefined;
  const toRead = doomed ? [...new Set([...changed, ...doomed.blocks])].sort((a, b) => a - b) : changed;
  const results = processBlocks(ctx, toRead)[Symbol.asyncIterator]();
  let next = await results.next();
  for (let leafIndex = 0; leafIndex < builder.leafCount; leafIndex++) {
    const first = leafIndex * LEAF_BLOCKS;
    const inParent = first < parentBlocks ? await parentTree.leafId(leafIndex) : null;
    const untouched = next.done || Math.floor(next.value.block / LEAF_BLOCKS) !== leafIndex;
    if (untouched && !doomed?.leaves.has(leafIndex)) {
      // Untouched: the parent's leaf, trimmed to nothing if the disk shrank below it.
      await builder.pushLeaf(leafIndex, first < blocks ? inParent : null);
      continue;
    }
    const slots = new Map<number, Buffer>();
    if (inParent)
      for (const e of decodeNode(await ctx.repo.loadBlob(inParent, 'parent leaf'), 'parent leaf').entries)
        slots.set(e.slot, e.id);
    const before = slots.size;
    while (!next.done && Math.floor(next.value.block / LEAF_BLOCKS) === leafIndex) {
      const slot = next.value.block % LEAF_BLOCKS;
      if (next.value.id) slots.set(slot, next.value.id);
      else slots.delete(slot);
      next = await results.next();
    }
    for (const slot of slots.keys()) if (first + slot >= blocks) slots.delete(slot);
    ctx.stats.dataBlocks += slots.size - before;
    const entries = [...slots].sort((a, b) => a[0] - b[0]).map(([slot, id]) => ({ slot, id }));
    await builder.pushLeaf(leafIndex, entries.length ? await ctx.writer.addTree(encodeLeaf(entries)) : null);
  }
}

/**
 * When prune plans doom some packs, the parent's leaves may name blobs that only those packs hold (a backup that
 * deduplicated against them before the plan made the parent). Reusing them by id would make this restore point
 * depend on packs about to be deleted: such blocks are read again from the image and such leaves rewritten.
 */
async function doomedInParent(
  ctx: DiskContext,
  parent: TreeReader,
  blocks: number,
): Promise<{ blocks: number[]; leaves: Set<number> }> {
  const out = { blocks: [] as number[], leaves: new Set<number>() };
  for await (const { leafIndex, id } of parent.leaves()) {
    if (leafIndex * LEAF_BLOCKS >= blocks) break;
    if (!(await ctx.writer.knows(id))) out.leaves.add(leafIndex);
    for (const { block, id: chunk } of await parent.leafBlocks(leafIndex, id)) {
      if (block < blocks && !(await ctx.writer.knows(chunk))) out.blocks.push(block);
    }
  }
  return out;
}

function* rangeOf(n: number): Iterable<number> {
  for (let i = 0; i < n; i++) yield i;
}

/**
 * The pipeline: batches of blocks go to workers (read + zero check + hash); blocks whose id is new are sealed by
 * the same worker and added to packs. Results come back in block order; at most BATCHES_PER_WORKER batches per
 * worker are in flight, which bounds memory.
 */
async function* processBlocks(
  ctx: DiskContext,
  blocks: Iterable<number>,
): AsyncIterable<{ block: number; id: Buffer | null }> {
  const inFlight: Array<Promise<Array<{ block: number; id: Buffer | null }>>> = [];
  const sealing = new Set<string>(); // new ids being sealed by some batch: others reference them
  const maxInFlight = ctx.pool.size * BATCHES_PER_WORKER;
  let batch: number[] = [];
  const launch = () => {
    checkAborted(ctx.signal, 'the backup');
    const p = runBatch(ctx, batch, sealing);
    p.catch(() => {}); // observed when awaited in order below
    inFlight.push(p);
    batch = [];
  };
  for (const block of blocks) {
    batch.push(block);
    if (batch.length === BATCH_BLOCKS) launch();
    if (inFlight.length >= maxInFlight) yield* await inFlight.shift()!;
  }
  if (batch.length) launch();
  while (inFlight.length) yield* await inFlight.shift()!;
}

async function runBatch(
  ctx: DiskContext,
  blocks: number[],
  sealing: Set<string>,
): Promise<Array<{ block: number; id: Buffer | null }>> {
  const { job, worker } = ctx.pool.newJob();
  const hashed = await ctx.pool.request<HashResult>(worker, {
    op: 'hash',
    job,
    fd: ctx.fd,
    sizeBytes: ctx.sizeBytes,
    blocks,
  });
  const ids = hashed.ids.map((id) => (id ? Buffer.from(id.buffer, id.byteOffset, id.byteLength) : null));
  const toSeal: number[] = [];
  const sealIds: Buffer[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const id = ids[i];
    if (!id) continue;
    const k = id.toString('latin1');
    if (sealing.has(k) || (await ctx.writer.knows(id))) continue;
    sealing.add(k);
    toSeal.push(blocks[i]!);
    sealIds.push(id);
  }
  const sealed = await ctx.pool.request<SealResult>(worker, { op: 'seal', job, blocks: toSeal });
  for (let i = 0; i < toSeal.length; i++) {
    await ctx.writer.addSealed('data', sealIds[i]!, sealed.sealed[i]!, CHUNK_SIZE);
    sealing.delete(sealIds[i]!.toString('latin1'));
  }
  ctx.stats.blocksRead += blocks.length;
  ctx.stats.newChunks += toSeal.length;
  ctx.progress?.advance(blocks.length * CHUNK_SIZE);
  return blocks.map((block, i) => ({ block, id: ids[i]! }));
}
