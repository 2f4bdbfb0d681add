import { createHash } from 'node:crypto';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { bytes, codeOf, collect, expectFailure, failure, raw, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
const B = 'objects';
beforeAll(async () => {
  sb = await sandbox();
  await s3(sb).send(new CreateBucketCommand({ Bucket: B }));
});
afterAll(() => sb?.close());

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

describe('S3 objects', () => {
  it('puts, gets, heads and deletes with metadata, MD5 ETag and CRC32', async () => {
    const c = s3(sb);
    const data = bytes(100_000);
    const put = await c.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'dir/obj one+€.bin',
        Body: data,
        ContentType: 'application/x-test',
        Metadata: { owner: 'lifeboat', Mixed: 'Case' },
      }),
    );
    expect(put.ETag).toBe(`"${md5(data).toString('hex')}"`);
    expect(put.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    const got = await c.send(
      new GetObjectCommand({ Bucket: B, Key: 'dir/obj one+€.bin', ChecksumMode: 'ENABLED' }),
    );
    expect((await collect(got.Body)).equals(data)).toBe(true);
    expect(got).toMatchObject({
      ContentType: 'application/x-test',
      ContentLength: data.length,
      ETag: put.ETag,
      ChecksumCRC32: put.ChecksumCRC32,
      Metadata: { owner: 'lifeboat', mixed: 'Case' },
    });
    const head = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'dir/obj one+€.bin' }));
    expect(head.ContentLength).toBe(data.length);
    expect(head.StorageClass).toBeUndefined();
    expect(head.ChecksumCRC32).toBeUndefined(); // only with x-amz-checksum-mode: ENABLED
    await c.send(new DeleteObjectCommand({ Bucket: B, Key: 'dir/obj one+€.bin' }));
    const gone = await failure(c.send(new GetObjectCommand({ Bucket: B, Key: 'dir/obj one+€.bin' })));
    expect(gone).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(gone.raw.Key).toBe('dir/obj one+€.bin');
    expect((await failure(c.send(new HeadObjectCommand({ Bucket: B, Key: 'nope' })))).name).toBe('NotFound');
  });

  it('serves ranges: 206 with Content-Range, 416 InvalidRange', async () => {
    const c = s3(sb);
    const data = bytes(10_000, 7);
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'ranged', Body: data }));
    const mid = await c.send(new GetObjectCommand({ Bucket: B, Key: 'ranged', Range: 'bytes=100-199' }));
    expect(mid.$metadata.httpStatusCode).toBe(206);
    expect(mid.ContentRange).toBe('bytes 100-199/10000');
    expect((await collect(mid.Body)).equals(data.subarray(100, 200))).toBe(true);
    const tail = await c.send(new GetObjectCommand({ Bucket: B, Key: 'ranged', Range: 'bytes=-10' }));
    expect((await collect(tail.Body)).equals(data.subarray(9990))).toBe(true);
    const open = await c.send(new GetObjectCommand({ Bucket: B, Key: 'ranged', Range: 'bytes=9000-' }));
    expect((await collect(open.Body)).length).toBe(1000);
    const past = await failure(
      c.send(new GetObjectCommand({ Bucket: B, Key: 'ranged', Range: 'bytes=10000-' })),
    );
    expect(past).toMatchObject({ name: 'InvalidRange', status: 416 });
    expect(past.raw.ActualObjectSize).toBe('10000');
  });

  it('checks Content-MD5 (BadDigest, InvalidDigest) and declared checksums', async () => {
    const c = s3(sb);
    const body = Buffer.from('payload');
    await c.send(
      new PutObjectCommand({ Bucket: B, Key: 'md5', Body: body, ContentMD5: md5(body).toString('base64') }),
    );
    await expectFailure(
      c.send(
        new PutObjectCommand({
          Bucket: B,
          Key: 'md5',
          Body: body,
          ContentMD5: md5(Buffer.from('other')).toString('base64'),
        }),
      ),
      'BadDigest',
      400,
    );
    await expectFailure(
      c.send(new PutObjectCommand({ Bucket: B, Key: 'md5', Body: body, ContentMD5: 'bm90LW1kNQ==' })),
      'InvalidDigest',
      400,
    );
    const wrongCrc = await raw(sb, {
      method: 'PUT',
      path: `/${B}/crc`,
      body,
      headers: { 'x-amz-checksum-crc32': 'AAAAAA==' },
    });
    expect([wrongCrc.status, codeOf(wrongCrc)]).toEqual([400, 'BadDigest']);
    const sha = await c.send(
      new PutObjectCommand({ Bucket: B, Key: 'sha', Body: body, ChecksumAlgorithm: 'SHA256' }),
    );
    expect(sha.ChecksumSHA256).toBe(createHash('sha256').update(body).digest('base64'));
    const crc32c = await c.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'c32c',
        Body: Buffer.from('123456789'),
        ChecksumAlgorithm: 'CRC32C',
      }),
    );
    expect(Buffer.from(crc32c.ChecksumCRC32C ?? '', 'base64').toString('hex')).toBe('e3069283');
  });

  it('verifies x-amz-content-sha256 while streaming (XAmzContentSHA256Mismatch)', async () => {
    const bad = await raw(sb, {
      method: 'PUT',
      path: `/${B}/sha-mismatch`,
      body: 'abc',
      payloadHash: createHash('sha256').update('abd').digest('hex'),
    });
    expect([bad.status, codeOf(bad)]).toEqual([400, 'XAmzContentSHA256Mismatch']);
    expect(bad.body).toContain('<Resource>');
    const gone = await failure(s3(sb).send(new HeadObjectCommand({ Bucket: B, Key: 'sha-mismatch' })));
    expect(gone.status).toBe(404);
    const ok = await raw(sb, { method: 'PUT', path: `/${B}/sha-ok`, body: 'abc' });
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).toBe(`"${md5(Buffer.from('abc')).toString('hex')}"`);
  });

  it('copies with the metadata directive and refuses a copy onto itself', async () => {
    const c = s3(sb);
    await c.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'src',
        Body: 'copy me',
        Metadata: { a: '1' },
        ContentType: 'text/plain',
      }),
    );
    const copied = await c.send(new CopyObjectCommand({ Bucket: B, Key: 'dst', CopySource: `${B}/src` }));
    expect(copied.CopyObjectResult?.ETag).toBe(`"${md5(Buffer.from('copy me')).toString('hex')}"`);
    const dst = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'dst' }));
    expect(dst).toMatchObject({ Metadata: { a: '1' }, ContentType: 'text/plain' });
    await c.send(
      new CopyObjectCommand({
        Bucket: B,
        Key: 'dst',
        CopySource: `${B}/src`,
        MetadataDirective: 'REPLACE',
        Metadata: { b: '2' },
      }),
    );
    expect((await c.send(new HeadObjectCommand({ Bucket: B, Key: 'dst' }))).Metadata).toEqual({ b: '2' });
    await expectFailure(
      c.send(new CopyObjectCommand({ Bucket: B, Key: 'src', CopySource: `${B}/src` })),
      'InvalidRequest',
      400,
    );
    await c.send(
      new CopyObjectCommand({
        Bucket: B,
        Key: 'src',
        CopySource: `${B}/src`,
        MetadataDirective: 'REPLACE',
        Metadata: { c: '3' },
      }),
    );
    await expectFailure(
      c.send(new CopyObjectCommand({ Bucket: B, Key: 'x', CopySource: `${B}/missing` })),
      'NoSuchKey',
      404,
    );
    await expectFailure(
      c.send(
        new CopyObjectCommand({ Bucket: B, Key: 'x', CopySource: `${B}/src`, CopySourceIfMatch: '"nope"' }),
      ),
      'PreconditionFailed',
      412,
    );
  });

  it('deletes many at once, quietly or not', async () => {
    const c = s3(sb);
    for (const k of ['d1', 'd2', 'd3']) await c.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }));
    const loud = await c.send(
      new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'd1' }, { Key: 'd-missing' }] } }),
    );
    expect(loud.Deleted?.map((d) => d.Key).sort()).toEqual(['d-missing', 'd1']);
    const quiet = await c.send(
      new DeleteObjectsCommand({
        Bucket: B,
        Delete: { Quiet: true, Objects: [{ Key: 'd2' }, { Key: 'd3' }] },
      }),
    );
    expect(quiet.Deleted).toBeUndefined();
    expect(quiet.Errors).toBeUndefined();
    await expectFailure(c.send(new HeadObjectCommand({ Bucket: B, Key: 'd3' })), 'NotFound', 404);
  });

  it('stores storage classes and refuses GET of archived objects', async () => {
    const c = s3(sb);
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'cold', Body: 'ice', StorageClass: 'DEEP_ARCHIVE' }));
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'ia', Body: 'warm', StorageClass: 'STANDARD_IA' }));
    expect((await c.send(new HeadObjectCommand({ Bucket: B, Key: 'cold' }))).StorageClass).toBe(
      'DEEP_ARCHIVE',
    );
    const frozen = await failure(c.send(new GetObjectCommand({ Bucket: B, Key: 'cold' })));
    expect(frozen).toMatchObject({ name: 'InvalidObjectState', status: 403 });
    expect(
      (await collect((await c.send(new GetObjectCommand({ Bucket: B, Key: 'ia' }))).Body)).toString(),
    ).toBe('warm');
    await expectFailure(
      c.send(new PutObjectCommand({ Bucket: B, Key: 'x', Body: 'x', StorageClass: 'COLD' as never })),
      'InvalidStorageClass',
      400,
    );
  });
});
