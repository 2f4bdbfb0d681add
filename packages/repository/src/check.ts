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
import { decodeIndexFile } from './index/file.js';
import { MemoryBlobIndex } from './index/master.js';
import type { DiskRecord, Manifest } from './manifest.js';
import { type IndexEntry, readPackTrailer } from './pack.js';
import type { Progress } from './progress.js';
import type { Repository } from './repository.js';
import { decodeNode } from './tree/codec.js';
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
  const packs = new Map<string, number>(); // key -> size
  for (const prefix of [DATA_PREFIX, TREE_PACK_PREFIX])
    for await (const o of repo.store.list(prefix)) packs.set(o.key, o.size);
  report.stats.packs = packs.size;
  const index = await loadIndexTolerant(repo, report);
  report.stats.blobs = index.size;

  const bad = new Map<string, string>(); // blob id (latin1) -> reason
  for (const e of index.entries()) {
    const size = packs.get(packKey(e.type, e.packId));
    if (size === undefined) bad.set(e.id.toString('latin1'), `pack ${packKey(e.type, e.packId)} is missing`);
    else if (e.offset + e.length > size)
      bad.set(e.id.toString('latin1'), `pack ${packKey(e.type, e.packId)} is truncated (${size} bytes)`);
  }
  if (options.readData) await readAllPacks(repo, packs, index, bad, report, options);

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
  report.ok = report.problems.length === 0 && report.damaged.length === 0;
  return report;
}

async function loadIndexTolerant(repo: Repository, report: CheckReport): Promise<MemoryBlobIndex> {
  const index = new MemoryBlobIndex();
  const files = [];
  for await (const o of repo.store.list(INDEX_PREFIX)) {
    const id = o.key.slice(INDEX_PREFIX.length);
    try {
      files.push(decodeIndexFile(repo.key, repo.codec, id, await repo.store.get(o.key)));
    } catch (err) {
      report.problems.push(`index file ${o.key}: ${(err as Error).message}`);
    }
  }
  report.stats.indexFiles = files.length;
  const superseded = new Set(files.flatMap((f) => f.supersedes));
  for (const f of files) if (!superseded.has(f.id)) for (const e of f.entries) index.add(e);
  return index;
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

async function readAllPacks(
  repo: Repository,
  packs: Map<string, number>,
  index: MemoryBlobIndex,
  bad: Map<string, string>,
  report: CheckReport,
  options: { progress?: Progress; workers?: number },
): Promise<void> {
  const byPack = new Map<string, IndexEntry[]>();
  for (const e of index.entries()) {
    const k = packKey(e.type, e.packId);
    const list = byPack.get(k) ?? [];
    list.push(e);
    byPack.set(k, list);
  }
  const pool = new WorkerPool({ secret: repo.key.secret, repositoryId: repo.id }, options.workers);
  options.progress?.start(
    'read data',
    [...packs.values()].reduce((a, b) => a + b, 0),
  );
  try {
    const inFlight: Array<Promise<void>> = [];
    for (const [key, size] of packs) {
      inFlight.push(verifyPack(repo, pool, key, byPack.get(key) ?? [], bad, report));
      if (inFlight.length >= pool.size) await inFlight.shift();
      options.progress?.advance(size);
    }
    await Promise.all(inFlight);
  } finally {
    await pool.close();
    options.progress?.done();
  }
}

async function verifyPack(
  repo: Repository,
  pool: WorkerPool,
  key: string,
  indexed: IndexEntry[],
  bad: Map<string, string>,
  report: CheckReport,
): Promise<void> {
  const packId = key.slice(key.lastIndexOf('/') + 1);
  const markAll = (reason: string) => {
    for (const e of indexed) if (!bad.has(e.id.toString('latin1'))) bad.set(e.id.toString('latin1'), reason);
  };
  let pack: Buffer;
  let trailer: IndexEntry[];
  try {
    pack = await repo.store.get(key);
    report.stats.packBytesRead += pack.length;
    trailer = readPackTrailer(repo.key, packId, pack, `pack ${key}`);
  } catch (err) {
    report.problems.push(`pack ${key}: ${(err as Error).message}`);
    markAll(`pack ${key} is unreadable`);
    return;
  }
  const inTrailer = new Map(trailer.map((e) => [e.id.toString('latin1'), e]));
  for (const e of indexed) {
    const t = inTrailer.get(e.id.toString('latin1'));
    if (!t || t.offset !== e.offset || t.length !== e.length)
      bad.set(e.id.toString('latin1'), `pack ${key} disagrees with the index`);
  }
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
  // Only the copy the index points to is in use: a damaged copy elsewhere (repaired, or garbage) is not damage.
  const inUse = new Set(indexed.map((e) => e.id.toString('latin1')));
  result.errors.forEach((error, i) => {
    const k = trailer[i]!.id.toString('latin1');
    if (!error || !inUse.has(k)) return;
    bad.set(k, `pack ${key}: ${error}`);
    report.problems.push(`pack ${key}: blob ${trailer[i]!.id.toString('hex').slice(0, 16)}: ${error}`);
  });
}

/** Walks a disk map; returns the damaged byte ranges, merged. */
async function checkDisk(
  repo: Repository,
  index: MemoryBlobIndex,
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
      node = decodeNode(await repo.loadBlob(id, `disk ${disk.name} tree`), `disk ${disk.name} tree node`);
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
