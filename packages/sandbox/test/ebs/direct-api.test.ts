import {
  CompleteSnapshotCommand,
  type EBSClient,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  paginateListSnapshotBlocks,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotRecord } from '../../src/core/model.js';
import type { RunningSandbox } from '../../src/index.js';
import { createKmsKey } from '../kms/clients.js';
import {
  BLOCK_SIZE,
  b64sha,
  block,
  collect,
  ebs,
  expectAwsError,
  expectBytes,
  linearChecksum,
  sandbox,
} from './helpers.js';

let sb: RunningSandbox;
let client: EBSClient;

beforeAll(async () => {
  sb = await sandbox();
  client = ebs(sb);
});
afterAll(() => sb.close());

/** Writes a whole EBS direct snapshot: Start, Put each block, Complete with count and linear checksum. */
async function writeSnapshot(blocks: Array<[number, Buffer]>, parent?: string, c = client): Promise<string> {
  const start = await c.send(
    new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: parent, Timeout: 60 }),
  );
  const id = start.SnapshotId as string;
  for (const [index, data] of blocks) await put(id, index, data, c);
  await c.send(
    new CompleteSnapshotCommand({
      SnapshotId: id,
      ChangedBlocksCount: blocks.length,
      Checksum: linearChecksum(blocks),
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    }),
  );
  return id;
}

function put(id: string, index: number, data: Buffer, c = client) {
  return c.send(
    new PutSnapshotBlockCommand({
      SnapshotId: id,
      BlockIndex: index,
      BlockData: data,
      DataLength: data.length,
      Checksum: b64sha(data),
      ChecksumAlgorithm: 'SHA256',
    }),
  );
}

async function listAll(id: string, c = client) {
  const out: Array<{ BlockIndex?: number; BlockToken?: string }> = [];
  for await (const page of paginateListSnapshotBlocks({ client: c }, { SnapshotId: id, MaxResults: 100 })) {
    out.push(...(page.Blocks ?? []));
  }
  return out;
}

async function getBlock(id: string, index: number, token: string, c = client) {
  const r = await c.send(
    new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: index, BlockToken: token }),
  );
  return { ...r, data: await collect(r.BlockData) };
}

describe('EBS direct API over HTTP with the AWS SDK v3', () => {
  it('writes a snapshot, lists it and reads every block back with its checksum', async () => {
    const start = await client.send(
      new StartSnapshotCommand({ VolumeSize: 1, Description: 'direct', Tags: [{ Key: 'app', Value: 'db' }] }),
    );
    expect(start).toMatchObject({
      Status: 'pending',
      VolumeSize: 1,
      BlockSize: BLOCK_SIZE,
      OwnerId: '111111111111',
    });
    expect(start.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
    expect(start.StartTime).toBeInstanceOf(Date);
    expect(start.Tags).toEqual([{ Key: 'app', Value: 'db' }]);
    const id = start.SnapshotId as string;
    const blocks: Array<[number, Buffer]> = [
      [7, block(1)],
      [0, block(2)],
      [2047, block(3)],
    ];
    for (const [i, d] of blocks) {
      const r = await put(id, i, d);
      expect(r).toMatchObject({ Checksum: b64sha(d), ChecksumAlgorithm: 'SHA256' });
    }
    const done = await client.send(
      new CompleteSnapshotCommand({
        SnapshotId: id,
        ChangedBlocksCount: 3,
        Checksum: linearChecksum(blocks),
        ChecksumAlgorithm: 'SHA256',
        ChecksumAggregationMethod: 'LINEAR',
      }),
    );
    expect(done.Status).toBe('completed');
    const list = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
    expect(list.Blocks?.map((b) => b.BlockIndex)).toEqual([0, 7, 2047]);
    expect(list).toMatchObject({ VolumeSize: 1, BlockSize: BLOCK_SIZE });
    expect(list.ExpiryTime?.getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);
    expect(list.NextToken).toBeUndefined();
    for (const b of list.Blocks ?? []) {
      const got = await getBlock(id, b.BlockIndex as number, b.BlockToken as string);
      const expected = blocks.find(([i]) => i === b.BlockIndex)?.[1] as Buffer;
      expectBytes(got.data, expected);
      expect(got).toMatchObject({
        DataLength: BLOCK_SIZE,
        Checksum: b64sha(expected),
        ChecksumAlgorithm: 'SHA256',
      });
    }
    const rec = sb.ctx.state.table<SnapshotRecord>('snapshots').get(id);
    expect(rec).toMatchObject({
      origin: 'ebs-direct',
      description: 'direct',
      direct: { status: 'completed' },
    });
  });

  it('continues a lineage with ParentSnapshotId: changed blocks and inherited ones', async () => {
    const parent = await writeSnapshot([
      [1, block(10)],
      [2, block(11)],
    ]);
    const child = await writeSnapshot(
      [
        [2, block(12)],
        [3, block(13)],
      ],
      parent,
    );
    expect((await listAll(child)).map((b) => b.BlockIndex)).toEqual([1, 2, 3]);
    const changed = await client.send(
      new ListChangedBlocksCommand({ FirstSnapshotId: parent, SecondSnapshotId: child }),
    );
    expect(
      changed.ChangedBlocks?.map((b) => [b.BlockIndex, !!b.FirstBlockToken, !!b.SecondBlockToken]),
    ).toEqual([
      [2, true, true],
      [3, false, true],
    ]);
    const two = changed.ChangedBlocks?.[0];
    expectBytes((await getBlock(parent, 2, two?.FirstBlockToken as string)).data, block(11));
    expectBytes((await getBlock(child, 2, two?.SecondBlockToken as string)).data, block(12));
    const all = await client.send(new ListChangedBlocksCommand({ SecondSnapshotId: child }));
    expect(all.ChangedBlocks?.map((b) => b.BlockIndex)).toEqual([1, 2, 3]);
    const unrelated = await writeSnapshot([[1, block(10)]]);
    await expectAwsError(
      client.send(new ListChangedBlocksCommand({ FirstSnapshotId: unrelated, SecondSnapshotId: child })),
      'ValidationException',
      'UNRELATED_SNAPSHOTS',
      400,
    );
  });

  it('pages ListSnapshotBlocks with MaxResults (at least 100) and NextToken', async () => {
    const vol = sb.createVolume({
      accountId: '111111111111',
      region: 'us-east-1',
      az: 'us-east-1a',
      sizeGiB: 1,
    });
    sb.writeVolume(vol.volumeId, 0, Buffer.alloc(250 * BLOCK_SIZE)); // written zeros: listed, stored as nothing
    const snap = sb.snapshotVolume(vol.volumeId).snapshotId;
    const first = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: snap, MaxResults: 5 }));
    expect(first.Blocks).toHaveLength(100);
    const second = await client.send(
      new ListSnapshotBlocksCommand({ SnapshotId: snap, MaxResults: 100, NextToken: first.NextToken }),
    );
    expect(second.Blocks?.[0]?.BlockIndex).toBe(100);
    expect((await listAll(snap)).map((b) => b.BlockIndex)).toEqual([...Array(250).keys()]);
    const tail = await client.send(
      new ListSnapshotBlocksCommand({ SnapshotId: snap, StartingBlockIndex: 245 }),
    );
    expect(tail.Blocks?.map((b) => b.BlockIndex)).toEqual([245, 246, 247, 248, 249]);
    await expectAwsError(
      client.send(new ListSnapshotBlocksCommand({ SnapshotId: snap, MaxResults: 10001 })),
      'ValidationException',
      'INVALID_PARAMETER_VALUE',
    );
    await expectAwsError(
      client.send(new ListSnapshotBlocksCommand({ SnapshotId: snap, NextToken: 'Zm9vYmFy' })),
      'ValidationException',
      'INVALID_PAGE_TOKEN',
    );
    const other = await writeSnapshot([[0, block(1)]]);
    await expectAwsError(
      client.send(new ListSnapshotBlocksCommand({ SnapshotId: other, NextToken: first.NextToken })),
      'ValidationException',
      'INVALID_PAGE_TOKEN',
    );
    sb.advanceClock(2 * 3600_000);
    await expectAwsError(
      client.send(new ListSnapshotBlocksCommand({ SnapshotId: snap, NextToken: first.NextToken })),
      'ValidationException',
      'INVALID_PAGE_TOKEN',
    );
  });

  it('returns empty ListChangedBlocks pages where only unchanged blocks were scanned', async () => {
    const vol = sb.createVolume({
      accountId: '111111111111',
      region: 'us-east-1',
      az: 'us-east-1b',
      sizeGiB: 1,
    });
    sb.writeVolume(vol.volumeId, 0, Buffer.alloc(300 * BLOCK_SIZE));
    const a = sb.snapshotVolume(vol.volumeId).snapshotId;
    sb.writeVolume(vol.volumeId, 299 * BLOCK_SIZE, Buffer.alloc(10, 3));
    const b = sb.snapshotVolume(vol.volumeId).snapshotId;
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListChangedBlocksCommand({
          FirstSnapshotId: a,
          SecondSnapshotId: b,
          MaxResults: 100,
          NextToken: token,
        }),
      );
      sizes.push(page.ChangedBlocks?.length ?? 0);
      token = page.NextToken;
    } while (token);
    expect(sizes).toEqual([0, 0, 1]);
  });

  it('refuses bad and expired block tokens', async () => {
    const id = await writeSnapshot([
      [0, block(5)],
      [1, block(6)],
    ]);
    const [b0, b1] = (await listAll(id)) as Array<{ BlockToken: string }>;
    await expectAwsError(
      getBlock(id, 0, b1?.BlockToken as string),
      'ValidationException',
      'INVALID_BLOCK_TOKEN',
    );
    await expectAwsError(getBlock(id, 0, 'AAAA'), 'ValidationException', 'INVALID_BLOCK_TOKEN');
    sb.advanceClock(8 * 24 * 3600_000);
    await expectAwsError(
      getBlock(id, 0, b0?.BlockToken as string),
      'ValidationException',
      'INVALID_BLOCK_TOKEN',
    );
  });

  it('checks PutSnapshotBlock checksums and lengths, and CompleteSnapshot counts and aggregates', async () => {
    const { SnapshotId } = await client.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const id = SnapshotId as string;
    const data = block(20);
    const bad = {
      SnapshotId: id,
      BlockIndex: 0,
      BlockData: data,
      DataLength: BLOCK_SIZE,
      ChecksumAlgorithm: 'SHA256' as const,
    };
    await expectAwsError(
      client.send(new PutSnapshotBlockCommand({ ...bad, Checksum: b64sha(block(21)) })),
      'ValidationException',
      'INVALID_BLOCK',
    );
    await expectAwsError(
      client.send(
        new PutSnapshotBlockCommand({ ...bad, BlockData: data.subarray(0, 100), Checksum: b64sha(data) }),
      ),
      'ValidationException',
      'INVALID_PARAMETER_VALUE',
    );
    await expectAwsError(put(id, 2048, data), 'ValidationException', 'INVALID_BLOCK');
    await put(id, 0, data);
    await put(id, 5, block(22));
    await put(id, 0, data); // a rewrite of the same block still counts once
    const complete = (over: object) =>
      client.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 2, ...over }));
    await expectAwsError(
      complete({ ChangedBlocksCount: 3 }),
      'ValidationException',
      'INVALID_PARAMETER_VALUE',
    );
    const wrong = {
      Checksum: b64sha(data),
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    };
    await expectAwsError(complete(wrong), 'ValidationException', 'INVALID_PARAMETER_VALUE');
    const right = linearChecksum([
      [5, block(22)],
      [0, data],
    ]);
    expect((await complete({ ...wrong, Checksum: right })).Status).toBe('completed');
    await expectAwsError(put(id, 1, data), 'ValidationException');
    expect((await complete({})).Status).toBe('completed'); // completing again is harmless
  });

  it('honours ClientToken idempotency, and refuses Encrypted with a parent', async () => {
    const a = await client.send(new StartSnapshotCommand({ VolumeSize: 2, ClientToken: 'tok-1' }));
    const b = await client.send(new StartSnapshotCommand({ VolumeSize: 2, ClientToken: 'tok-1' }));
    expect(b.SnapshotId).toBe(a.SnapshotId);
    await expectAwsError(
      client.send(new StartSnapshotCommand({ VolumeSize: 3, ClientToken: 'tok-1' })),
      'ConflictException',
      undefined,
      409,
    );
    const parent = await writeSnapshot([[0, block(1)]]);
    await expectAwsError(
      client.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: parent, Encrypted: true })),
      'ValidationException',
      'INVALID_PARAMETER_VALUE',
    );
    await expectAwsError(
      client.send(new StartSnapshotCommand({ VolumeSize: 0 })),
      'ValidationException',
      'INVALID_VOLUME_SIZE',
    );
    const keyArn = await createKmsKey(sb);
    const enc = await client.send(
      new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, KmsKeyArn: keyArn }),
    );
    expect(enc.KmsKeyArn).toBe(keyArn);
    expect(sb.ctx.state.table<SnapshotRecord>('snapshots').get(enc.SnapshotId as string)?.encrypted).toBe(
      true,
    );
  });

  it('times out snapshots not completed within Timeout', async () => {
    const { SnapshotId } = await client.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 10 }));
    await put(SnapshotId as string, 0, block(1));
    sb.advanceClock(11 * 60_000);
    await expectAwsError(
      put(SnapshotId as string, 1, block(1)),
      'ValidationException',
      'WRITE_REQUEST_TIMEOUT',
    );
    const rec = sb.ctx.state.table<SnapshotRecord>('snapshots').get(SnapshotId as string);
    expect(rec?.state).toBe('error');
  });

  it('answers ResourceNotFound for unknown snapshots and AccessDenied for other accounts', async () => {
    await expectAwsError(
      client.send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-0123456789abcdef0' })),
      'ResourceNotFoundException',
      'SNAPSHOT_NOT_FOUND',
      404,
    );
    const id = await writeSnapshot([[0, block(30)]]);
    const [backup, dr] = [ebs(sb, sb.accounts[1]), ebs(sb, sb.accounts[2])];
    await expectAwsError(
      dr.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
      'AccessDeniedException',
      'UNAUTHORIZED_ACCOUNT',
      403,
    );
    const table = sb.ctx.state.table<SnapshotRecord>('snapshots');
    table.put(id, { ...(table.get(id) as SnapshotRecord), sharedWith: ['222222222222'] });
    const [b0] = await listAll(id, backup);
    expectBytes((await getBlock(id, 0, b0?.BlockToken as string, backup)).data, block(30));
    const child = await backup.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: id }));
    expect(child.ParentSnapshotId).toBe(id);
    await expectAwsError(
      backup.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0 })),
      'AccessDeniedException',
    );
    const euClient = ebs(sb, sb.accounts[0], { region: 'eu-west-1' });
    await expectAwsError(
      euClient.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
      'ResourceNotFoundException',
    );
  });

  it('throttles when quotas are on, and when faults say so', async () => {
    const id = await writeSnapshot([[0, block(40)]]);
    sb.setQuotas({ enabled: true, perAccount: { ListSnapshotBlocks: 2 } });
    try {
      await client.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
      await client.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
      await expectAwsError(
        client.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
        'RequestThrottledException',
        'ACCOUNT_THROTTLED',
        400,
      );
    } finally {
      sb.setQuotas({ enabled: false, perAccount: { ListSnapshotBlocks: 50 } });
    }
    sb.addFault({ service: 'ebs', operation: 'ListSnapshotBlocks', kind: 'throttle', count: 1 });
    sb.addFault({ service: 'ebs', operation: 'ListSnapshotBlocks', kind: 'error5xx', count: 1 });
    const e = await expectAwsError(
      client.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
      'RequestThrottledException',
    );
    expect((e as { $retryable?: unknown; $fault?: string }).$fault).toBe('client');
    const e5 = await expectAwsError(
      client.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
      'InternalServerException',
    );
    expect((e5 as { $fault?: string }).$fault).toBe('server');
    expect((await client.send(new ListSnapshotBlocksCommand({ SnapshotId: id }))).Blocks).toHaveLength(1);
  });
});

describe('EBS direct API timing', () => {
  let slow: RunningSandbox;
  beforeAll(async () => {
    slow = await sandbox({ timing: { startSnapshotVisibilitySeconds: 1, snapshotSeconds: 2 } });
  });
  afterAll(() => slow.close());

  it('hides a new snapshot for a moment, and reads only completed snapshots', async () => {
    const c = ebs(slow);
    const { SnapshotId } = await c.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const id = SnapshotId as string;
    await expectAwsError(put(id, 0, block(1), c), 'ResourceNotFoundException', 'SNAPSHOT_NOT_FOUND');
    slow.advanceClock(1000);
    await put(id, 0, block(1), c);
    const done = await c.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }));
    expect(done.Status).toBe('pending');
    await expectAwsError(c.send(new ListSnapshotBlocksCommand({ SnapshotId: id })), 'ValidationException');
    slow.advanceClock(2000);
    expect((await c.send(new ListSnapshotBlocksCommand({ SnapshotId: id }))).Blocks).toHaveLength(1);
  });
});
