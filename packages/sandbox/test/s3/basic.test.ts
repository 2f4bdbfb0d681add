import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { collect, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
beforeAll(async () => { sb = await sandbox(); });
afterAll(() => sb?.close());

describe('smoke', () => {
  it('puts and gets', async () => {
    const c = s3(sb);
    await c.send(new CreateBucketCommand({ Bucket: 'smoke' }));
    const put = await c.send(new PutObjectCommand({ Bucket: 'smoke', Key: 'a/b.txt', Body: 'hello' }));
    console.log(put);
    const got = await c.send(new GetObjectCommand({ Bucket: 'smoke', Key: 'a/b.txt', ChecksumMode: 'ENABLED' }));
    expect((await collect(got.Body)).toString()).toBe('hello');
    console.log(await c.send(new HeadObjectCommand({ Bucket: 'smoke', Key: 'a/b.txt' })));
    console.log(await c.send(new ListObjectsV2Command({ Bucket: 'smoke', Delimiter: '/' })));
  });
});
