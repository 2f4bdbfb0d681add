import { intParam, ownBucket, owner, type S3Call, type S3Handler } from './call.js';
import { invalidArgument } from './errors.js';
import type { BucketRecord, VersionRecord } from './records.js';
import { lowerBound } from './store.js';
import { sendXml } from './xml.js';

interface Walk {
  prefix: string;
  delimiter: string;
  max: number;
  /** List keys strictly after this one (marker, start-after, continuation). */
  after: string;
}

/** One listing step: a key, or a common prefix standing for every key under it. */
type Entry = { key: string } | { prefix: string };

/**
 * Walks the bucket's keys in order from `after`, folding keys that share a prefix up to the delimiter into one
 * common prefix, until `max` entries. `keep` says whether a key is listed at all (not only a delete marker).
 */
function walk(
  keys: readonly string[],
  w: Walk,
  keep: (key: string) => boolean,
): { entries: Entry[]; truncated: boolean } {
  const entries: Entry[] = [];
  let i = lowerBound(keys, w.after > w.prefix ? w.after : w.prefix);
  // A marker that is itself a common prefix (a previous page ended on it) skips everything under it.
  const skipUnder =
    w.delimiter && w.after.startsWith(w.prefix) && w.after.endsWith(w.delimiter) ? w.after : undefined;
  for (; i < keys.length; i++) {
    const key = keys[i] as string;
    if (!key.startsWith(w.prefix)) break;
    if (key <= w.after || (skipUnder && key.startsWith(skipUnder)) || !keep(key)) continue;
    const cut = w.delimiter ? key.indexOf(w.delimiter, w.prefix.length) : -1;
    const entry: Entry = cut < 0 ? { key } : { prefix: key.slice(0, cut + w.delimiter.length) };
    if (entries.length === w.max) return { entries, truncated: true };
    if ('prefix' in entry) {
      entries.push(entry);
      i = lowerBound(keys, `${entry.prefix}\u{10ffff}`) - 1; // past every key under it
    } else entries.push(entry);
  }
  return { entries, truncated: false };
}

function encoder(c: S3Call): (s: string) => string {
  const type = c.req.query.get('encoding-type');
  if (type !== null && type !== 'url')
    throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', type);
  return type === 'url' ? (s) => encodeURIComponent(s).replace(/%2F/g, '/') : (s) => s;
}

function params(c: S3Call, after: string): Walk {
  return {
    prefix: c.req.query.get('prefix') ?? '',
    delimiter: c.req.query.get('delimiter') ?? '',
    max: intParam(c, 'max-keys', 0, 2 ** 31 - 1) ?? 1000,
    after,
  };
}

function contents(c: S3Call, b: BucketRecord, key: string, enc: (s: string) => string, withOwner: boolean) {
  const v = c.records.latest(b.name, key) as VersionRecord;
  return {
    Key: enc(key),
    LastModified: v.lastModified,
    ETag: `"${v.etag}"`,
    ChecksumAlgorithm: v.checksum?.algorithm,
    ChecksumType: v.checksum?.type,
    Size: v.size,
    Owner: withOwner ? owner(v.ownerId) : undefined,
    StorageClass: v.storageClass,
  };
}

function listing(c: S3Call, b: BucketRecord, w: Walk) {
  const max = Math.min(w.max, 1000);
  const page = walk(
    c.records.keysOf(b.name),
    { ...w, max },
    (k) => c.records.latest(b.name, k) !== undefined,
  );
  const last = page.entries[page.entries.length - 1];
  const next = last ? ('key' in last ? last.key : last.prefix) : undefined;
  return { ...page, next };
}

export const listObjectsV2: S3Handler = (c) => {
  const b = ownBucket(c);
  const enc = encoder(c);
  const token = c.req.query.get('continuation-token');
  let after = c.req.query.get('start-after') ?? '';
  if (token !== null) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (!token || !decoded.startsWith('k:'))
      throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
    after = decoded.slice(2);
  }
  const w = params(c, after);
  const page = listing(c, b, w);
  const withOwner = c.req.query.get('fetch-owner') === 'true';
  const keys = page.entries.filter((e): e is { key: string } => 'key' in e);
  sendXml(c.res, 'ListBucketResult', {
    Name: b.name,
    Prefix: enc(w.prefix),
    Delimiter: w.delimiter ? enc(w.delimiter) : undefined,
    MaxKeys: w.max,
    EncodingType: c.req.query.get('encoding-type') ?? undefined,
    KeyCount: page.entries.length,
    IsTruncated: page.truncated,
    ContinuationToken: token ?? undefined,
    NextContinuationToken:
      page.truncated && page.next ? Buffer.from(`k:${page.next}`).toString('base64url') : undefined,
    StartAfter:
      c.req.query.get('start-after') !== null ? enc(c.req.query.get('start-after') as string) : undefined,
    Contents: keys.map((e) => contents(c, b, e.key, enc, withOwner)),
    CommonPrefixes: page.entries
      .filter((e): e is { prefix: string } => 'prefix' in e)
      .map((e) => ({ Prefix: enc(e.prefix) })),
  });
};

export const listObjects: S3Handler = (c) => {
  const b = ownBucket(c);
  const enc = encoder(c);
  const marker = c.req.query.get('marker') ?? '';
  const w = params(c, marker);
  const page = listing(c, b, w);
  sendXml(c.res, 'ListBucketResult', {
    Name: b.name,
    Prefix: enc(w.prefix),
    Marker: enc(marker),
    NextMarker: page.truncated && w.delimiter && page.next ? enc(page.next) : undefined,
    MaxKeys: w.max,
    Delimiter: w.delimiter ? enc(w.delimiter) : undefined,
    EncodingType: c.req.query.get('encoding-type') ?? undefined,
    IsTruncated: page.truncated,
    Contents: page.entries
      .filter((e): e is { key: string } => 'key' in e)
      .map((e) => contents(c, b, e.key, enc, true)),
    CommonPrefixes: page.entries
      .filter((e): e is { prefix: string } => 'prefix' in e)
      .map((e) => ({ Prefix: enc(e.prefix) })),
  });
};

function versionEntry(key: string, v: VersionRecord, latest: boolean, enc: (s: string) => string) {
  const common = {
    Key: enc(key),
    VersionId: v.versionId,
    IsLatest: latest,
    LastModified: v.lastModified,
    Owner: owner(v.ownerId),
  };
  if (v.deleteMarker) return { DeleteMarker: common };
  return {
    Version: {
      ...common,
      ETag: `"${v.etag}"`,
      Size: v.size,
      StorageClass: v.storageClass,
      ChecksumAlgorithm: v.checksum?.algorithm,
      ChecksumType: v.checksum?.type,
    },
  };
}

/** ListObjectVersions: keys in order, each key's versions newest first, paged by (key-marker, version-id-marker). */
export const listObjectVersions: S3Handler = (c) => {
  const b = ownBucket(c);
  const enc = encoder(c);
  const keyMarker = c.req.query.get('key-marker') ?? '';
  const versionMarker = c.req.query.get('version-id-marker') ?? '';
  if (versionMarker && !keyMarker)
    throw invalidArgument(
      'A version-id marker cannot be specified without a key marker.',
      'version-id-marker',
      versionMarker,
    );
  const w = params(c, '');
  const max = Math.min(w.max, 1000);
  const out: Array<Record<string, unknown>> = [];
  const prefixes: Array<{ Prefix: string }> = [];
  let truncated = false;
  let nextKey: string | undefined;
  let nextVersion: string | undefined;
  // Resume inside the marker key when a version marker is given, else after it.
  const keep = (k: string) => (versionMarker ? k >= keyMarker : k > keyMarker);
  const page = walk(c.records.keysOf(b.name), { ...w, max: Number.MAX_SAFE_INTEGER }, keep);
  outer: for (const e of page.entries) {
    if ('prefix' in e) {
      if (out.length + prefixes.length >= max) {
        truncated = true;
        break;
      }
      prefixes.push({ Prefix: enc(e.prefix) });
      nextKey = e.prefix;
      nextVersion = undefined;
      continue;
    }
    const o = c.records.object(b.name, e.key);
    let versions = o?.versions ?? [];
    if (e.key === keyMarker && versionMarker) {
      const at = versions.findIndex((v) => v.versionId === versionMarker);
      if (at < 0) throw invalidArgument('Invalid version id specified', 'version-id-marker', versionMarker);
      versions = versions.slice(at + 1);
    } else if (e.key === keyMarker) continue;
    for (const v of versions) {
      if (out.length + prefixes.length >= max) {
        truncated = true;
        break outer;
      }
      out.push(versionEntry(e.key, v, v === o?.versions[0], enc));
      nextKey = e.key;
      nextVersion = v.versionId;
    }
  }
  sendXml(c.res, 'ListVersionsResult', {
    Name: b.name,
    Prefix: enc(w.prefix),
    KeyMarker: enc(keyMarker),
    VersionIdMarker: versionMarker,
    NextKeyMarker: truncated && nextKey !== undefined ? enc(nextKey) : undefined,
    NextVersionIdMarker: truncated ? nextVersion : undefined,
    MaxKeys: w.max,
    Delimiter: w.delimiter ? enc(w.delimiter) : undefined,
    EncodingType: c.req.query.get('encoding-type') ?? undefined,
    IsTruncated: truncated,
    ...mergeEntries(out),
    CommonPrefixes: prefixes,
  });
};

/** Versions and delete markers are separate element names; their relative order does not matter to clients. */
function mergeEntries(entries: Array<Record<string, unknown>>) {
  return {
    Version: entries.flatMap((e) => (e.Version ? [e.Version] : [])) as never,
    DeleteMarker: entries.flatMap((e) => (e.DeleteMarker ? [e.DeleteMarker] : [])) as never,
  };
}
