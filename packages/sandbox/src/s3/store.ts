import type { StateStore, Table } from '../core/state.js';
import type { BucketRecord, ObjectRecord, UploadRecord, VersionRecord } from './records.js';
import { TABLES } from './records.js';

/** First position in a sorted array whose key is >= `key` (binary search). */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * S3's records: buckets, objects (each with its versions), multipart uploads, plus an in-memory sorted key list
 * per bucket for listings (rebuilt from the journal at start, kept in step with every change).
 */
export class S3Records {
  readonly buckets: Table<BucketRecord>;
  readonly objects: Table<ObjectRecord>;
  readonly uploads: Table<UploadRecord>;
  private readonly sorted = new Map<string, string[]>();

  constructor(state: StateStore) {
    this.buckets = state.table<BucketRecord>(TABLES.buckets);
    this.objects = state.table<ObjectRecord>(TABLES.objects);
    this.uploads = state.table<UploadRecord>(TABLES.uploads);
    for (const o of this.objects.values()) this.keysOf(o.bucket).push(o.key);
    for (const keys of this.sorted.values()) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The bucket's keys in order (those with at least one version, delete markers included). */
  keysOf(bucket: string): string[] {
    let keys = this.sorted.get(bucket);
    if (!keys) {
      keys = [];
      this.sorted.set(bucket, keys);
    }
    return keys;
  }

  object(bucket: string, key: string): ObjectRecord | undefined {
    return this.objects.get(`${bucket}/${key}`);
  }

  /** The current version, unless it is a delete marker. */
  latest(bucket: string, key: string): VersionRecord | undefined {
    const v = this.object(bucket, key)?.versions[0];
    return v && !v.deleteMarker ? v : undefined;
  }

  /** Stores the object's versions; an object left with none is removed. */
  saveObject(o: ObjectRecord): void {
    const id = `${o.bucket}/${o.key}`;
    const keys = this.keysOf(o.bucket);
    const at = lowerBound(keys, o.key);
    const present = keys[at] === o.key;
    if (o.versions.length === 0) {
      this.objects.delete(id);
      if (present) keys.splice(at, 1);
      return;
    }
    this.objects.put(id, o);
    if (!present) keys.splice(at, 0, o.key);
  }

  dropBucket(name: string): void {
    this.buckets.delete(name);
    this.sorted.delete(name);
  }

  /** Every data file a record names: anything else in data/ is a crash's leftover. */
  referencedFiles(): Set<string> {
    const files = new Set<string>();
    for (const o of this.objects.values())
      for (const v of o.versions) for (const s of v.segments) files.add(s.file);
    for (const u of this.uploads.values()) for (const p of Object.values(u.parts)) files.add(p.file);
    return files;
  }
}
