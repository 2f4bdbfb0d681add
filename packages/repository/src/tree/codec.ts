import { RepositoryError } from '../errors.js';
import { ID_BYTES, LEAF_BLOCKS, NODE_FANOUT } from '../format.js';

/**
 * Disk maps are trees of content-addressed blobs. A leaf maps LEAF_BLOCKS consecutive blocks to chunk ids; an
 * inner node at level k >= 1 lists up to NODE_FANOUT children of level k-1. Holes (all-zero blocks) and empty
 * subtrees are simply absent. Because nodes are addressed by content, an incremental restore point stores only
 * the leaves it changed and the path above them; every other node is shared with its parent restore point.
 *
 * Leaf:  'L' | u32 n | n x (u16 block offset in leaf, 32-byte chunk id), offsets ascending
 * Inner: 'N' | u8 level | u32 n | n x (u16 child slot, 32-byte child id), slots ascending
 */
const LEAF = 0x4c;
const NODE = 0x4e;
const ENTRY = 2 + ID_BYTES;

export interface Slot {
  slot: number;
  id: Buffer;
}

export function encodeLeaf(entries: readonly Slot[]): Buffer {
  return encode(Buffer.from([LEAF]), entries);
}

export function encodeNode(level: number, entries: readonly Slot[]): Buffer {
  return encode(Buffer.from([NODE, level]), entries);
}

function encode(head: Buffer, entries: readonly Slot[]): Buffer {
  const buf = Buffer.alloc(head.length + 4 + entries.length * ENTRY);
  let o = head.copy(buf, 0);
  o = buf.writeUInt32LE(entries.length, o);
  for (const e of entries) {
    o = buf.writeUInt16LE(e.slot, o);
    o += e.id.copy(buf, o);
  }
  return buf;
}

export interface DecodedNode {
  level: number; // 0 for a leaf
  entries: Slot[];
}

export function decodeNode(buf: Buffer, what: string): DecodedNode {
  const fail = () => new RepositoryError('REPO_CORRUPT', `${what} is not a valid tree node`);
  if (buf.length < 5) throw fail();
  const isLeaf = buf[0] === LEAF;
  if (!isLeaf && buf[0] !== NODE) throw fail();
  const level = isLeaf ? 0 : buf[1]!;
  let o = isLeaf ? 1 : 2;
  const n = buf.readUInt32LE(o);
  o += 4;
  if (buf.length !== o + n * ENTRY) throw fail();
  const limit = isLeaf ? LEAF_BLOCKS : NODE_FANOUT;
  const entries: Slot[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++, o += ENTRY) {
    const slot = buf.readUInt16LE(o);
    if (slot <= prev || slot >= limit) throw fail();
    prev = slot;
    entries.push({ slot, id: Buffer.from(buf.subarray(o + 2, o + 2 + ID_BYTES)) });
  }
  return { level, entries };
}

/** Height of the tree over `blocks` blocks: 0 when one leaf suffices. */
export function treeHeight(blocks: number): number {
  let leaves = Math.max(1, Math.ceil(blocks / LEAF_BLOCKS));
  let h = 0;
  while (leaves > 1) {
    leaves = Math.ceil(leaves / NODE_FANOUT);
    h++;
  }
  return h;
}
