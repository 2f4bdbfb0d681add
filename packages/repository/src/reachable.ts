import { RepositoryError } from './errors.js';
import type { Manifest } from './manifest.js';
import type { Repository } from './repository.js';
import { decodeNode } from './tree/codec.js';

/**
 * The set of blobs reachable from restore points, in bounded memory: 8 bytes (the id's first 64 bits) per blob in
 * a sorted BigUint64Array, 16 MiB for 2 million blobs. A prefix collision can only make an unreachable blob look
 * reachable, which keeps garbage (safe), never deletes data.
 */
export class BlobSet {
  private buf = new BigUint64Array(1 << 16);
  private n = 0;
  private sorted = true;

  static prefix(id: Uint8Array): bigint {
    return Buffer.from(id.buffer, id.byteOffset, 8).readBigUInt64BE(0);
  }

  add(id: Uint8Array): void {
    if (this.n === this.buf.length) {
      const bigger = new BigUint64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = BlobSet.prefix(id);
    this.sorted = false;
  }

  private seal(): void {
    if (this.sorted) return;
    const view = this.buf.subarray(0, this.n).sort();
    let w = 0;
    for (let r = 0; r < view.length; r++) if (w === 0 || view[r] !== view[w - 1]) view[w++] = view[r]!;
    this.n = w;
    this.sorted = true;
  }

  has(id: Uint8Array): boolean {
    this.seal();
    const p = BlobSet.prefix(id);
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.buf[mid]!;
      if (v === p) return true;
      if (v < p) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  get size(): number {
    this.seal();
    return this.n;
  }
}

/**
 * Marks every blob reachable from the given manifests: tree nodes and chunks. A subtree already visited (shared
 * with another restore point) is not walked again. Any unreadable node stops the walk: without a complete mark,
 * nothing may be deleted.
 */
export async function markReachable(repo: Repository, manifests: readonly Manifest[]): Promise<BlobSet> {
  const set = new BlobSet();
  const visited = new Set<string>();
  const walk = async (id: Buffer, level: number, what: string): Promise<void> => {
    const k = id.toString('latin1');
    if (visited.has(k)) return;
    visited.add(k);
    set.add(id);
    let node: ReturnType<typeof decodeNode>;
    try {
      node = decodeNode(await repo.loadBlob(id, what), what);
    } catch (cause) {
      throw new RepositoryError(
        'REPO_CORRUPT',
        `${what} cannot be read, so what is still in use cannot be known: run "lifeboat repo check" and repair first (${(cause as Error).message})`,
        { cause },
      );
    }
    for (const e of node.entries) {
      if (level === 0) set.add(e.id);
      else await walk(e.id, level - 1, what);
    }
  };
  for (const m of manifests) {
    for (const d of m.disks) {
      if (d.tree.root)
        await walk(
          Buffer.from(d.tree.root, 'hex'),
          d.tree.height,
          `restore point ${m.id} disk ${d.name} tree`,
        );
    }
  }
  return set;
}
