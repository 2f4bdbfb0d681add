import { hashAt, lowerBound, type SortedBlocks } from './layer.js';

export interface ChangedEntry {
  index: number;
  first?: Buffer; // SHA-256 in the first snapshot, if it has the block
  second?: Buffer;
}

export interface ChangedPage {
  entries: ChangedEntry[];
  /** Where the next page starts; absent on the last page. */
  next?: number;
}

/**
 * One page as AWS pages ListChangedBlocks: it scans `max` of the blocks written in either snapshot (`a`, `b`)
 * from `start` and returns those among them that were written between the two (`written`, ascending), so a page
 * may be empty while more follow. See "List blocks that are different between two snapshots" in the EBS guide.
 */
export function scanChanges(
  a: SortedBlocks,
  b: SortedBlocks,
  written: Uint32Array,
  start: number,
  max: number,
): ChangedPage {
  const entries: ChangedEntry[] = [];
  let i = lowerBound(a, start);
  let j = lowerBound(b, start);
  const na = a.indexes.length;
  const nb = b.indexes.length;
  for (let scanned = 0; scanned < max && (i < na || j < nb); scanned++) {
    const ia = i < na ? (a.indexes[i] as number) : Number.POSITIVE_INFINITY;
    const ib = j < nb ? (b.indexes[j] as number) : Number.POSITIVE_INFINITY;
    const index = Math.min(ia, ib);
    if (contains(written, index)) {
      const e: ChangedEntry = { index };
      if (ia === index) e.first = hashAt(a, i);
      if (ib === index) e.second = hashAt(b, j);
      entries.push(e);
    }
    if (ia === index) i++;
    if (ib === index) j++;
  }
  if (i >= na && j >= nb) return { entries };
  return {
    entries,
    next: Math.min(a.indexes[i] ?? Number.POSITIVE_INFINITY, b.indexes[j] ?? Number.POSITIVE_INFINITY),
  };
}

function contains(sorted: Uint32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo] === value;
}
