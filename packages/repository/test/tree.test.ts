import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LEAF_BLOCKS, NODE_FANOUT } from '../src/format.js';
import { TreeBuilder } from '../src/tree/builder.js';
import { decodeNode, encodeLeaf, treeHeight } from '../src/tree/codec.js';
import { TreeReader } from '../src/tree/reader.js';

/** A content-addressed node store in memory. */
function memoryNodes() {
  const nodes = new Map<string, Buffer>();
  return {
    nodes,
    store: async (plain: Buffer) => {
      const id = createHash('sha256').update(plain).digest();
      nodes.set(id.toString('hex'), plain);
      return id;
    },
    load: async (id: Buffer) => nodes.get(id.toString('hex'))!,
  };
}

const idOf = (n: number) => createHash('sha256').update(`chunk ${n}`).digest();

describe('disk map trees', () => {
  it('heights: one leaf up to 1024 blocks, then one more level per 1024x', () => {
    expect(treeHeight(1)).toBe(0);
    expect(treeHeight(LEAF_BLOCKS)).toBe(0);
    expect(treeHeight(LEAF_BLOCKS + 1)).toBe(1);
    expect(treeHeight(LEAF_BLOCKS * NODE_FANOUT)).toBe(1);
    expect(treeHeight(LEAF_BLOCKS * NODE_FANOUT + 1)).toBe(2);
  });

  it('a 3-level tree with sparse leaves finds every block and every hole', async () => {
    const m = memoryNodes();
    const blocks = LEAF_BLOCKS * NODE_FANOUT * 2 + 5; // height 2: 2049 leaves
    const builder = new TreeBuilder(blocks, m.store);
    const written = new Map<number, Buffer>();
    for (let leaf = 0; leaf < builder.leafCount; leaf++) {
      if (leaf % 700 !== 3 && leaf !== builder.leafCount - 1) {
        await builder.pushLeaf(leaf, null);
        continue;
      }
      const slots = [0, 17, LEAF_BLOCKS - 1]
        .map((s) => ({ slot: s, id: idOf(leaf * LEAF_BLOCKS + s) }))
        .filter((e) => leaf * LEAF_BLOCKS + e.slot < blocks);
      for (const s of slots) written.set(leaf * LEAF_BLOCKS + s.slot, s.id);
      await builder.pushLeaf(leaf, await m.store(encodeLeaf(slots)));
    }
    const tree = builder.finish();
    expect(tree.height).toBe(2);
    const reader = new TreeReader(tree, m.load, 'test');
    for (const [block, id] of written) expect((await reader.blockId(block))?.equals(id)).toBe(true);
    for (const hole of [1, 5000, LEAF_BLOCKS * 3 + 18, blocks - 2])
      expect(await reader.blockId(hole)).toBeNull();
    const leaves = [];
    for await (const l of reader.leaves()) leaves.push(l.leafIndex);
    expect(leaves).toEqual([3, 703, 1403, 2048]);
  });

  it('an all-hole disk has no root', async () => {
    const m = memoryNodes();
    const builder = new TreeBuilder(LEAF_BLOCKS * 3, m.store);
    for (let i = 0; i < 3; i++) await builder.pushLeaf(i, null);
    expect(builder.finish().root).toBeNull();
    expect(m.nodes.size).toBe(0);
  });

  it('leaves must come in order, all of them', async () => {
    const builder = new TreeBuilder(LEAF_BLOCKS * 2, memoryNodes().store);
    await expect(builder.pushLeaf(1, null)).rejects.toThrow(/leaf 1 pushed, 0 expected/);
    await builder.pushLeaf(0, null);
    expect(() => builder.finish()).toThrow(/1 of 2 leaves/);
  });

  it('refuses malformed nodes', () => {
    const leaf = encodeLeaf([
      { slot: 5, id: idOf(1) },
      { slot: 9, id: idOf(2) },
    ]);
    expect(decodeNode(leaf, 'x').entries.map((e) => e.slot)).toEqual([5, 9]);
    expect(() => decodeNode(leaf.subarray(0, leaf.length - 1), 'leaf')).toThrow(/not a valid tree node/);
    const unordered = encodeLeaf([
      { slot: 9, id: idOf(1) },
      { slot: 5, id: idOf(2) },
    ]);
    expect(() => decodeNode(unordered, 'leaf')).toThrow(/not a valid tree node/);
  });
});
