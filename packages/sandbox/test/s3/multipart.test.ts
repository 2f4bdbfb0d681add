import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { bytes, collect, expectFailure, failure, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
const B = 'multipart';
const MiB = 1024 * 1024;
beforeAll(async () => {
  sb = await sandbox();
  await s3(sb).send(new CreateBucketCommand({ Bucket: B }));
});
afterAll(() => sb?.close());

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

describe('S3 multipart uploads', () => {
  it('takes a lib-storage Upload in parts: ETag -N, composite CRC32, parts count', async () => {
    const data = bytes(12 * MiB + 123, 3);
    const up = new Upload({
      client: s3(sb),
      params: { Bucket: B, Key: 'big/upload.bin', Body: data },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    const done = await up.done();
    const expected = createHash('md5')
      .update(
        Buffer.concat(
          [0, 1, 2].map((i) => md5(data.subarray(i * 5 * MiB, Math.min(data.length, (i + 1) * 5 * MiB)))),
        ),
      )
      .digest('hex');
    expect(done.ETag).toBe(`"${expected}-3"`);
    expect(done.ChecksumCRC32).toMatch(/-3$/);
    const got = await s3(sb).send(
      new GetObjectCommand({ Bucket: B, Key: 'big/upload.bin', ChecksumMode: 'ENABLED' }),
    );
    expect((await collect(got.Body)).equals(data)).toBe(true);
    const part2 = await s3(sb).send(
      new GetObjectCommand({ Bucket: B, Key: 'big/upload.bin', PartNumber: 2 }),
    );
    expect(part2.PartsCount).toBe(3);
    expect((await collect(part2.Body)).equals(data.subarray(5 * MiB, 10 * MiB))).toBe(true);
    const range = await s3(sb).send(
      new GetObjectCommand({
        Bucket: B,
        Key: 'big/upload.bin',
        Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}`,
      }),
    );
    expect((await collect(range.Body)).equals(data.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
  });

  it('checks parts at completion: EntityTooSmall, InvalidPart, InvalidPartOrder', async () => {
    const c = s3(sb);
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'checked' }));
    const p1 = await c.send(
      new UploadPartCommand({ Bucket: B, Key: 'checked', UploadId, PartNumber: 1, Body: bytes(MiB, 1) }),
    );
    const p2 = await c.send(
      new UploadPartCommand({ Bucket: B, Key: 'checked', UploadId, PartNumber: 2, Body: bytes(MiB, 2) }),
    );
    const complete = (Parts: Array<{ PartNumber: number; ETag?: string }>) =>
      c.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: 'checked',
          UploadId,
          MultipartUpload: { Parts },
        }),
      );
    await expectFailure(
      complete([
        { PartNumber: 1, ETag: p1.ETag },
        { PartNumber: 2, ETag: p2.ETag },
      ]),
      'EntityTooSmall',
      400,
    );
    await expectFailure(
      complete([
        { PartNumber: 2, ETag: p2.ETag },
        { PartNumber: 1, ETag: p1.ETag },
      ]),
      'InvalidPartOrder',
      400,
    );
    await expectFailure(
      complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]),
      'InvalidPart',
      400,
    );
    await expectFailure(complete([{ PartNumber: 3, ETag: p1.ETag }]), 'InvalidPart', 400);
    const parts = await c.send(new ListPartsCommand({ Bucket: B, Key: 'checked', UploadId, MaxParts: 1 }));
    expect(parts.Parts?.map((p) => p.PartNumber)).toEqual([1]);
    expect(parts.IsTruncated).toBe(true);
    const rest = await c.send(
      new ListPartsCommand({
        Bucket: B,
        Key: 'checked',
        UploadId,
        PartNumberMarker: parts.NextPartNumberMarker,
      }),
    );
    expect(rest.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[2, MiB]]);
    const single = await complete([{ PartNumber: 1, ETag: p1.ETag }]); // a lone last part may be small
    expect(single.ETag).toBe(
      `"${createHash('md5')
        .update(md5(bytes(MiB, 1)))
        .digest('hex')}-1"`,
    );
    await expectFailure(
      c.send(new ListPartsCommand({ Bucket: B, Key: 'checked', UploadId })),
      'NoSuchUpload',
      404,
    );
  });

  it('lists and aborts uploads', async () => {
    const c = s3(sb);
    const a = await c.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'ab/one' }));
    const b = await c.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: 'ab/two', StorageClass: 'STANDARD_IA' }),
    );
    await c.send(
      new UploadPartCommand({ Bucket: B, Key: 'ab/one', UploadId: a.UploadId, PartNumber: 1, Body: 'x' }),
    );
    const listed = await c.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'ab/' }));
    expect(listed.Uploads?.map((u) => [u.Key, u.StorageClass])).toEqual([
      ['ab/one', 'STANDARD'],
      ['ab/two', 'STANDARD_IA'],
    ]);
    await c.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'ab/one', UploadId: a.UploadId }));
    await c.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'ab/two', UploadId: b.UploadId }));
    await expectFailure(
      c.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'ab/two', UploadId: b.UploadId })),
      'NoSuchUpload',
      404,
    );
    await expectFailure(
      c.send(
        new UploadPartCommand({ Bucket: B, Key: 'ab/one', UploadId: a.UploadId, PartNumber: 1, Body: 'x' }),
      ),
      'NoSuchUpload',
      404,
    );
    expect(
      (await c.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'ab/' }))).Uploads,
    ).toBeUndefined();
  });

  it('copies parts and completes write-once with If-None-Match', async () => {
    const c = s3(sb);
    const src = bytes(6 * MiB, 9);
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'copy-src', Body: src }));
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'copy-dst' }));
    const p1 = await c.send(
      new UploadPartCopyCommand({
        Bucket: B,
        Key: 'copy-dst',
        UploadId,
        PartNumber: 1,
        CopySource: `${B}/copy-src`,
        CopySourceRange: `bytes=0-${5 * MiB - 1}`,
      }),
    );
    const p2 = await c.send(
      new UploadPartCommand({ Bucket: B, Key: 'copy-dst', UploadId, PartNumber: 2, Body: 'tail' }),
    );
    const parts = [
      { PartNumber: 1, ETag: p1.CopyPartResult?.ETag },
      { PartNumber: 2, ETag: p2.ETag },
    ];
    await c.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'copy-dst',
        UploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: '*',
      }),
    );
    const got = await collect((await c.send(new GetObjectCommand({ Bucket: B, Key: 'copy-dst' }))).Body);
    expect(got.equals(Buffer.concat([src.subarray(0, 5 * MiB), Buffer.from('tail')]))).toBe(true);
    const again = await c.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'copy-dst' }));
    const q = await c.send(
      new UploadPartCommand({
        Bucket: B,
        Key: 'copy-dst',
        UploadId: again.UploadId,
        PartNumber: 1,
        Body: 'late',
      }),
    );
    const late = await failure(
      c.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: 'copy-dst',
          UploadId: again.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: q.ETag }] },
          IfNoneMatch: '*',
        }),
      ),
    );
    expect(late).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    expect((await c.send(new HeadObjectCommand({ Bucket: B, Key: 'copy-dst' }))).PartsCount).toBeUndefined();
  });
});
