import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_SIZE } from '../core/blocks.js';
import type { StateStore, Table } from '../core/state.js';
import { readBlock } from './blockio.js';
import { alignedBlock } from './direct.js';
import { FdCache } from './files.js';
import { EMPTY, Layer, NO_DATA, overlay, type SortedBlocks } from './layer.js';

interface LayerRow {
  id: string;
  parent?: string;
}

/** Views (whole snapshot contents) kept in memory, counted in blocks: 44 bytes each, so about 90 MB. */
const MAX_CACHED_VIEW_BLOCKS = 2_000_000;

/**
 * The tree of layers: each layer lies over its parent; a snapshot is a frozen layer and everything under it; a
 * volume is a mutable top layer over the snapshot it came from. Layers are reference-counted by the volumes,
 * snapshots and child layers that use them; a layer nobody uses is deleted with its files. Flattened views of
 * frozen layers are computed lazily and cached (they never change).
 */
export class LayerTree {
  private readonly layers = new Map<string, Layer>();
  private readonly byNum = new Map<number, Layer>();
  private readonly refs = new Map<string, number>();
  private readonly rows: Table<LayerRow>;
  private readonly views = new Map<string, SortedBlocks>(); // LRU by insertion order
  private readonly fds: FdCache;
  private viewBlocks = 0;
  private nextNum = 1;

  constructor(
    private readonly dir: string,
    state: StateStore,
    directIo = true,
  ) {
    this.fds = new FdCache(directIo);
    mkdirSync(dir, { recursive: true });
    this.rows = state.table<LayerRow>('blocks.layers');
    for (const row of this.rows.values()) this.loadRow(row);
  }

  private loadRow(row: LayerRow): Layer {
    const existing = this.layers.get(row.id);
    if (existing) return existing;
    const parentRow = row.parent ? this.rows.get(row.parent) : undefined;
    const parent = parentRow ? this.loadRow(parentRow) : undefined;
    const layer = this.track(new Layer(row.id, this.nextNum++, parent, join(this.dir, row.id), this.fds));
    layer.load();
    if (parent) this.refs.set(parent.id, (this.refs.get(parent.id) ?? 0) + 1);
    return layer;
  }

  private track(layer: Layer): Layer {
    this.layers.set(layer.id, layer);
    this.byNum.set(layer.num, layer);
    return layer;
  }

  /** After loading: freeze the layers nobody writes to, drop the ones nobody uses, remove stray files. */
  settle(mutable: Set<string>, used: Map<string, number>): void {
    for (const [id, n] of used) this.refs.set(id, (this.refs.get(id) ?? 0) + n);
    for (const layer of this.layers.values()) if (!mutable.has(layer.id)) layer.freeze();
    for (const layer of [...this.layers.values()]) {
      if (this.layers.has(layer.id) && !this.refs.get(layer.id)) this.drop(layer);
    }
    for (const file of readdirSync(this.dir)) {
      if (!this.layers.has(file.replace(/\.(idx|dat)$/, ''))) rmSync(join(this.dir, file), { force: true });
    }
  }

  create(parent: Layer | undefined): Layer {
    const id = `L${randomBytes(8).toString('hex')}`;
    this.rows.put(id, parent ? { id, parent: parent.id } : { id });
    const layer = this.track(new Layer(id, this.nextNum++, parent, join(this.dir, id), this.fds));
    if (parent) this.ref(parent);
    return layer;
  }

  /**
   * A copy of a mutable layer holding only its live blocks, on the same parent. The caller points its volume or
   * snapshot row at the copy, then unrefs the original: a crash in between leaves one of the two unreferenced,
   * and it is dropped at the next start.
   */
  compact(layer: Layer): Layer {
    const copy = this.create(layer.parent);
    const buf = alignedBlock(); // read and written with O_DIRECT: no page cache faulted in for the copy
    for (const [index, e] of layer.entries()) {
      this.readInto(layer.num, e.slot, buf);
      copy.write(index, e.hash, buf);
    }
    return copy;
  }

  get(id: string): Layer {
    const layer = this.layers.get(id);
    if (!layer) throw new Error(`block layer ${id} is missing`);
    return layer;
  }

  ref(layer: Layer): void {
    this.refs.set(layer.id, (this.refs.get(layer.id) ?? 0) + 1);
  }

  unref(layer: Layer): void {
    const n = (this.refs.get(layer.id) ?? 0) - 1;
    if (n > 0) this.refs.set(layer.id, n);
    else this.drop(layer);
  }

  private drop(layer: Layer): void {
    this.refs.delete(layer.id);
    this.layers.delete(layer.id);
    this.byNum.delete(layer.num);
    this.forgetView(layer.id);
    this.rows.delete(layer.id);
    this.fds.close(layer.dataFile);
    this.fds.close(layer.indexFile);
    rmSync(layer.dataFile, { force: true });
    rmSync(layer.indexFile, { force: true });
    if (layer.parent && this.layers.has(layer.parent.id)) this.unref(layer.parent);
  }

  /** Reads a block's bytes from the layer that holds them (zeros for NO_DATA). */
  readInto(owner: number, slot: number, into: Buffer): void {
    if (slot === NO_DATA) into.fill(0, 0, BLOCK_SIZE);
    else readBlock(this.fds, this.dataFileOf(owner), into.subarray(0, BLOCK_SIZE), slot * BLOCK_SIZE);
  }

  private dataFileOf(owner: number): string {
    const layer = this.byNum.get(owner);
    if (!layer) throw new Error(`block layer #${owner} is gone`);
    return layer.dataFile;
  }

  closeFiles(): void {
    this.fds.closeAll();
  }

  /** Everything visible through `layer`: its blocks over its parent's view. */
  view(layer: Layer): SortedBlocks {
    if (layer.mutable) return overlay(layer.parent ? this.view(layer.parent) : EMPTY, layer.blocks());
    const hit = this.views.get(layer.id);
    if (hit) {
      this.views.delete(layer.id); // refresh its LRU position
      this.views.set(layer.id, hit);
      return hit;
    }
    // Walk up to the nearest cached (or root) view, then overlay downwards: no recursion on long lineages.
    const path: Layer[] = [];
    let base: SortedBlocks = EMPTY;
    for (let cur: Layer | undefined = layer; cur; cur = cur.parent) {
      const cached = this.views.get(cur.id);
      if (cached) {
        base = cached;
        break;
      }
      path.push(cur);
    }
    for (let i = path.length - 1; i >= 0; i--) {
      const l = path[i] as Layer;
      base = overlay(base, l.blocks());
      this.remember(l.id, base);
    }
    return base;
  }

  private remember(id: string, view: SortedBlocks): void {
    this.views.set(id, view);
    this.viewBlocks += view.indexes.length;
    for (const [oldId, old] of this.views) {
      if (this.viewBlocks <= MAX_CACHED_VIEW_BLOCKS || oldId === id) break;
      this.views.delete(oldId);
      this.viewBlocks -= old.indexes.length;
    }
  }

  private forgetView(id: string): void {
    const v = this.views.get(id);
    if (!v) return;
    this.views.delete(id);
    this.viewBlocks -= v.indexes.length;
  }

  /**
   * Block indexes written on either side since the two layers' common ancestor, ascending: the layers on one
   * path to the root and not on the other are exactly the writes that separate the two views.
   */
  written(first: Layer, second: Layer): Uint32Array {
    const pathA = ancestry(first);
    const pathB = ancestry(second);
    const setA = new Set(pathA);
    const setB = new Set(pathB);
    const parts = [...pathA.filter((l) => !setB.has(l)), ...pathB.filter((l) => !setA.has(l))];
    const all = new Set<number>();
    for (const l of parts) for (const i of l.blocks().indexes) all.add(i);
    return Uint32Array.from(all).sort();
  }
}

function ancestry(layer: Layer): Layer[] {
  const out: Layer[] = [];
  for (let cur: Layer | undefined = layer; cur; cur = cur.parent) out.push(cur);
  return out;
}
