import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteTagsCommand,
  DescribeRegionsCommand,
  DescribeTagsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError } from './helpers/errors.js';
import { launch } from './helpers/fixtures.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';

let sb: TestSandbox;
let ec2: EC2Client;

beforeAll(async () => {
  sb = await startTestSandbox();
  ec2 = sb.ec2(0, 'us-east-1');
});
afterAll(() => sb.close());

describe('tags', () => {
  it('creates, overwrites, describes with filters and deletes tags across resource types', async () => {
    const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    const [i] = await launch(ec2);
    const ids = [v.VolumeId!, i!.InstanceId!];
    await ec2.send(
      new CreateTagsCommand({
        Resources: ids,
        Tags: [
          { Key: 'Team', Value: 'blue' },
          { Key: 'Tier', Value: '1' },
        ],
      }),
    );
    await ec2.send(
      new CreateTagsCommand({ Resources: [v.VolumeId!], Tags: [{ Key: 'Team', Value: 'red' }] }),
    );
    const vol = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [v.VolumeId!] }));
    expect(vol.Volumes?.[0]?.Tags).toEqual([
      { Key: 'Team', Value: 'red' },
      { Key: 'Tier', Value: '1' },
    ]);
    const byType = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-type', Values: ['instance'] }] }),
    );
    expect(byType.Tags).toEqual([
      { Key: 'Team', Value: 'blue', ResourceId: i!.InstanceId, ResourceType: 'instance' },
      { Key: 'Tier', Value: '1', ResourceId: i!.InstanceId, ResourceType: 'instance' },
    ]);
    const byKeyValue = await ec2.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: 'key', Values: ['Team'] },
          { Name: 'value', Values: ['red'] },
        ],
      }),
    );
    expect(byKeyValue.Tags?.map((t) => t.ResourceId)).toEqual([v.VolumeId]);
    const byId = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [v.VolumeId!] }] }),
    );
    expect(byId.Tags).toHaveLength(2);
    await ec2.send(
      new DeleteTagsCommand({ Resources: [v.VolumeId!], Tags: [{ Key: 'Team', Value: 'blue' }] }),
    );
    expect(
      (await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [v.VolumeId!] }] })))
        .Tags,
    ).toHaveLength(2);
    await ec2.send(new DeleteTagsCommand({ Resources: [v.VolumeId!], Tags: [{ Key: 'Team' }] }));
    const left = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [v.VolumeId!] }] }),
    );
    expect(left.Tags?.map((t) => t.Key)).toEqual(['Tier']);
  });

  it('enforces AWS limits: 50 tags, key 128, value 256, no aws: prefix', async () => {
    const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    const id = v.VolumeId!;
    const fifty = Array.from({ length: 50 }, (_, n) => ({ Key: `k${n}`, Value: 'v' }));
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: fifty }));
    await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'one-more', Value: 'x' }] })),
      'TagLimitExceeded',
    );
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k0', Value: 'replaced' }] }));
    await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'x'.repeat(129), Value: 'v' }] })),
      'InvalidParameterValue',
    );
    await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k1', Value: 'x'.repeat(257) }] })),
      'InvalidParameterValue',
    );
    await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'aws:reserved', Value: 'v' }] })),
      'InvalidParameterValue',
    );
    await expectAwsError(
      ec2.send(
        new CreateVolumeCommand({
          AvailabilityZone: 'us-east-1a',
          Size: 1,
          TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'aws:x', Value: 'v' }] }],
        }),
      ),
      'InvalidParameterValue',
    );
    await expectAwsError(
      ec2.send(
        new CreateTagsCommand({ Resources: ['vol-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] }),
      ),
      'InvalidVolume.NotFound',
    );
    await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: ['nonsense'], Tags: [{ Key: 'a', Value: 'b' }] })),
      'InvalidID',
    );
  });

  it('pages DescribeTags', async () => {
    const client = sb.ec2(2, 'us-east-1');
    const v = await client.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    await client.send(
      new CreateTagsCommand({
        Resources: [v.VolumeId!],
        Tags: Array.from({ length: 7 }, (_, n) => ({ Key: `t${n}`, Value: '' })),
      }),
    );
    const p1 = await client.send(new DescribeTagsCommand({ MaxResults: 5 }));
    const p2 = await client.send(new DescribeTagsCommand({ MaxResults: 5, NextToken: p1.NextToken }));
    expect([...p1.Tags!, ...p2.Tags!].map((t) => t.Key)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
  });
});

describe('errors', () => {
  it('answers DryRun, missing parameters and unknown actions as AWS does', async () => {
    await expectAwsError(ec2.send(new DescribeVolumesCommand({ DryRun: true })), 'DryRunOperation', 412);
    const e = await expectAwsError(
      ec2.send(new CreateSnapshotCommand({ VolumeId: undefined as unknown as string })),
      'MissingParameter',
    );
    expect(e.message).toBe('The request must contain the parameter VolumeId');
    // Rewrite the action before signing (same length: Content-Length is already set), as a client that knows
    // an action the sandbox lacks would send it.
    const odd = sb.ec2(0, 'us-east-1');
    odd.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { body?: string };
        if (typeof req.body === 'string')
          req.body = req.body.replace('Action=DescribeRegions', 'Action=FlyToTheMoonNow');
        return next(args);
      },
      { step: 'build' },
    );
    await expectAwsError(odd.send(new DescribeRegionsCommand({})), 'InvalidAction');
  });
});
