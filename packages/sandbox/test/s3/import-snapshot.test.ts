import { EBSClient, GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import {
  CancelImportTaskCommand,
  DescribeImportSnapshotTasksCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ImportSnapshotCommand,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { bytes, collect, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
let ec2: EC2Client;
const BLOCK = 524288;

beforeAll(async () => {
  sb = await sandbox({
    fast: false,
    timing: { snapshotSeconds: 1, instanceSeconds: 0, volumeSeconds: 0, startSnapshotVisibilitySeconds: 0 },
  });
  const a = sb.accounts[0]!;
  const credentials = { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey };
  ec2 = new EC2Client({ endpoint: sb.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  await s3(sb).send(new CreateBucketCommand({ Bucket: 'images' }));
});
afterAll(() => sb?.close());

async function task(id: string) {
  const r = await ec2.send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [id] }));
  return r.ImportSnapshotTasks?.[0]?.SnapshotTaskDetail;
}

/** Waits (on the sandbox clock) until the task leaves "active". */
async function settled(id: string) {
  sb.advanceClock(10_000);
  for (let i = 0; i < 100; i++) {
    const d = await task(id);
    if (d?.Status !== 'active') return d;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${id} still active`);
}

describe('EC2 ImportSnapshot from S3', () => {
  it('imports a RAW image into a snapshot, skipping zero blocks', { timeout: 60_000 }, async () => {
    // Block 0 and 3 hold data, 1 and 2 are zeros, and a 512-byte tail makes a fifth, partial block.
    const image = Buffer.concat([bytes(BLOCK, 1), Buffer.alloc(2 * BLOCK), bytes(BLOCK, 2), bytes(512, 3)]);
    await s3(sb).send(new PutObjectCommand({ Bucket: 'images', Key: 'disk.raw', Body: image }));
    const started = await ec2.send(
      new ImportSnapshotCommand({
        Description: 'restore test',
        DiskContainer: { Format: 'RAW', UserBucket: { S3Bucket: 'images', S3Key: 'disk.raw' } },
      }),
    );
    expect(started.ImportTaskId).toMatch(/^import-snap-[0-9a-f]{17}$/);
    expect(started.SnapshotTaskDetail).toMatchObject({
      Status: 'active',
      Format: 'RAW',
      UserBucket: { S3Bucket: 'images', S3Key: 'disk.raw' },
    });
    expect(Number(started.SnapshotTaskDetail?.Progress)).toBeLessThan(100);
    const done = await settled(started.ImportTaskId!);
    expect(done).toMatchObject({ Status: 'completed', DiskImageSize: image.length });
    const snapshotId = done?.SnapshotId as string;
    const snaps = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    expect(snaps.Snapshots?.[0]).toMatchObject({ State: 'completed', VolumeSize: 1 });
    const a = sb.accounts[0]!;
    const ebs = new EBSClient({
      endpoint: sb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
      maxAttempts: 1,
    });
    const blocks = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId }));
    expect(blocks.Blocks?.map((b) => b.BlockIndex)).toEqual([0, 3, 4]);
    for (const [index, expected] of [
      [0, image.subarray(0, BLOCK)],
      [3, image.subarray(3 * BLOCK, 4 * BLOCK)],
      [4, Buffer.concat([image.subarray(4 * BLOCK), Buffer.alloc(BLOCK - 512)])],
    ] as const) {
      const token = blocks.Blocks?.find((b) => b.BlockIndex === index)?.BlockToken;
      const got = await ebs.send(
        new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockToken: token }),
      );
      expect((await collect(got.BlockData)).equals(expected)).toBe(true);
    }
  });

  it('fails tasks as AWS does: missing object, unsupported format, odd size', {
    timeout: 60_000,
  }, async () => {
    await s3(sb).send(new PutObjectCommand({ Bucket: 'images', Key: 'odd.raw', Body: bytes(1000) }));
    const cases = [
      { Format: 'RAW', UserBucket: { S3Bucket: 'images', S3Key: 'missing.raw' } },
      { Format: 'VMDK', UserBucket: { S3Bucket: 'images', S3Key: 'odd.raw' } },
      { Format: 'raw', Url: 's3://images/odd.raw' },
    ];
    for (const DiskContainer of cases) {
      const t = await ec2.send(new ImportSnapshotCommand({ DiskContainer }));
      expect(t.SnapshotTaskDetail?.Status).toBe('active');
      const d = await settled(t.ImportTaskId!);
      expect(d?.Status).toBe('deleted');
      expect(d?.StatusMessage).toMatch(/^ClientError: /);
      expect(d?.SnapshotId).toBeUndefined();
    }
    await expect(
      ec2.send(new ImportSnapshotCommand({ DiskContainer: { Format: 'ISO', Url: 's3://images/odd.raw' } })),
    ).rejects.toMatchObject({ name: 'InvalidParameter' });
  });

  it('cancels an active task', async () => {
    const t = await ec2.send(
      new ImportSnapshotCommand({ DiskContainer: { Format: 'RAW', Url: 's3://images/missing.raw' } }),
    );
    const c = await ec2.send(new CancelImportTaskCommand({ ImportTaskId: t.ImportTaskId }));
    expect(c).toMatchObject({ PreviousState: 'active', State: 'deleting' });
    expect((await task(t.ImportTaskId!))?.Status).toBe('deleted');
    const all = await ec2.send(new DescribeImportSnapshotTasksCommand({}));
    expect(all.ImportSnapshotTasks?.length).toBeGreaterThanOrEqual(5);
  });
});
