import { LEAF_BLOCKS, NODE_FANOUT } from '../format.js';
import { encodeNode, type Slot, treeHeight } from './codec.js';

/** Stores a tree node blob and returns its id. */
export type StoreNode = (plain: Buffer) => Promise<Buffer>;

/**
 * Builds the inner nodes of a disk map while its leaves arrive in order, holding at most one pending node per
 * level: memory stays bounded whatever the disk size.
 */
export class TreeBuilder {
  readonly height: number;
  private readonly counts: number[] = []; // nodes per level, level 0 = leaves
  private readonly pending: Slot[][] = [];
  private next = 0;
  private root: Buffer | null = null;

  constructor(
    blocks: number,
    private readonly store: StoreNode,
  ) {
    this.height = treeHeight(blocks);
    let n = Math.max(1, Math.ceil(blocks / LEAF_BLOCKS));
    for (let level = 0; level <= this.height; level++) {
      this.counts.push(n);
      this.pending.push([]);
      n = Math.ceil(n / NODE_FANOUT);
    }
  }

  get leafCount(): number {
    return this.counts[0]!;
  }

  /** Leaves must be pushed in order, every one of them; null for a leaf that is all holes. */
  async pushLeaf(leafIndex: number, id: Buffer | null): Promise<void> {
    if (leafIndex !== this.next)
      throw new Error(`tree builder: leaf ${leafIndex} pushed, ${this.next} expected`);
    this.next++;
    await this.push(0, leafIndex, id);
  }

  private async push(level: number, index: number, id: Buffer | null): Promise<void> {
    if (level === this.height) {
      this.root = id;
      return;
    }
    const parent = this.pending[level + 1]!;
    if (id) parent.push({ slot: index % NODE_FANOUT, id });
    const lastOfParent = index % NODE_FANOUT === NODE_FANOUT - 1 || index === this.counts[level]! - 1;
    if (!lastOfParent) return;
    const nodeId = parent.length > 0 ? await this.store(encodeNode(level + 1, parent)) : null;
    this.pending[level + 1] = [];
    await this.push(level + 1, Math.floor(index / NODE_FANOUT), nodeId);
  }

  finish(): { root: Buffer | null; height: number } {
    if (this.next !== this.leafCount) {
      throw new Error(`tree builder: ${this.next} of ${this.leafCount} leaves pushed`);
    }
    return { root: this.root, height: this.height };
  }
}
