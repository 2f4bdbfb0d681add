import { header, type S3Call } from './call.js';
import { noSuchKey, notImplemented, preconditionFailed } from './errors.js';
import type { VersionRecord } from './records.js';

/** Whether an If-Match / If-None-Match list ("a", "b" or *) names this ETag. */
function matches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag.replace(/^"|"$/g, '') === etag;
  });
}

/** Seconds since the epoch of an HTTP date; undefined for a date S3 would ignore. */
function seconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

function modifiedSeconds(v: VersionRecord): number {
  return Math.floor(Date.parse(v.lastModified) / 1000);
}

/**
 * GET/HEAD preconditions as S3 evaluates them (RFC 7232 order): If-Match, else If-Unmodified-Since, fail with
 * 412; then If-None-Match, else If-Modified-Since, answer 304. `prefix` reads the x-amz-copy-source-if-* set,
 * where every failure is a 412.
 */
export function readConditions(c: S3Call, v: VersionRecord, prefix = ''): 'not-modified' | undefined {
  const get = (name: string) => header(c, `${prefix}${name}`);
  const ifMatch = get('if-match');
  const unmodifiedSince = seconds(get('if-unmodified-since'));
  if (ifMatch !== undefined) {
    if (!matches(ifMatch, v.etag)) throw preconditionFailed(`${prefix ? 'x-amz-copy-source-' : ''}If-Match`);
  } else if (unmodifiedSince !== undefined && modifiedSeconds(v) > unmodifiedSince) {
    throw preconditionFailed(`${prefix ? 'x-amz-copy-source-' : ''}If-Unmodified-Since`);
  }
  const ifNoneMatch = get('if-none-match');
  const modifiedSince = seconds(get('if-modified-since'));
  const notModified =
    ifNoneMatch !== undefined
      ? matches(ifNoneMatch, v.etag)
      : modifiedSince !== undefined && modifiedSeconds(v) <= modifiedSince;
  if (!notModified) return undefined;
  if (prefix)
    throw preconditionFailed(
      `x-amz-copy-source-If-${ifNoneMatch !== undefined ? 'None-Match' : 'Modified-Since'}`,
    );
  return 'not-modified';
}

/**
 * Conditional writes (PutObject, CompleteMultipartUpload, CopyObject's destination): If-None-Match: * fails when
 * the key has a current version; If-Match needs the current version to have that ETag (NoSuchKey when there is
 * none). Called once before the body is read and again in the turn that commits, so that of two racing writes
 * exactly one wins.
 */
export function writeConditions(c: S3Call, current: VersionRecord | undefined): void {
  const ifNoneMatch = header(c, 'if-none-match');
  const ifMatch = header(c, 'if-match');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw notImplemented();
    if (current) throw preconditionFailed('If-None-Match');
  }
  if (ifMatch !== undefined) {
    if (!current) throw noSuchKey(c.key);
    if (!matches(ifMatch, current.etag)) throw preconditionFailed('If-Match');
  }
}
