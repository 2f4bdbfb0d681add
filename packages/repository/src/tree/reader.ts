import { RepositoryError } from '../errors.js';
import { LEAF_BLOCKS, NODE_FANOUT } from '../format.js';
import { type DecodedNode, decodeNode } from './codec.js';

/** Loads and authenticates a tree node blob by id. */
export type LoadNode = (id: Buffer) => Promise<Buffer>;

export interface TreeRef {
  root: Buffer | null;
  height: number;
}

/**
 * Walks a disk map. Nodes are cached (bounded LRU) so that random reads of a disk (image cat, file-level
 * recovery) load each node once.
 */
export class TreeReader {
  private readonly cache = new Map<string, DecodedNode>();

  constructor(
    private readonly tree: TreeRef,
    private readonly load: LoadNode,
    private readonly what: string,
    private readonly cacheSize = 64,
  ) {}

  async node(id: Buffer, level: number): Promise<DecodedNode> {
    const k = id.toString('latin1');
    const hit = this.cache.get(k);
    if (hit) {
      this.cache.delete(k);
      this.cache.set(k, hit);
      return hit;
    }
    const node = decodeNode(await this.load(id), `${this.what} tree node ${id.toString('hex').slice(0, 16)}`);
    if (node.level !== level) {
      throw new RepositoryError(
        'REPO_CORRUPT',
        `${this.what}: tree node at level ${node.level}, expected ${level}`,
      );
    }
    this.cache.set(k, node);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return node;
  }

  /** Every non-empty leaf id, in order, without loading the leaves. */
  async *leaves(): AsyncIterable<{ leafIndex: number; id: Buffer }> {
    if (!this.tree.root) return;
    yield* this.walk(this.tree.root, this.tree.height, 0);
  }

  private async *walk(
    id: Buffer,
    level: number,
    first: number,
  ): AsyncIterable<{ leafIndex: number; id: Buffer }> {
    if (level === 0) {
      yield { leafIndex: first, id };
      return;
    }
    const node = await this.node(id, level);
    const span = NODE_FANOUT ** (level - 1);
    for (const e of node.entries) yield* this.walk(e.id, level - 1, first + e.slot * span);
  }

  /**
   * Every non-hole block in disk order with its chunk id, loading each node once. A node that does not load (or
   * is not a valid node of its level) goes to `onError` with the blocks it covers, [first, first + count), and the
   * walk goes on past it; without `onError` the error ends the walk.
   */
  async *blocks(
    onError?: (firstBlock: number, count: number, err: unknown) => void,
  ): AsyncIterable<{ block: number; id: Buffer }> {
    if (!this.tree.root) return;
    yield* this.walkBlocks(this.tree.root, this.tree.height, 0, onError);
  }

  private async *walkBlocks(
    id: Buffer,
    level: number,
    firstLeaf: number,
    onError: ((firstBlock: number, count: number, err: unknown) => void) | undefined,
  ): AsyncIterable<{ block: number; id: Buffer }> {
    let node: DecodedNode;
    try {
      node = await this.node(id, level);
    } catch (err) {
      if (!onError) throw err;
      onError(firstLeaf * LEAF_BLOCKS, LEAF_BLOCKS * NODE_FANOUT ** level, err);
      return;
    }
    if (level === 0) {
      for (const e of node.entries) yield { block: firstLeaf * LEAF_BLOCKS + e.slot, id: e.id };
      return;
    }
    const span = NODE_FANOUT ** (level - 1);
    for (const e of node.entries) yield* this.walkBlocks(e.id, level - 1, firstLeaf + e.slot * span, onError);
  }

  /** The chunk ids of one leaf: block index -> id (holes absent). */
  async leafBlocks(leafIndex: number, leafId: Buffer): Promise<Array<{ block: number; id: Buffer }>> {
    const leaf = await this.node(leafId, 0);
    const base = leafIndex * LEAF_BLOCKS;
    return leaf.entries.map((e) => ({ block: base + e.slot, id: e.id }));
  }

  /** The leaf covering leafIndex, or null when that part of the disk is all holes. */
  async leafId(leafIndex: number): Promise<Buffer | null> {
    let id = this.tree.root;
    for (let level = this.tree.height; level > 0 && id; level--) {
      const node = await this.node(id, level);
      const slot = Math.floor(leafIndex / NODE_FANOUT ** (level - 1)) % NODE_FANOUT;
      id = node.entries.find((e) => e.slot === slot)?.id ?? null;
    }
    return id;
  }

  /** The chunk id of one block, or null for a hole. */
  async blockId(block: number): Promise<Buffer | null> {
    const leafIndex = Math.floor(block / LEAF_BLOCKS);
    const leafId = await this.leafId(leafIndex);
    if (!leafId) return null;
    const leaf = await this.node(leafId, 0);
    const slot = block % LEAF_BLOCKS;
    return leaf.entries.find((e) => e.slot === slot)?.id ?? null;
  }
}
