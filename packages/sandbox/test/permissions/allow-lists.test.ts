import { type EBSClient, ListSnapshotBlocksCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionsOf } from '../../src/iam/actions.js';
import { Clients, type Creds, expectError } from '../kms/clients.js';

let t: Clients;
let user: Creds;
const USER = 'arn:aws:iam::111111111111:user/agent';
const NEEDED = [
  'ec2:DescribeVolumes',
  'ec2:CreateVolume',
  'ec2:CreateSnapshot',
  'ec2:DescribeSnapshots',
  'ebs:StartSnapshot',
];

beforeAll(async () => {
  t = await Clients.start();
  await t.iam().send(new CreateUserCommand({ UserName: 'agent' }));
  const k = (await t.iam().send(new CreateAccessKeyCommand({ UserName: 'agent' }))).AccessKey!;
  user = { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
});
afterAll(() => t?.close());

/** Calls each needed action once; answers the error name per action ('ok' when allowed). */
async function probe(ec2: EC2Client, ebs: EBSClient): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const run = async (name: string, p: () => Promise<unknown>) => {
    out[name] = await p().then(
      () => 'ok',
      (e: Error) => e.name,
    );
  };
  await run('ec2:DescribeVolumes', () => ec2.send(new DescribeVolumesCommand({})));
  let volumeId: string | undefined;
  await run('ec2:CreateVolume', async () => {
    volumeId = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 })))
      .VolumeId;
  });
  t.sb.advanceClock(5000);
  await run('ec2:CreateSnapshot', () =>
    ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId ?? 'vol-0123456789abcdef0' })),
  );
  await run('ec2:DescribeSnapshots', () => ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] })));
  await run('ebs:StartSnapshot', () => ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })));
  return out;
}

describe('per-principal allow-lists', () => {
  it('refuses exactly the one missing action, in each service own shape, and Simulate names it', async () => {
    for (const missing of NEEDED) {
      t.sb.setPermissions(
        USER,
        NEEDED.filter((a) => a !== missing),
      );
      const result = await probe(t.ec2(user), t.ebs(user));
      const refusal = missing.startsWith('ebs:') ? 'AccessDeniedException' : 'UnauthorizedOperation';
      // A refused CreateVolume leaves CreateSnapshot without a volume: that one then fails on the id instead.
      const expected = Object.fromEntries(NEEDED.map((a) => [a, a === missing ? refusal : 'ok']));
      if (missing === 'ec2:CreateVolume') expected['ec2:CreateSnapshot'] = 'InvalidVolume.NotFound';
      expect(result, missing).toEqual(expected);
      const sim = await t
        .iam()
        .send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: USER, ActionNames: NEEDED }));
      expect(
        sim.EvaluationResults!.filter((r) => r.EvalDecision !== 'allowed').map((r) => r.EvalActionName),
      ).toEqual([missing]);
    }
  });

  it('words the refusals as AWS does', async () => {
    t.sb.setPermissions(USER, ['ec2:DescribeVolumes']);
    const e = await expectError(
      t.ec2(user).send(new DescribeSnapshotsCommand({})),
      'UnauthorizedOperation',
      403,
    );
    expect(e.message).toMatch(
      /^You are not authorized to perform this operation\. User: arn:aws:iam::111111111111:user\/agent is not authorized to perform: ec2:DescribeSnapshots because no identity-based policy allows the ec2:DescribeSnapshots action\. Encoded authorization failure message: \S+$/,
    );
    const k = await expectError(t.kms(user).send(new ListKeysCommand({})), 'AccessDeniedException', 400);
    expect(k.message).toContain('kms:ListKeys');
    const b = await expectError(
      t.ebs(user).send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-0123456789abcdef0' })),
      'AccessDeniedException',
      403,
    );
    expect((b as Error & { Reason?: string }).Reason).toBe('UNAUTHORIZED_ACCOUNT');
  });

  it('can restrict an account root, through the admin API too', async () => {
    const root = 'arn:aws:iam::333333333333:root';
    const put = (body: unknown) =>
      fetch(`${t.sb.endpoint}/_sandbox/permissions`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.sb.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await put({ arn: root, actions: ['ec2:Describe*'] })).status).toBe(200);
    const ec2 = t.ec2(t.root(2));
    await ec2.send(new DescribeVolumesCommand({}));
    await expectError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 })),
      'UnauthorizedOperation',
    );
    const listed = await fetch(`${t.sb.endpoint}/_sandbox/permissions`, {
      headers: { authorization: `Bearer ${t.sb.adminToken}` },
    });
    expect((await listed.json()).permissions).toContainEqual({ arn: root, actions: ['ec2:Describe*'] });
    expect((await put({ arn: root, actions: null })).status).toBe(200);
    await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    expect((await put({ arn: 'nonsense', actions: [] })).status).toBe(400);
  });

  it('maps S3 operations to the IAM actions AWS checks', () => {
    expect(actionsOf('s3', 'ListObjectsV2')).toEqual(['s3:ListBucket']);
    expect(actionsOf('s3', 'HeadObject')).toEqual(['s3:GetObject']);
    expect(actionsOf('s3', 'CreateMultipartUpload')).toEqual(['s3:PutObject']);
    expect(actionsOf('s3', 'PutObject')).toEqual(['s3:PutObject']);
    expect(actionsOf('kms', 'ReEncrypt')).toEqual(['kms:ReEncryptFrom', 'kms:ReEncryptTo']);
    expect(actionsOf('sts', 'GetCallerIdentity')).toEqual([]);
  });
});
