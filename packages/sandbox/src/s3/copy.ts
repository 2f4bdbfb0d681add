import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { AwsError } from '../core/errors.js';
import { header, iso, ownBucket, type S3Call, type S3Handler } from './call.js';
import { type Algorithm, algorithmOf, hasher } from './checksums.js';
import { readConditions, writeConditions } from './conditions.js';
import { invalidArgument, invalidRequest } from './errors.js';
import { lockForNewObject } from './lock.js';
import { ARCHIVED, checkKey, metaFromHeaders, storageClassOf, userMetadata } from './meta.js';
import { findUpload, savePart } from './multipart.js';
import { stillThere } from './objects.js';
import type { Checksum, VersionRecord } from './records.js';
import { addVersion, selectVersion, versionHeaders } from './versioning.js';
import { sendXml } from './xml.js';

/** The object named by x-amz-copy-source ("/bucket/key?versionId=..." URL-encoded), read like a GET would. */
function source(c: S3Call): { bucket: string; key: string; v: VersionRecord } {
  const raw = header(c, 'x-amz-copy-source') as string;
  const [path = '', query = ''] = raw.split('?');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path).replace(/^\//, '');
  } catch {
    throw invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', raw);
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1)
    throw invalidArgument(
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      'x-amz-copy-source',
      raw,
    );
  const bucket = decoded.slice(0, slash);
  const key = decoded.slice(slash + 1);
  const versionId = new URLSearchParams(query).get('versionId');
  const query2 = new URLSearchParams(versionId ? { versionId } : {});
  const at: S3Call = { ...c, bucket, key, req: { ...c.req, query: query2 } };
  const b = ownBucket(at, false);
  const { v } = selectVersion(at, b);
  readConditions(c, v, 'x-amz-copy-source-');
  if (ARCHIVED.includes(v.storageClass))
    throw new AwsError(
      'InvalidObjectState',
      "The operation is not valid for the object's storage class",
      403,
      { StorageClass: v.storageClass },
    );
  return { bucket, key, v };
}

/** Streams [start, end] of a version into a new data file, hashing MD5 and, if asked, a checksum. */
async function copyBytes(c: S3Call, v: VersionRecord, start: number, end: number, algorithm?: Algorithm) {
  const open = c.files.openAll(v.segments);
  const temp = await c.files.create();
  const md5 = createHash('md5');
  const sum = algorithm ? hasher(algorithm) : undefined;
  try {
    let base = 0;
    for (const [i, s] of v.segments.entries()) {
      const from = Math.max(start, base);
      const to = Math.min(end, base + s.size - 1);
      base += s.size;
      if (from > to) continue;
      const rs = createReadStream('', {
        fd: open.fd(i),
        start: from - (base - s.size),
        end: to - (base - s.size),
        autoClose: false,
        highWaterMark: 1024 * 1024,
      });
      for await (const chunk of rs) {
        md5.update(chunk as Buffer);
        sum?.update(chunk as Buffer);
        await temp.write(chunk as Buffer);
      }
    }
    await temp.finish();
  } catch (e) {
    await temp.discard();
    throw e;
  } finally {
    open.close();
  }
  const checksum = sum && algorithm ? { algorithm, value: sum.digest().toString('base64') } : undefined;
  return { temp, md5: md5.digest('hex'), size: Math.max(0, end - start + 1), checksum };
}

/** COPY keeps the source's metadata; REPLACE takes the request's. Copying onto itself must change something. */
function destinationMeta(c: S3Call, src: { bucket: string; key: string; v: VersionRecord }) {
  const directive = header(c, 'x-amz-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE')
    throw invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  const storageClass = storageClassOf(c, 'STANDARD');
  const self = src.bucket === c.bucket && src.key === c.key && !c.req.query.get('versionId');
  if (
    self &&
    directive === 'COPY' &&
    storageClass === src.v.storageClass &&
    !header(c, 'x-amz-storage-class')
  ) {
    throw invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  if (directive === 'REPLACE') return { ...metaFromHeaders(c), metadata: userMetadata(c) };
  return { headers: src.v.headers, metadata: src.v.metadata, storageClass };
}

export const copyObject: S3Handler = async (c) => {
  checkKey(c.key);
  const b = ownBucket(c);
  const src = source(c);
  const meta = destinationMeta(c, src);
  const lock = lockForNewObject(c, b);
  writeConditions(c, c.records.latest(b.name, c.key));
  const asked = header(c, 'x-amz-checksum-algorithm');
  const algorithm = asked ? algorithmOf(asked) : (src.v.checksum?.algorithm as Algorithm | undefined);
  const copied = await copyBytes(c, src.v, 0, src.v.size - 1, algorithm);
  let v: VersionRecord;
  try {
    const now = stillThere(c);
    writeConditions(c, c.records.latest(now.name, c.key));
    v = {
      versionId: 'null',
      lastModified: iso(c.ctx.now()),
      size: copied.size,
      etag: copied.md5,
      segments: [{ file: copied.temp.name, size: copied.size }],
      ...meta,
      ...lock,
      ownerId: c.req.principal.accountId,
    };
    if (copied.checksum) v.checksum = { ...copied.checksum, type: 'FULL_OBJECT' } as Checksum;
    copied.temp.commit();
    addVersion(c, now, v);
  } catch (e) {
    await copied.temp.discard();
    throw e;
  }
  const sums = v.checksum
    ? { [`Checksum${v.checksum.algorithm}`]: v.checksum.value, ChecksumType: 'FULL_OBJECT' }
    : {};
  const srcVersion: Record<string, string> =
    src.v.versionId !== 'null' ? { 'x-amz-copy-source-version-id': src.v.versionId } : {};
  sendXml(
    c.res,
    'CopyObjectResult',
    { ETag: `"${v.etag}"`, LastModified: v.lastModified, ...sums },
    { ...versionHeaders(b, v), ...srcVersion, 'x-amz-server-side-encryption': 'AES256' },
  );
};

function copyRange(c: S3Call, size: number): [number, number] {
  const raw = header(c, 'x-amz-copy-source-range');
  if (raw === undefined) return [0, size - 1];
  const m = /^bytes=(\d+)-(\d+)$/.exec(raw);
  if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= size) {
    throw invalidArgument(
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      'x-amz-copy-source-range',
      raw,
    );
  }
  return [Number(m[1]), Number(m[2])];
}

export const uploadPartCopy: S3Handler = async (c) => {
  ownBucket(c);
  const n = Number(c.req.query.get('partNumber'));
  if (!Number.isInteger(n) || n < 1 || n > 10000)
    throw invalidArgument(
      'Part number must be an integer between 1 and 10000, inclusive',
      'partNumber',
      String(c.req.query.get('partNumber')),
    );
  const u = findUpload(c);
  const src = source(c);
  const [start, end] = copyRange(c, src.v.size);
  const copied = await copyBytes(c, src.v, start, end, u.checksumAlgorithm as Algorithm | undefined);
  const lastModified = iso(c.ctx.now());
  try {
    findUpload(c);
    copied.temp.commit();
  } catch (e) {
    await copied.temp.discard();
    throw e;
  }
  const part = {
    partNumber: n,
    etag: copied.md5,
    size: copied.size,
    file: copied.temp.name,
    lastModified,
    ...(copied.checksum && { checksum: copied.checksum.value }),
  };
  savePart(c, part);
  const sums = copied.checksum ? { [`Checksum${copied.checksum.algorithm}`]: copied.checksum.value } : {};
  sendXml(
    c.res,
    'CopyPartResult',
    { ETag: `"${part.etag}"`, LastModified: lastModified, ...sums },
    { 'x-amz-server-side-encryption': 'AES256' },
  );
};
