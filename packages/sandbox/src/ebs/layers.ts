import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StateStore, Table } from '../core/state.js';
import type { BlockStore } from './cas.js';
import { EMPTY, Layer, overlay, type SortedBlocks } from './layer.js';

interface LayerRow {
  id: string;
  parent?: string;
}

/** Views (whole snapshot contents) kept in memory, counted in blocks: 36 bytes each, so about 75 MB. */
const MAX_CACHED_VIEW_BLOCKS = 2_000_000;

/**
 * The tree of layers: each layer lies over its parent; a snapshot is a frozen layer and everything under it; a
 * volume is a mutable top layer over the snapshot it came from. Layers are reference-counted by the volumes,
 * snapshots and child layers that use them; a layer nobody uses is deleted and its blocks become candidates for
 * the block store's sweep. Flattened views of frozen layers are computed lazily and cached (they never change).
 */
export class LayerTree {
  readonly layers = new Map<string, Layer>();
  private readonly refs = new Map<string, number>();
  private readonly rows: Table<LayerRow>;
  private readonly views = new Map<string, SortedBlocks>(); // LRU by insertion order
  private viewBlocks = 0;
  private deadHashes = new Set<string>();

  constructor(
    private readonly dir: string,
    state: StateStore,
    private readonly store: BlockStore,
  ) {
    mkdirSync(dir, { recursive: true });
    this.rows = state.table<LayerRow>('blocks.layers');
    for (const row of this.rows.values()) this.loadRow(row);
  }

  private loadRow(row: LayerRow): Layer {
    const existing = this.layers.get(row.id);
    if (existing) return existing;
    const parentRow = row.parent ? this.rows.get(row.parent) : undefined;
    const parent = parentRow ? this.loadRow(parentRow) : undefined;
    const layer = new Layer(row.id, parent, join(this.dir, `${row.id}.idx`));
    layer.load();
    this.layers.set(row.id, layer);
    if (parent) this.refs.set(parent.id, (this.refs.get(parent.id) ?? 0) + 1);
    return layer;
  }

  /** After loading: freeze the layers nobody writes to, drop the ones nobody uses, sweep orphan block files. */
  settle(mutable: Set<string>, used: Map<string, number>): void {
    for (const [id, n] of used) this.refs.set(id, (this.refs.get(id) ?? 0) + n);
    for (const layer of this.layers.values()) if (!mutable.has(layer.id)) layer.freeze();
    for (const layer of [...this.layers.values()]) {
      if (this.layers.has(layer.id) && !this.refs.get(layer.id)) this.drop(layer);
    }
    this.deadHashes.clear();
    const live = this.liveHashes();
    for (const hex of this.store.allHex()) if (!live.has(hex)) this.store.removeHex(hex);
  }

  create(parent: Layer | undefined): Layer {
    const id = `L${randomBytes(8).toString('hex')}`;
    this.rows.put(id, parent ? { id, parent: parent.id } : { id });
    const layer = new Layer(id, parent, join(this.dir, `${id}.idx`));
    this.layers.set(id, layer);
    if (parent) this.ref(parent);
    return layer;
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
    if (n > 0) {
      this.refs.set(layer.id, n);
      return;
    }
    this.drop(layer);
    if (this.deadHashes.size >= 4096) this.sweep();
  }

  private drop(layer: Layer): void {
    this.refs.delete(layer.id);
    this.layers.delete(layer.id);
    this.forgetView(layer.id);
    const own = layer.blocks();
    for (let i = 0; i < own.indexes.length; i++) {
      this.deadHashes.add(own.hashes.toString('hex', i * 32, i * 32 + 32));
    }
    this.rows.delete(layer.id);
    layer.deleteFile();
    if (layer.parent && this.layers.has(layer.parent.id)) this.unref(layer.parent);
  }

  /** A hash overwritten in a mutable layer may now be unused: check it at the next sweep. */
  discard(hash: Buffer): void {
    this.deadHashes.add(hash.toString('hex'));
  }

  /** Removes block files of dropped layers that no live layer shares. */
  sweep(): void {
    if (this.deadHashes.size === 0) return;
    const dead = this.deadHashes;
    this.deadHashes = new Set();
    for (const hex of this.liveHashes()) dead.delete(hex);
    for (const hex of dead) this.store.removeHex(hex);
  }

  private liveHashes(): Set<string> {
    const live = new Set<string>();
    for (const layer of this.layers.values()) {
      const own = layer.blocks();
      for (let i = 0; i < own.indexes.length; i++) live.add(own.hashes.toString('hex', i * 32, i * 32 + 32));
    }
    return live;
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
    let cur: Layer | undefined = layer;
    let base: SortedBlocks = EMPTY;
    while (cur) {
      const cached = this.views.get(cur.id);
      if (cached) {
        base = cached;
        break;
      }
      path.push(cur);
      cur = cur.parent;
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
