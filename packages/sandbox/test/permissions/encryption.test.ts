import {
  GetSnapshotBlockCommand,
  ListSnapshotBlocksCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import {
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clients, expectError } from '../kms/clients.js';

let t: Clients;

beforeAll(async () => {
  t = await Clients.start();
});
afterAll(() => t?.close());

async function newKey(account = 0) {
  return (await t.kms(t.root(account)).send(new CreateKeyCommand({}))).KeyMetadata!;
}

/** A completed snapshot of a fresh volume of account 0 (us-east-1), optionally encrypted with a key. */
async function snapshot(kmsKeyId?: string) {
  const ec2 = t.ec2();
  const v = await ec2.send(
    new CreateVolumeCommand({
      AvailabilityZone: 'us-east-1a',
      Size: 1,
      ...(kmsKeyId ? { Encrypted: true, KmsKeyId: kmsKeyId } : {}),
    }),
  );
  t.sb.writeVolume(v.VolumeId!, 0, Buffer.from('hello'));
  const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
  return s;
}

describe('EC2 and EBS encryption with KMS keys', () => {
  it('encrypts volumes with a key (by alias too) or aws/ebs; snapshots inherit the key', async () => {
    const k = await newKey();
    await t.kms().send(new CreateAliasCommand({ AliasName: 'alias/volumes', TargetKeyId: k.KeyId }));
    const ec2 = t.ec2();
    const v = await ec2.send(
      new CreateVolumeCommand({
        AvailabilityZone: 'us-east-1a',
        Size: 1,
        Encrypted: true,
        KmsKeyId: 'alias/volumes',
      }),
    );
    expect(v.KmsKeyId).toBe(k.Arn);
    const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
    expect(s).toMatchObject({ Encrypted: true, KmsKeyId: k.Arn });
    const d = await ec2.send(
      new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, Encrypted: true }),
    );
    const ebsKey = await t.kms().send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' }));
    expect(d.KmsKeyId).toBe(ebsKey.KeyMetadata?.Arn);
    await expectError(
      ec2.send(
        new CreateVolumeCommand({
          AvailabilityZone: 'us-east-1a',
          Size: 1,
          Encrypted: true,
          KmsKeyId: 'alias/none',
        }),
      ),
      'InvalidParameterValue',
    );
  });

  it('refuses a disabled or pending-deletion key for volumes, copies and EBS direct reads', async () => {
    const k = await newKey();
    const s = await snapshot(k.Arn);
    const ec2 = t.ec2();
    const ebs = t.ebs();
    const kms = t.kms();
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    await expectError(
      ec2.send(
        new CreateVolumeCommand({
          AvailabilityZone: 'us-east-1a',
          Size: 1,
          Encrypted: true,
          KmsKeyId: k.Arn,
        }),
      ),
      'KMS.DisabledException',
    );
    await expectError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: s.SnapshotId })),
      'KMS.DisabledException',
    );
    await expectError(
      ec2.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: s.SnapshotId })),
      'KMS.DisabledException',
    );
    const read = await expectError(
      ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s.SnapshotId })),
      'ValidationException',
      400,
    );
    expect((read as Error & { Reason?: string }).Reason).toBe('INVALID_CUSTOMER_KEY');
    await expectError(
      ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, KmsKeyArn: k.Arn })),
      'ValidationException',
    );
    await kms.send(new EnableKeyCommand({ KeyId: k.KeyId }));
    const blocks = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s.SnapshotId }));
    const b = await ebs.send(
      new GetSnapshotBlockCommand({
        SnapshotId: s.SnapshotId,
        BlockIndex: 0,
        BlockToken: blocks.Blocks![0]!.BlockToken,
      }),
    );
    expect(
      Buffer.from(await b.BlockData!.transformToByteArray())
        .subarray(0, 5)
        .toString(),
    ).toBe('hello');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    await expectError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: s.SnapshotId })),
      'KMS.KMSInvalidStateException',
    );
    await expectError(
      ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s.SnapshotId })),
      'ValidationException',
    );
  });

  it('re-encrypts copies under another key, and starts EBS direct snapshots under a key', async () => {
    const a = await newKey();
    const b = await newKey();
    const s = await snapshot(a.Arn);
    const c = await t.ec2().send(
      new CopySnapshotCommand({
        SourceRegion: 'us-east-1',
        SourceSnapshotId: s.SnapshotId,
        Encrypted: true,
        KmsKeyId: b.KeyId,
      }),
    );
    const started = await t
      .ebs()
      .send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, KmsKeyArn: b.Arn }));
    expect(started.KmsKeyArn).toBe(b.Arn);
    const plain = await t.ebs().send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true }));
    expect(plain.KmsKeyArn).toMatch(/^arn:aws:kms:us-east-1:111111111111:key\//);
    expect(c.SnapshotId).toMatch(/^snap-/);
  });
});

describe('snapshot sharing', () => {
  it('lets the account a snapshot is shared with read, copy and restore it, and no other', async () => {
    const s = await snapshot();
    const id = s.SnapshotId!;
    const backup = { ec2: t.ec2(t.root(1)), ebs: t.ebs(t.root(1)) };
    const dr = { ec2: t.ec2(t.root(2)), ebs: t.ebs(t.root(2)) };
    await expectError(
      backup.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
      'AccessDeniedException',
      403,
    );
    await expectError(
      backup.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: id })),
      'InvalidSnapshot.NotFound',
    );
    await t.ec2().send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: id,
        CreateVolumePermission: { Add: [{ UserId: '222222222222' }] },
      }),
    );
    expect((await backup.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }))).Blocks).toHaveLength(1);
    await backup.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: id }));
    const copy = await backup.ec2.send(
      new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: id }),
    );
    expect(copy.SnapshotId).toMatch(/^snap-/);
    await expectError(
      dr.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
      'AccessDeniedException',
    );
    await expectError(
      dr.ec2.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: id })),
      'InvalidSnapshot.NotFound',
    );
  });

  it('needs the key of a shared encrypted snapshot; aws/ebs-encrypted ones cannot be shared', async () => {
    const ebsDefault = await snapshot('alias/aws/ebs');
    await expectError(
      t.ec2().send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: ebsDefault.SnapshotId,
          CreateVolumePermission: { Add: [{ UserId: '222222222222' }] },
        }),
      ),
      'OperationNotPermitted',
    );
    const k = await newKey();
    const s = await snapshot(k.Arn);
    const id = s.SnapshotId!;
    await t.ec2().send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: id,
        CreateVolumePermission: { Add: [{ UserId: '222222222222' }] },
      }),
    );
    const backup = { ec2: t.ec2(t.root(1)), ebs: t.ebs(t.root(1)) };
    const denied = await expectError(
      backup.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })),
      'AccessDeniedException',
      403,
    );
    expect((denied as Error & { Reason?: string }).Reason).toBe('DEPENDENCY_ACCESS_DENIED');
    await expectError(
      backup.ec2.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: id })),
      'KMS.AccessDeniedException',
    );
    await t.kms().send(
      new CreateGrantCommand({
        KeyId: k.KeyId,
        GranteePrincipal: 'arn:aws:iam::222222222222:root',
        Operations: ['Decrypt', 'GenerateDataKeyWithoutPlaintext', 'CreateGrant', 'DescribeKey'],
      }),
    );
    expect((await backup.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }))).Blocks).toHaveLength(1);
    // The copy is re-encrypted under the backup account's own aws/ebs key.
    const copy = await backup.ec2.send(
      new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: id, Encrypted: true }),
    );
    expect(copy.SnapshotId).toMatch(/^snap-/);
  });
});
