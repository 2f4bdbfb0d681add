import {
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DescribeRegionsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateKeyCommand, DescribeKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  GetFederationTokenCommand,
  type GetFederationTokenCommandInput,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allow, Clients, type Creds, expectError, trustAccount } from '../kms/clients.js';

/**
 * Session policies (AssumeRole's and GetFederationToken's `Policy`): the session may do what both its identity
 * policies and the session policy allow (IAM User Guide, "Session policies"; STS API reference). Federated users
 * come from an IAM user's long-term keys and have no permissions without a session policy.
 */
let t: Clients;
let broker: Creds;

const ROLE = 'arn:aws:iam::111111111111:role/backup-operator';

const policy = (statements: Array<{ Effect: 'Allow' | 'Deny'; Action: string[] }>) =>
  JSON.stringify({ Version: '2012-10-17', Statement: statements.map((s) => ({ ...s, Resource: '*' })) });

beforeAll(async () => {
  t = await Clients.start();
  const iam = t.iam();
  // The broker: an IAM user of the production account that may describe EC2, tag, use KMS and federate.
  await iam.send(new CreateUserCommand({ UserName: 'broker' }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'broker',
      PolicyName: 'broker',
      PolicyDocument: allow(['ec2:Describe*', 'ec2:CreateTags', 'kms:*', 'sts:GetFederationToken']),
    }),
  );
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'broker' }))).AccessKey!;
  broker = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  // A role the backup account may assume, allowed to describe EC2 and to call STS.
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'backup-operator',
      AssumeRolePolicyDocument: trustAccount('222222222222'),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: 'backup-operator',
      PolicyName: 'describe',
      PolicyDocument: allow(['ec2:Describe*', 'sts:*']),
    }),
  );
});
afterAll(() => t?.close());

async function federate(input: Partial<GetFederationTokenCommandInput> = {}, from = broker) {
  const r = await t.sts(from).send(new GetFederationTokenCommand({ Name: 'alice', ...input }));
  const c = r.Credentials!;
  return {
    r,
    creds: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    },
  };
}

async function assume(extra: Record<string, unknown> = {}) {
  const r = await t
    .sts(t.root(1))
    .send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'nightly', ...extra }));
  const c = r.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

describe('GetFederationToken', () => {
  it("gives a federated user the intersection of the user's policies and the session policy", async () => {
    const session = policy([
      { Effect: 'Allow', Action: ['ec2:DescribeSnapshots', 'ec2:DeleteSnapshot', 'ec2:CreateTags'] },
      { Effect: 'Deny', Action: ['ec2:CreateTags'] },
      { Effect: 'Allow', Action: ['kms:DescribeKey'] },
    ]);
    const before = t.sb.ctx.now();
    const { r, creds } = await federate({ Policy: session });
    expect(creds.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(r.FederatedUser).toEqual({
      FederatedUserId: '111111111111:alice',
      Arn: 'arn:aws:sts::111111111111:federated-user/alice',
    });
    expect(r.PackedPolicySize).toBeGreaterThan(0);
    // Default duration: 43,200 s.
    const lifetime = r.Credentials!.Expiration!.getTime() - before;
    expect(lifetime).toBeGreaterThan(43_100_000);
    expect(lifetime).toBeLessThan(43_300_000);
    expect(await t.sts(creds).send(new GetCallerIdentityCommand({}))).toMatchObject({
      Account: '111111111111',
      Arn: 'arn:aws:sts::111111111111:federated-user/alice',
      UserId: '111111111111:alice',
    });

    const ec2 = t.ec2(creds);
    // Both allow.
    expect((await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots).toEqual([]);
    // The user allows, the session policy does not.
    const notSession = await expectError(
      ec2.send(new DescribeVolumesCommand({})),
      'UnauthorizedOperation',
      403,
    );
    expect(notSession.message).toContain(
      'User: arn:aws:sts::111111111111:federated-user/alice is not authorized to perform: ec2:DescribeVolumes because no session policy allows the ec2:DescribeVolumes action',
    );
    // The session policy allows, the user does not: a session policy grants nothing of its own.
    const notUser = await expectError(
      ec2.send(new DeleteSnapshotCommand({ SnapshotId: 'snap-0123456789abcdef0' })),
      'UnauthorizedOperation',
      403,
    );
    expect(notUser.message).toContain(
      'because no identity-based policy allows the ec2:DeleteSnapshot action',
    );
    // An explicit Deny in the session policy wins.
    const denied = await expectError(
      ec2.send(
        new CreateTagsCommand({ Resources: ['vol-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] }),
      ),
      'UnauthorizedOperation',
      403,
    );
    expect(denied.message).toContain('with an explicit deny in a session policy');

    // KMS decides through IAM for keys whose policy names the account: the intersection applies there too.
    const key = (await t.kms().send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await t.kms(creds).send(new DescribeKeyCommand({ KeyId: key }));
    await expectError(
      t.kms(creds).send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') })),
      'AccessDeniedException',
    );

    // No IAM, and no STS but GetCallerIdentity, whatever the policies say; no federation from a federation.
    await expectError(t.iam(creds).send(new ListUsersCommand({})), 'AccessDenied', 403);
    await expectError(
      t.sts(creds).send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'x' })),
      'AccessDenied',
      403,
    );
    const again = await expectError(federate({ Policy: session }, creds), 'AccessDenied', 403);
    expect(again.message).toBe('Cannot call GetFederationToken with session credentials');
  });

  it('has no permissions without a session policy, and expires on the sandbox clock', async () => {
    const { creds } = await federate({ Name: 'bob', DurationSeconds: 900 });
    await expectError(t.ec2(creds).send(new DescribeRegionsCommand({})), 'UnauthorizedOperation', 403);
    await t.sts(creds).send(new GetCallerIdentityCommand({}));
    t.sb.advanceClock(901_000);
    await expectError(t.sts(creds).send(new GetCallerIdentityCommand({})), 'ExpiredToken', 403);
  });

  it('is refused to role sessions, and validates its parameters', async () => {
    const role = await assume();
    const e = await expectError(
      t.sts(role).send(new GetFederationTokenCommand({ Name: 'carol' })),
      'AccessDenied',
      403,
    );
    expect(e.message).toBe('Cannot call GetFederationToken with session credentials');
    await expectError(federate({ DurationSeconds: 899 }), 'ValidationError', 400);
    await expectError(federate({ DurationSeconds: 129_601 }), 'ValidationError', 400);
    await federate({ DurationSeconds: 129_600 });
    await expectError(federate({ Name: 'a' }), 'ValidationError', 400);
    await expectError(federate({ Name: 'has space' }), 'ValidationError', 400);
    await expectError(federate({ Name: 'x'.repeat(33) }), 'ValidationError', 400);
    await expectError(federate({ Policy: '{"Statement": "nope"' }), 'MalformedPolicyDocumentException', 400);
    await expectError(
      federate({
        Policy: JSON.stringify({
          Statement: [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*', Principal: '*' }],
        }),
      }),
      'MalformedPolicyDocumentException',
      400,
    );
    await expectError(
      federate({ Policy: policy([{ Effect: 'Allow', Action: ['x'.repeat(2100)] }]) }),
      'ValidationError',
      400,
    );
    await expectError(
      federate({ PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }] }),
      'MalformedPolicyDocumentException',
      400,
    );
    // A user whose policies do not allow sts:GetFederationToken.
    const iam = t.iam();
    await iam.send(new CreateUserCommand({ UserName: 'nobody' }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'nobody' }))).AccessKey!;
    await expectError(
      federate({}, { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! }),
      'AccessDenied',
      403,
    );
  });

  it('caps the root user at one hour, bounded by the session policy only', async () => {
    const before = t.sb.ctx.now();
    const { r, creds } = await federate(
      {
        DurationSeconds: 7200,
        Policy: policy([{ Effect: 'Allow', Action: ['ec2:DescribeRegions', 'iam:*', 'sts:*'] }]),
      },
      t.root(0),
    );
    const lifetime = r.Credentials!.Expiration!.getTime() - before;
    expect(lifetime).toBeGreaterThan(3_500_000);
    expect(lifetime).toBeLessThan(3_700_000);
    await t.ec2(creds).send(new DescribeRegionsCommand({}));
    await expectError(t.ec2(creds).send(new DescribeVolumesCommand({})), 'UnauthorizedOperation', 403);
    // Root and the session policy allow IAM and STS; a federated user still cannot call them.
    const iam = await expectError(t.iam(creds).send(new ListUsersCommand({})), 'AccessDenied', 403);
    expect(iam.message).toContain('federated users cannot call IAM operations');
    await expectError(
      t.sts(creds).send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'x' })),
      'AccessDenied',
      403,
    );
  });
});

describe('AssumeRole session policies', () => {
  it("limits the session to the intersection of the role's policies and the session policy", async () => {
    const creds = await assume({
      Policy: policy([{ Effect: 'Allow', Action: ['ec2:DescribeSnapshots', 'ec2:DeleteSnapshot'] }]),
    });
    const ec2 = t.ec2(creds);
    await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    const notSession = await expectError(
      ec2.send(new DescribeRegionsCommand({})),
      'UnauthorizedOperation',
      403,
    );
    expect(notSession.message).toContain('because no session policy allows the ec2:DescribeRegions action');
    const notRole = await expectError(
      ec2.send(new DeleteSnapshotCommand({ SnapshotId: 'snap-0123456789abcdef0' })),
      'UnauthorizedOperation',
      403,
    );
    expect(notRole.message).toContain(
      'because no identity-based policy allows the ec2:DeleteSnapshot action',
    );
    // Without a session policy, the role's policies alone.
    await t.ec2(await assume()).send(new DescribeRegionsCommand({}));
  });

  it('refuses malformed, oversized and managed session policies', async () => {
    await expectError(assume({ Policy: 'not json' }), 'MalformedPolicyDocumentException', 400);
    await expectError(
      assume({ Policy: policy([{ Effect: 'Allow', Action: ['x'.repeat(2100)] }]) }),
      'ValidationError',
      400,
    );
    await expectError(
      assume({ PolicyArns: [{ arn: 'arn:aws:iam::111111111111:policy/none' }] }),
      'MalformedPolicyDocumentException',
      400,
    );
  });
});
