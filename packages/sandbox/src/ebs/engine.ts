import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BLOCK_SIZE, type BlockEngine, type BlockRef } from '../core/blocks.js';
import { AwsError } from '../core/errors.js';
import type { StateStore, Table } from '../core/state.js';
import { type ChangedPage, scanChanges } from './changes.js';
import {
  EMPTY,
  hashAt,
  type Layer,
  lowerBound,
  NO_DATA,
  positionOf,
  type SortedBlocks,
  ZERO_HASH,
} from './layer.js';
import { LayerTree } from './layers.js';

export const BLOCKS_PER_GIB = 1024 ** 3 / BLOCK_SIZE;

interface VolumeRow {
  id: string;
  sizeGiB: number;
  top: string;
  lineage: string;
}

interface SnapshotRow {
  id: string;
  sizeGiB: number;
  layer: string;
  lineage: string;
  pending: boolean;
}

/**
 * The sandbox's BlockEngine: real bytes in per-layer data files, block maps in layers (see layers.ts). Taking a
 * snapshot freezes the volume's top layer and starts a new one: O(blocks written since the last snapshot).
 * Control records (volumes, snapshots, layers) live in the state journal; block maps in per-layer append-only
 * index files. Writes go bytes first, then index, then records, so a crash leaves at worst unreferenced bytes
 * and layers, removed at the next start.
 */
export class LayeredBlockEngine implements BlockEngine {
  private readonly tree: LayerTree;
  private readonly volumes: Table<VolumeRow>;
  private readonly snapshots: Table<SnapshotRow>;

  /** `directIo: false` keeps block data in the page cache (buffered I/O), for comparison: see direct.ts. */
  constructor(dataDir: string, state: StateStore, opts: { directIo?: boolean } = {}) {
    this.tree = new LayerTree(join(dataDir, 'layers'), state, opts.directIo ?? true);
    this.volumes = state.table<VolumeRow>('blocks.volumes');
    this.snapshots = state.table<SnapshotRow>('blocks.snapshots');
    const mutable = new Set<string>();
    const used = new Map<string, number>();
    const use = (id: string) => used.set(id, (used.get(id) ?? 0) + 1);
    for (const v of this.volumes.values()) {
      mutable.add(v.top);
      use(v.top);
    }
    for (const s of this.snapshots.values()) {
      if (s.pending) mutable.add(s.layer);
      use(s.layer);
    }
    this.tree.settle(mutable, used);
  }

  createVolume(volumeId: string, sizeGiB: number, fromSnapshotId?: string): void {
    if (this.volumes.has(volumeId)) throw new AwsError('InvalidVolume.Duplicate', `${volumeId} exists`);
    const snap = fromSnapshotId ? this.completedSnapshot(fromSnapshotId) : undefined;
    const top = this.tree.create(snap ? this.tree.get(snap.layer) : undefined);
    this.tree.ref(top);
    this.volumes.put(volumeId, {
      id: volumeId,
      sizeGiB,
      top: top.id,
      lineage: snap?.lineage ?? newLineage(),
    });
  }

  deleteVolume(volumeId: string): void {
    const v = this.volumes.get(volumeId);
    if (!v) return;
    this.volumes.delete(volumeId);
    this.tree.unref(this.tree.get(v.top));
  }

  resizeVolume(volumeId: string, sizeGiB: number): void {
    const v = this.volume(volumeId);
    if (sizeGiB < v.sizeGiB) throw new AwsError('InvalidParameterValue', 'A volume can only grow');
    this.volumes.put(volumeId, { ...v, sizeGiB });
  }

  writeVolume(volumeId: string, offset: number, data: Uint8Array): void {
    const v = this.volume(volumeId);
    checkRange(offset, data.length, v.sizeGiB);
    const top = this.tree.get(v.top);
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const index = Math.floor(pos / BLOCK_SIZE);
      const within = pos % BLOCK_SIZE;
      const n = Math.min(BLOCK_SIZE - within, data.length - done);
      let block: Uint8Array;
      if (n === BLOCK_SIZE) {
        block = data.subarray(done, done + n); // whole block: no copy
      } else {
        const merged = this.readLayerBlock(top, index);
        merged.set(data.subarray(done, done + n), within);
        block = merged;
      }
      top.write(index, createHash('sha256').update(block).digest(), block);
      done += n;
    }
  }

  readVolume(volumeId: string, offset: number, length: number): Buffer {
    const v = this.volume(volumeId);
    checkRange(offset, length, v.sizeGiB);
    return this.readRange(this.tree.get(v.top), offset, length);
  }

  createSnapshotFromVolume(snapshotId: string, volumeId: string): void {
    this.checkNewSnapshot(snapshotId);
    const v = this.compactVolume(this.volume(volumeId));
    const frozen = this.tree.get(v.top);
    const next = this.tree.create(frozen);
    this.tree.ref(next);
    // Volume first: should we die before the snapshot row is written, the snapshot is simply missing.
    this.volumes.put(volumeId, { ...v, top: next.id });
    frozen.freeze();
    this.snapshots.put(snapshotId, {
      id: snapshotId,
      sizeGiB: v.sizeGiB,
      layer: frozen.id,
      lineage: v.lineage,
      pending: false,
    });
    // The volume's reference to the old top passes to the snapshot: no ref/unref needed.
  }

  copySnapshot(snapshotId: string, sourceSnapshotId: string, incremental: boolean): void {
    const src = this.completedSnapshot(sourceSnapshotId);
    this.checkNewSnapshot(snapshotId);
    this.tree.ref(this.tree.get(src.layer));
    const lineage = incremental ? src.lineage : newLineage();
    this.snapshots.put(snapshotId, { ...src, id: snapshotId, lineage });
  }

  startSnapshot(snapshotId: string, sizeGiB: number, parentSnapshotId?: string): void {
    const parent = parentSnapshotId ? this.completedSnapshot(parentSnapshotId) : undefined;
    this.checkNewSnapshot(snapshotId);
    const layer = this.tree.create(parent ? this.tree.get(parent.layer) : undefined);
    this.tree.ref(layer);
    const lineage = parent?.lineage ?? newLineage();
    this.snapshots.put(snapshotId, { id: snapshotId, sizeGiB, layer: layer.id, lineage, pending: true });
  }

  /** `checksum` must be the verified SHA-256 of `data` (base64): the engine does not hash again. */
  putSnapshotBlock(snapshotId: string, index: number, data: Uint8Array, checksum: string): void {
    const s = this.snapshot(snapshotId);
    if (!s.pending) throw new AwsError('IncorrectState', `${snapshotId} is not pending`);
    if (data.length !== BLOCK_SIZE) throw new AwsError('InvalidParameterValue', 'A block is 524288 bytes');
    if (index < 0 || index >= s.sizeGiB * BLOCKS_PER_GIB) {
      throw new AwsError('InvalidParameterValue', `Block index ${index} is outside the volume`);
    }
    this.tree.get(s.layer).write(index, Buffer.from(checksum, 'base64'), data);
  }

  /** Seals an EBS direct snapshot: its layer freezes and it becomes readable and a possible parent. */
  completeSnapshot(snapshotId: string): void {
    let s = this.snapshot(snapshotId);
    if (!s.pending) return;
    const layer = this.tree.get(s.layer);
    if (wasteful(layer)) {
      const copy = this.tree.compact(layer);
      this.tree.ref(copy);
      s = { ...s, layer: copy.id };
      this.snapshots.put(snapshotId, s);
      this.tree.unref(layer);
    }
    this.tree.get(s.layer).freeze();
    this.snapshots.put(snapshotId, { ...s, pending: false });
  }

  /** Rewrites make a top layer's data file grow; before it freezes for good, keep only its live blocks. */
  private compactVolume(v: VolumeRow): VolumeRow {
    const top = this.tree.get(v.top);
    if (!wasteful(top)) return v;
    const copy = this.tree.compact(top);
    this.tree.ref(copy);
    const moved = { ...v, top: copy.id };
    this.volumes.put(v.id, moved);
    this.tree.unref(top);
    return moved;
  }

  deleteSnapshot(snapshotId: string): void {
    const s = this.snapshots.get(snapshotId);
    if (!s) return;
    this.snapshots.delete(snapshotId);
    this.tree.unref(this.tree.get(s.layer));
  }

  listSnapshotBlocks(snapshotId: string, startIndex: number, max: number): BlockRef[] {
    const view = this.viewOf(snapshotId);
    const out: BlockRef[] = [];
    for (let pos = lowerBound(view, startIndex); pos < view.indexes.length && out.length < max; pos++) {
      out.push({ index: view.indexes[pos] as number, checksum: hashAt(view, pos).toString('base64') });
    }
    return out;
  }

  listChangedBlocks(
    firstSnapshotId: string | undefined,
    secondSnapshotId: string,
    startIndex: number,
    max: number,
  ): Array<{ index: number; first?: BlockRef; second?: BlockRef }> | undefined {
    const out: Array<{ index: number; first?: BlockRef; second?: BlockRef }> = [];
    let start: number | undefined = startIndex;
    while (start !== undefined && out.length < max) {
      const page = this.changedPage(firstSnapshotId, secondSnapshotId, start, max - out.length);
      if (!page) return undefined;
      for (const e of page.entries) {
        out.push({ index: e.index, first: ref(e.index, e.first), second: ref(e.index, e.second) });
      }
      start = page.next;
    }
    return out;
  }

  /** One ListChangedBlocks page (see scanChanges); undefined when the snapshots are of different lineages. */
  changedPage(
    firstSnapshotId: string | undefined,
    secondSnapshotId: string,
    start: number,
    max: number,
  ): ChangedPage | undefined {
    const second = this.snapshot(secondSnapshotId);
    const first = firstSnapshotId ? this.snapshot(firstSnapshotId) : undefined;
    if (first && first.lineage !== second.lineage) return undefined;
    const b = this.viewOf(secondSnapshotId);
    if (!first) return scanChanges(EMPTY, b, b.indexes, start, max);
    const written = this.tree.written(this.tree.get(first.layer), this.tree.get(second.layer));
    return scanChanges(this.viewOf(first.id), b, written, start, max);
  }

  readSnapshotBlock(snapshotId: string, index: number): { data: Buffer; checksum: string } {
    const data = Buffer.allocUnsafe(BLOCK_SIZE);
    return { data, checksum: this.readSnapshotBlockInto(snapshotId, index, data).toString('base64') };
  }

  /**
   * Reads a snapshot's block into a caller's buffer (the EBS service reuses pooled buffers) and returns its
   * SHA-256, as stored at write time: nothing is hashed again.
   */
  readSnapshotBlockInto(snapshotId: string, index: number, into: Buffer): Buffer {
    const view = this.viewOf(snapshotId);
    const pos = positionOf(view, index);
    if (pos < 0) {
      into.fill(0, 0, BLOCK_SIZE);
      return ZERO_HASH;
    }
    this.tree.readInto(view.owners[pos] as number, view.slots[pos] as number, into);
    return hashAt(view, pos);
  }

  /** The blocks put into this snapshot itself (not inherited from its parent), for CompleteSnapshot checks. */
  ownBlocks(snapshotId: string): SortedBlocks {
    return this.tree.get(this.snapshot(snapshotId).layer).blocks();
  }

  lineageOf(snapshotId: string): string | undefined {
    return this.snapshots.get(snapshotId)?.lineage;
  }

  hasSnapshot(snapshotId: string): boolean {
    return this.snapshots.has(snapshotId);
  }

  hasVolume(volumeId: string): boolean {
    return this.volumes.has(volumeId);
  }

  volumeSizeGiB(volumeId: string): number {
    return this.volume(volumeId).sizeGiB;
  }

  /** Closes the data files (the engine must not be used afterwards). */
  close(): void {
    this.tree.closeFiles();
  }

  private viewOf(snapshotId: string): SortedBlocks {
    return this.tree.view(this.tree.get(this.snapshot(snapshotId).layer));
  }

  private readLayerBlock(layer: Layer, index: number): Buffer {
    const out = Buffer.allocUnsafe(BLOCK_SIZE);
    const own = layer.own(index);
    if (own) {
      this.tree.readInto(layer.num, own.slot, out);
      return out;
    }
    const view = layer.parent ? this.tree.view(layer.parent) : EMPTY;
    const pos = positionOf(view, index);
    this.tree.readInto(
      pos < 0 ? 0 : (view.owners[pos] as number),
      pos < 0 ? NO_DATA : (view.slots[pos] as number),
      out,
    );
    return out;
  }

  private readRange(layer: Layer, offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const within = pos % BLOCK_SIZE;
      const n = Math.min(BLOCK_SIZE - within, length - done);
      const block = this.readLayerBlock(layer, Math.floor(pos / BLOCK_SIZE));
      block.copy(out, done, within, within + n);
      done += n;
    }
    return out;
  }

  private volume(volumeId: string): VolumeRow {
    const v = this.volumes.get(volumeId);
    if (!v) throw new AwsError('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
    return v;
  }

  private snapshot(snapshotId: string): SnapshotRow {
    const s = this.snapshots.get(snapshotId);
    if (!s) throw new AwsError('InvalidSnapshot.NotFound', `The snapshot '${snapshotId}' does not exist.`);
    return s;
  }

  private completedSnapshot(snapshotId: string): SnapshotRow {
    const s = this.snapshot(snapshotId);
    if (s.pending) throw new AwsError('IncorrectState', `Snapshot '${snapshotId}' is not completed.`);
    return s;
  }

  private checkNewSnapshot(snapshotId: string): void {
    if (this.snapshots.has(snapshotId))
      throw new AwsError('InvalidSnapshot.Duplicate', `${snapshotId} exists`);
  }
}

/** Compact when at least 16 slots (8 MiB) and more than half of the data file are dead. */
function wasteful(layer: Layer): boolean {
  const wasted = layer.wastedSlots;
  return wasted >= 16 && wasted * 2 > layer.dataSlots;
}

function newLineage(): string {
  return `lin-${randomBytes(8).toString('hex')}`;
}

function ref(index: number, hash: Buffer | undefined): BlockRef | undefined {
  return hash ? { index, checksum: hash.toString('base64') } : undefined;
}

function checkRange(offset: number, length: number, sizeGiB: number): void {
  const size = sizeGiB * 1024 ** 3;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new AwsError('InvalidParameterValue', 'Offset and length must be non-negative integers');
  }
  if (offset + length > size) {
    throw new AwsError(
      'InvalidParameterValue',
      `Range ${offset}+${length} is beyond the volume's ${size} bytes`,
    );
  }
}
