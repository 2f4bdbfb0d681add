import {
  CHUNK_SIZE,
  DATA_PREFIX,
  INDEX_PREFIX,
  LEAF_BLOCKS,
  NODE_FANOUT,
  POINTS_PREFIX,
  packKey,
  TREE_PACK_PREFIX,
} from './format.js';
import type { BlobIndex } from './index/master.js';
import type { DiskRecord, Manifest } from './manifest.js';
import { type IndexEntry, readPackTrailer } from './pack.js';
import type { Progress } from './progress.js';
import type { Repository } from './repository.js';
import { decodeNode } from './tree/codec.js';
import { TaskGroup } from './util.js';
import { WorkerPool } from './workers/pool.js';
import type { OpenResult } from './workers/protocol.js';

export interface DamagedRange {
  start: number; // byte offsets in the disk, inclusive
  end: number;
  reason: string;
}

export interface DamagedDisk {
  point: string;
  disk: string;
  ranges: DamagedRange[];
}

export interface CheckReport {
  ok: boolean;
  /** Damage not tied to a disk range: unreadable index files, manifests, packs. */
  problems: string[];
  damaged: DamagedDisk[];
  /** Every blob that cannot be read where the index says (or is in no index file), for repair. */
  badBlobs: Array<{ id: string; packId?: string; type?: 'data' | 'tree'; reason: string }>;
  stats: {
    points: number;
    indexFiles: number;
    packs: number;
    blobs: number;
    packBytesRead: number;
    blobsVerified: number;
  };
}

/**
 * Checks the repository's structure (every index file and manifest opens, every blob a restore point needs is
 * indexed, in a pack that exists and is long enough) and, with readData, every byte of every pack (each blob
 * authenticates, decompresses and matches its id; each trailer agrees with the index). Damage is reported as
 * restore points, disks and byte ranges.
 */
export async function checkRepository(
  repo: Repository,
  options: { readData?: boolean; progress?: Progress; workers?: number } = {},
): Promise<CheckReport> {
  const report: CheckReport = {
    ok: true,
    problems: [],
    damaged: [],
    badBlobs: [],
    stats: { points: 0, indexFiles: 0, packs: 0, blobs: 0, packBytesRead: 0, blobsVerified: 0 },
  };
  // A key slot file that does not parse cannot open the repository any more (the slot that opened it parsed).
  for (const err of await repo.damagedKeySlots()) report.problems.push(err.message);
  const packs = new Map<string, number>(); // key -> size
  for (const prefix of [DATA_PREFIX, TREE_PACK_PREFIX])
    for await (const o of repo.store.list(prefix)) packs.set(o.key, o.size);
  report.stats.packs = packs.size;
  // The index is built afresh from the store (not the local cache) on disk, so memory stays bounded whatever
  // the number of blobs: check must see what a restore on another machine would see.
  let damagedFiles = 0;
  const index = await repo.openFreshIndex((key, err) => {
    damagedFiles++;
    report.problems.push(err.message.includes(key) ? err.message : `index file ${key}: ${err.message}`);
  });
  try {
    for await (const _ of repo.store.list(INDEX_PREFIX)) report.stats.indexFiles++;
    report.stats.indexFiles -= damagedFiles;
    const bad = new Map<string, string>(); // blob id (latin1) -> reason
    const indexedInPack = new Map<string, number>(); // pack key -> blobs the index places there
    for (const e of index.entries()) {
      report.stats.blobs++;
      const key = packKey(e.type, e.packId);
      indexedInPack.set(key, (indexedInPack.get(key) ?? 0) + 1);
      const size = packs.get(key);
      if (size === undefined) bad.set(e.id.toString('latin1'), `pack ${key} is missing`);
      else if (e.offset + e.length > size)
        bad.set(e.id.toString('latin1'), `pack ${key} is truncated (${size} bytes)`);
    }
    if (options.readData) await readAllPacks(repo, packs, index, indexedInPack, bad, report, options);

    const manifests = await loadManifests(repo, report);
    report.stats.points = manifests.length;
    for (const m of manifests) {
      for (const disk of m.disks) {
        const ranges = await checkDisk(repo, index, bad, disk);
        if (ranges.length) report.damaged.push({ point: m.id, disk: disk.name, ranges });
      }
    }
    for (const [k, reason] of bad) {
      const e = index.get(Buffer.from(k, 'latin1'));
      report.badBlobs.push({
        id: Buffer.from(k, 'latin1').toString('hex'),
        packId: e?.packId,
        type: e?.type,
        reason,
      });
    }
  } finally {
    index.close();
  }
  report.ok = report.problems.length === 0 && report.damaged.length === 0;
  return report;
}

async function loadManifests(repo: Repository, report: CheckReport): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const id of await repo.pointIds()) {
    try {
      out.push(await repo.readPointExact(id));
    } catch (err) {
      report.problems.push(`restore point ${id} (${POINTS_PREFIX}${id}): ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * Reads every pack whole (one per worker at a time) and verifies each blob the index places in it. Which blobs
 * those are comes from the pack's own trailer looked up in the index, not from a list of every index entry
 * grouped by pack (that would hold the whole index in memory); a pack the index places more blobs in than its
 * trailer confirms is resolved by one more pass over the index at the end.
 */
async function readAllPacks(
  repo: Repository,
  packs: Map<string, number>,
  index: BlobIndex,
  indexedInPack: Map<string, number>,
  bad: Map<string, string>,
  report: CheckReport,
  options: { progress?: Progress; workers?: number },
): Promise<void> {
  const pool = new WorkerPool({ secret: repo.key.secret, repositoryId: repo.id }, options.workers);
  options.progress?.start(
    'read data',
    [...packs.values()].reduce((a, b) => a + b, 0),
  );
  const unconfirmed = new Map<string, Set<string> | undefined>(); // pack key -> trailer ids (undefined: unreadable)
  const tasks = new TaskGroup(pool.size);
  try {
    for (const [key, size] of packs) {
      await tasks.add(() =>
        verifyPack(repo, pool, key, index, indexedInPack.get(key) ?? 0, bad, report, unconfirmed),
      );
      options.progress?.advance(size);
    }
    await tasks.finish();
  } finally {
    await tasks.drain();
    await pool.close();
    options.progress?.done();
  }
  if (unconfirmed.size === 0) return;
  for (const e of index.entries()) {
    const key = packKey(e.type, e.packId);
    if (!unconfirmed.has(key)) continue;
    const k = e.id.toString('latin1');
    const trailer = unconfirmed.get(key);
    if (!trailer) {
      if (!bad.has(k)) bad.set(k, `pack ${key} is unreadable`);
    } else if (!trailer.has(k)) bad.set(k, `pack ${key} disagrees with the index`);
  }
}

async function verifyPack(
  repo: Repository,
  pool: WorkerPool,
  key: string,
  index: BlobIndex,
  indexed: number,
  bad: Map<string, string>,
  report: CheckReport,
  unconfirmed: Map<string, Set<string> | undefined>,
): Promise<void> {
  const packId = key.slice(key.lastIndexOf('/') + 1);
  let pack: Buffer;
  let trailer: IndexEntry[];
  try {
    pack = await repo.store.get(key);
    report.stats.packBytesRead += pack.length;
    trailer = readPackTrailer(repo.key, packId, pack, `pack ${key}`);
  } catch (err) {
    report.problems.push(`pack ${key}: ${(err as Error).message}`);
    if (indexed > 0) unconfirmed.set(key, undefined);
    return;
  }
  // Only the copy the index points to is in use: a damaged copy elsewhere (repaired, or garbage) is not damage.
  const inUse = trailer.map((t) => {
    const e = index.get(t.id);
    return e !== undefined && e.packId === packId && packKey(e.type, e.packId) === key ? e : undefined;
  });
  let confirmed = 0;
  inUse.forEach((e, i) => {
    if (!e) return;
    confirmed++;
    const t = trailer[i]!;
    if (t.offset !== e.offset || t.length !== e.length)
      bad.set(t.id.toString('latin1'), `pack ${key} disagrees with the index`);
  });
  if (confirmed < indexed) unconfirmed.set(key, new Set(trailer.map((t) => t.id.toString('latin1'))));
  const { job, worker } = pool.newJob();
  const bytes = new Uint8Array(pack.buffer, pack.byteOffset, pack.byteLength);
  const transfer =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? [bytes.buffer as ArrayBuffer]
      : [];
  const result = await pool.request<OpenResult>(
    worker,
    {
      op: 'open',
      job,
      run: bytes,
      fd: -1,
      sizeBytes: 0,
      verifyId: true,
      items: trailer.map((e) => ({
        id: e.id,
        offset: e.offset,
        length: e.length,
        rawLength: e.rawLength,
        block: 0,
      })),
    },
    transfer,
  );
  report.stats.blobsVerified += trailer.length;
  result.errors.forEach((error, i) => {
    if (!error || !inUse[i]) return;
    const k = trailer[i]!.id.toString('latin1');
    bad.set(k, `pack ${key}: ${error}`);
    report.problems.push(`pack ${key}: blob ${trailer[i]!.id.toString('hex').slice(0, 16)}: ${error}`);
  });
}

/** Walks a disk map; returns the damaged byte ranges, merged. */
async function checkDisk(
  repo: Repository,
  index: BlobIndex,
  bad: Map<string, string>,
  disk: DiskRecord,
): Promise<DamagedRange[]> {
  const ranges: DamagedRange[] = [];
  const blocks = Math.ceil(disk.sizeBytes / CHUNK_SIZE);
  const mark = (first: number, count: number, reason: string) => {
    const start = first * CHUNK_SIZE;
    const end = Math.min((first + count) * CHUNK_SIZE, disk.sizeBytes) - 1;
    const last = ranges.at(-1);
    if (last && last.end + 1 === start && last.reason === reason) last.end = end;
    else ranges.push({ start, end, reason });
  };
  const problem = (id: Buffer): string | undefined => {
    const entry = index.get(id);
    if (!entry) {
      const reason = `blob ${id.toString('hex').slice(0, 16)} is in no index file`;
      bad.set(id.toString('latin1'), reason);
      return reason;
    }
    return bad.get(id.toString('latin1'));
  };
  const walk = async (id: Buffer, level: number, firstBlock: number): Promise<void> => {
    const span = LEAF_BLOCKS * NODE_FANOUT ** level; // blocks covered by this node
    const reason = problem(id);
    if (reason) return mark(firstBlock, Math.min(span, blocks - firstBlock), `tree node: ${reason}`);
    let node: ReturnType<typeof decodeNode>;
    try {
      node = decodeNode(
        await repo.loadBlob(id, `disk ${disk.name} tree`, index),
        `disk ${disk.name} tree node`,
      );
    } catch (err) {
      return mark(firstBlock, Math.min(span, blocks - firstBlock), `tree node: ${(err as Error).message}`);
    }
    if (level === 0) {
      for (const e of node.entries) {
        const r = problem(e.id);
        if (r) mark(firstBlock + e.slot, 1, r);
      }
      return;
    }
    for (const e of node.entries) await walk(e.id, level - 1, firstBlock + e.slot * (span / NODE_FANOUT));
  };
  if (disk.tree.root) await walk(Buffer.from(disk.tree.root, 'hex'), disk.tree.height, 0);
  return ranges;
}
