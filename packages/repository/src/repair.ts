import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { blobId, sealBlob } from './blob.js';
import { checkRepository } from './check.js';
import { RepositoryError } from './errors.js';
import { CHUNK_SIZE, LEAF_BLOCKS } from './format.js';
import { supersedeEntries } from './index/rewrite.js';
import { MaintenanceLease } from './lease.js';
import type { Repository } from './repository.js';
import { decodeNode, encodeLeaf } from './tree/codec.js';
import { BlobWriter } from './writer.js';

/**
 * Repairs damage by re-reading it from the source: for every blob a check finds missing or corrupt, the blocks
 * that referenced it are read from the source image of that disk (by disk name); when the source block has the
 * same id (content-addressed: the same bytes), the blob is stored again. A damaged disk-map leaf is rebuilt from
 * the 1024 source blocks it covers and stored again when it comes out identical. Then one index file supersedes
 * every index file that named a broken location. What the sources cannot give back is recorded in
 * meta/damage/<id> and reported, never papered over.
 */
export interface RepairReport {
  damagedBlobs: number;
  repaired: string[]; // blob ids (hex)
  unrecoverable: Array<{ id: string; reason: string; where: string[] }>;
}

interface Need {
  id: Buffer;
  reason: string;
  type: 'data' | 'tree';
  /** (disk name, block) for chunks; (disk name, first block of the leaf) for leaves. */
  places: Array<{ point: string; disk: string; block: number }>;
}

export async function repairRepository(
  repo: Repository,
  options: { sources: Record<string, string>; readData?: boolean },
): Promise<RepairReport> {
  const lease = await MaintenanceLease.acquire(repo);
  try {
    const report = await checkRepository(repo, { readData: options.readData });
    const broken = new Map(report.badBlobs.map((b) => [b.id, b]));
    const needs = await findNeeds(repo, broken);
    const writer = new BlobWriter(repo);
    const repaired = new Set<string>();
    for (const need of needs.values()) {
      for (const place of need.places) {
        const source = options.sources[place.disk];
        if (!source || repaired.has(need.id.toString('hex'))) continue;
        const ok =
          need.type === 'data'
            ? await repairChunk(repo, writer, need, source, place.block)
            : await repairLeaf(repo, writer, need, source, place.block, broken, repaired);
        if (ok) repaired.add(need.id.toString('hex'));
      }
    }
    await writer.flush();
    const gone = new Set(
      report.badBlobs.filter((b) => repaired.has(b.id) && b.packId).map((b) => `${b.id}:${b.packId}`),
    );
    if (gone.size) await supersedeEntries(repo, (e) => gone.has(`${e.id.toString('hex')}:${e.packId}`));
    const unrecoverable = [...needs.values()]
      .filter((n) => !repaired.has(n.id.toString('hex')))
      .map((n) => ({
        id: n.id.toString('hex'),
        reason: n.reason,
        where: n.places.map(
          (p) =>
            `restore point ${p.point} disk ${p.disk} bytes ${p.block * CHUNK_SIZE}-${(p.block + (n.type === 'tree' ? LEAF_BLOCKS : 1)) * CHUNK_SIZE - 1}`,
        ),
      }));
    if (unrecoverable.length)
      await repo.putMeta(`meta/damage/${repo.now().toString(36)}`, { createdAt: repo.now(), unrecoverable });
    repo.invalidateIndex();
    return { damagedBlobs: needs.size, repaired: [...repaired], unrecoverable };
  } finally {
    await lease.release();
  }
}

/** Walks every disk map and collects, per broken blob, where it is used. */
async function findNeeds(
  repo: Repository,
  broken: Map<string, { reason: string }>,
): Promise<Map<string, Need>> {
  const needs = new Map<string, Need>();
  const note = (id: Buffer, type: Need['type'], place: Need['places'][number]) => {
    const k = id.toString('hex');
    const b = broken.get(k);
    if (!b) return false;
    const need = needs.get(k) ?? { id, reason: b.reason, type, places: [] };
    need.places.push(place);
    needs.set(k, need);
    return true;
  };
  for (const m of await repo.points()) {
    for (const d of m.disks) {
      if (!d.tree.root) continue;
      const walk = async (id: Buffer, level: number, firstLeaf: number): Promise<void> => {
        if (note(id, 'tree', { point: m.id, disk: d.name, block: firstLeaf * LEAF_BLOCKS })) return;
        const node = decodeNode(await repo.loadBlob(id, `disk ${d.name} tree`), 'tree node');
        for (const e of node.entries) {
          if (level === 0)
            note(e.id, 'data', { point: m.id, disk: d.name, block: firstLeaf * LEAF_BLOCKS + e.slot });
          else await walk(e.id, level - 1, firstLeaf + e.slot * 1024 ** (level - 1));
        }
      };
      await walk(Buffer.from(d.tree.root, 'hex'), d.tree.height, 0).catch(() => {
        // an unreadable inner node: its leaves cannot be listed; it is reported as unrecoverable below
      });
    }
  }
  return needs;
}

function readBlock(path: string, block: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(CHUNK_SIZE);
    const size = fstatSync(fd).size;
    const start = block * CHUNK_SIZE;
    if (start < size) readSync(fd, buf, 0, Math.min(CHUNK_SIZE, size - start), start);
    return buf;
  } finally {
    closeSync(fd);
  }
}

async function repairChunk(
  repo: Repository,
  writer: BlobWriter,
  need: Need,
  source: string,
  block: number,
): Promise<boolean> {
  const data = readBlock(source, block);
  if (!blobId(repo.key, data).equals(need.id)) return false;
  await writer.addSealed('data', need.id, sealBlob(repo.key, repo.codec, need.id, data), CHUNK_SIZE);
  return true;
}

/** Rebuilds a leaf from the source blocks it covers; stores it (and any of its chunks that are broken too). */
async function repairLeaf(
  repo: Repository,
  writer: BlobWriter,
  need: Need,
  source: string,
  firstBlock: number,
  broken: Map<string, unknown>,
  repaired: Set<string>,
): Promise<boolean> {
  const zero = Buffer.alloc(CHUNK_SIZE);
  const slots: Array<{ slot: number; id: Buffer; data: Buffer }> = [];
  for (let s = 0; s < LEAF_BLOCKS; s++) {
    const data = readBlock(source, firstBlock + s);
    if (!data.equals(zero)) slots.push({ slot: s, id: blobId(repo.key, data), data });
  }
  const leaf = encodeLeaf(slots);
  if (!blobId(repo.key, leaf).equals(need.id)) return false;
  await writer.addSealed('tree', need.id, sealBlob(repo.key, repo.codec, need.id, leaf), leaf.length);
  for (const s of slots) {
    const k = s.id.toString('hex');
    if (repaired.has(k) || !(broken.has(k) || !(await writer.knows(s.id)))) continue;
    await writer.addSealed('data', s.id, sealBlob(repo.key, repo.codec, s.id, s.data), CHUNK_SIZE);
    if (broken.has(k)) repaired.add(k);
  }
  return true;
}

export function assertRepairable(sources: Record<string, string>): void {
  if (Object.keys(sources).length === 0) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      'repair needs at least one --source NAME=IMAGE: the disk images to re-read damaged blocks from',
    );
  }
}
