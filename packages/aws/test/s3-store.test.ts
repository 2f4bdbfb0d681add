import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { storeConformance } from '@lifeboat/repository';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../src/s3-store.js';

/** The store conformance suite, against the sandbox's S3 over HTTP (the SDK is not mocked). */
let sandbox: RunningSandbox;
let admin: S3Client;
const credentials = () => ({
  accessKeyId: sandbox.accounts[1]!.accessKeyId,
  secretAccessKey: sandbox.accounts[1]!.secretAccessKey,
});

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
  admin = new S3Client({
    endpoint: sandbox.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: credentials(),
  });
  await admin.send(new CreateBucketCommand({ Bucket: 'conformance' }));
});

afterAll(async () => {
  admin?.destroy();
  await sandbox?.close();
});

describe('S3Store conformance (sandbox S3)', () => {
  let n = 0;
  for (const [name, check] of Object.entries(storeConformance)) {
    it(name, async () => {
      const store = new S3Store(`s3:${sandbox.endpoint}/conformance/case-${n++}`, {
        client: { credentials: credentials() },
        maxAttempts: 2,
      });
      try {
        await check(store);
      } finally {
        await store.close();
      }
    });
  }
});

describe('S3Store specifics', () => {
  it('uploads large objects in parts, write-once, and reads any range back', async () => {
    const store = new S3Store(`s3:${sandbox.endpoint}/conformance/multipart`, {
      client: { credentials: credentials() },
      multipartOverBytes: 6 * 1024 * 1024,
      partBytes: 5 * 1024 * 1024,
    });
    try {
      const data = Buffer.alloc(13 * 1024 * 1024 + 123);
      for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
      await store.put('data/aa/big', [data.subarray(0, 1000), data.subarray(1000)]);
      expect((await store.stat('data/aa/big'))?.size).toBe(data.length);
      expect(
        (await store.getRange('data/aa/big', 5 * 1024 * 1024 - 10, 20)).equals(
          data.subarray(5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10),
        ),
      ).toBe(true);
      await expect(store.put('data/aa/big', data)).rejects.toMatchObject({ code: 'OBJECT_EXISTS' });
      expect((await store.get('data/aa/big')).equals(data)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
