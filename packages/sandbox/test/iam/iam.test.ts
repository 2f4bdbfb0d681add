import { AssociateIamInstanceProfileCommand } from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateAccessKeyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  type IAMClient,
  ListInstanceProfilesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch } from '../ec2/helpers/fixtures.js';
import { allow, Clients, expectError, trustAccount } from '../kms/clients.js';

let t: Clients;
let iam: IAMClient;

beforeAll(async () => {
  t = await Clients.start();
  iam = t.iam();
});
afterAll(() => t?.close());

describe('IAM users and access keys', () => {
  it("keeps a user's inline policies: put, get, list, delete, as for roles", async () => {
    await iam.send(new CreateUserCommand({ UserName: 'inline' }));
    for (const name of ['b-volumes', 'a-snapshots'])
      await iam.send(
        new PutUserPolicyCommand({
          UserName: 'inline',
          PolicyName: name,
          PolicyDocument: allow(['ec2:Describe*']),
        }),
      );
    const p = await iam.send(new GetUserPolicyCommand({ UserName: 'inline', PolicyName: 'a-snapshots' }));
    expect(p.UserName).toBe('inline');
    expect(JSON.parse(decodeURIComponent(p.PolicyDocument!)).Statement[0].Action).toEqual(['ec2:Describe*']);
    const listed = await iam.send(new ListUserPoliciesCommand({ UserName: 'inline', MaxItems: 1 }));
    expect(listed.PolicyNames).toEqual(['a-snapshots']);
    expect(listed.IsTruncated).toBe(true);
    const rest = await iam.send(new ListUserPoliciesCommand({ UserName: 'inline', Marker: listed.Marker }));
    expect(rest.PolicyNames).toEqual(['b-volumes']);
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'inline', PolicyName: 'a-snapshots' }));
    const gone = await expectError(
      iam.send(new GetUserPolicyCommand({ UserName: 'inline', PolicyName: 'a-snapshots' })),
      'NoSuchEntityException',
      404,
    );
    expect(gone.message).toBe('The user policy with name a-snapshots cannot be found.');
    await expectError(
      iam.send(new DeleteUserPolicyCommand({ UserName: 'inline', PolicyName: 'a-snapshots' })),
      'NoSuchEntityException',
    );
    await expectError(iam.send(new ListUserPoliciesCommand({ UserName: 'nobody' })), 'NoSuchEntityException');
  });

  it('creates, gets, lists and deletes users; their keys sign requests', async () => {
    const u = await iam.send(
      new CreateUserCommand({
        UserName: 'operator',
        Path: '/lifeboat/',
        Tags: [{ Key: 'team', Value: 'ops' }],
      }),
    );
    expect(u.User).toMatchObject({
      UserName: 'operator',
      Path: '/lifeboat/',
      Arn: 'arn:aws:iam::111111111111:user/lifeboat/operator',
    });
    expect(u.User?.UserId).toMatch(/^AIDA[A-Z2-7]{17}$/);
    expect(u.User?.CreateDate).toBeInstanceOf(Date);
    await expectError(
      iam.send(new CreateUserCommand({ UserName: 'Operator' })),
      'EntityAlreadyExistsException',
      409,
    );
    await expectError(iam.send(new GetUserCommand({ UserName: 'nobody' })), 'NoSuchEntityException', 404);
    expect((await iam.send(new GetUserCommand({ UserName: 'operator' }))).User?.Tags).toEqual([
      { Key: 'team', Value: 'ops' },
    ]);
    expect((await iam.send(new ListUsersCommand({}))).Users?.map((x) => x.UserName)).toContain('operator');
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'operator' }))).AccessKey!;
    expect(key).toMatchObject({ UserName: 'operator', Status: 'Active' });
    expect(key.AccessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(key.SecretAccessKey).toHaveLength(40);
    const self = t.iam({ accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'operator',
        PolicyName: 'self',
        PolicyDocument: allow(['iam:GetUser']),
      }),
    );
    expect((await self.send(new GetUserCommand({}))).User?.UserName).toBe('operator');
    await expectError(
      iam.send(new PutUserPolicyCommand({ UserName: 'operator', PolicyName: 'x', PolicyDocument: '{}' })),
      'MalformedPolicyDocumentException',
    );
    await expectError(
      iam.send(new DeleteUserCommand({ UserName: 'operator' })),
      'DeleteConflictException',
      409,
    );
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'operator', AccessKeyId: key.AccessKeyId }));
    await expectError(self.send(new GetUserCommand({})), 'InvalidClientTokenId', 403);
  });
});

describe('IAM roles and instance profiles', () => {
  it('creates roles with trust policies and inline policies', async () => {
    const r = await iam.send(
      new CreateRoleCommand({
        RoleName: 'backup',
        AssumeRolePolicyDocument: trustAccount('222222222222'),
        Description: 'd',
      }),
    );
    expect(r.Role).toMatchObject({
      RoleName: 'backup',
      Arn: 'arn:aws:iam::111111111111:role/backup',
      MaxSessionDuration: 3600,
    });
    expect(r.Role?.RoleId).toMatch(/^AROA/);
    expect(JSON.parse(decodeURIComponent(r.Role!.AssumeRolePolicyDocument!)).Statement[0].Principal.AWS).toBe(
      'arn:aws:iam::222222222222:root',
    );
    await expectError(
      iam.send(
        new CreateRoleCommand({ RoleName: 'bad', AssumeRolePolicyDocument: allow(['sts:AssumeRole']) }),
      ),
      'MalformedPolicyDocumentException',
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'backup',
        PolicyName: 'snapshots',
        PolicyDocument: allow(['ec2:Describe*']),
      }),
    );
    const p = await iam.send(new GetRolePolicyCommand({ RoleName: 'backup', PolicyName: 'snapshots' }));
    expect(JSON.parse(decodeURIComponent(p.PolicyDocument!)).Statement[0].Action).toEqual(['ec2:Describe*']);
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: 'backup' }))).PolicyNames).toEqual([
      'snapshots',
    ]);
    expect((await iam.send(new GetRoleCommand({ RoleName: 'backup' }))).Role?.Description).toBe('d');
    expect((await iam.send(new ListRolesCommand({}))).Roles?.map((x) => x.RoleName)).toContain('backup');
    await expectError(iam.send(new DeleteRoleCommand({ RoleName: 'backup' })), 'DeleteConflictException');
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'backup', PolicyName: 'snapshots' }));
    await expectError(
      iam.send(new GetRolePolicyCommand({ RoleName: 'backup', PolicyName: 'snapshots' })),
      'NoSuchEntityException',
    );
    await iam.send(new DeleteRoleCommand({ RoleName: 'backup' }));
    await expectError(iam.send(new GetRoleCommand({ RoleName: 'backup' })), 'NoSuchEntityException');
  });

  it('makes instance profiles that EC2 associates by name', async () => {
    await iam.send(
      new CreateRoleCommand({ RoleName: 'agent', AssumeRolePolicyDocument: trustAccount('111111111111') }),
    );
    const p = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'agent-profile' }));
    expect(p.InstanceProfile).toMatchObject({ InstanceProfileName: 'agent-profile', Roles: [] });
    await iam.send(
      new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'agent-profile', RoleName: 'agent' }),
    );
    await expectError(
      iam.send(
        new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'agent-profile', RoleName: 'agent' }),
      ),
      'LimitExceededException',
    );
    const got = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'agent-profile' }));
    expect(got.InstanceProfile?.Roles?.map((r) => r.RoleName)).toEqual(['agent']);
    expect((await iam.send(new ListInstanceProfilesCommand({}))).InstanceProfiles).toHaveLength(1);
    const ec2 = t.ec2();
    const [i] = await launch(ec2);
    const a = await ec2.send(
      new AssociateIamInstanceProfileCommand({
        InstanceId: i!.InstanceId!,
        IamInstanceProfile: { Name: 'agent-profile' },
      }),
    );
    expect(a.IamInstanceProfileAssociation?.IamInstanceProfile).toEqual({
      Arn: got.InstanceProfile!.Arn,
      Id: got.InstanceProfile!.InstanceProfileId,
    });
  });
});

describe('SimulatePrincipalPolicy', () => {
  it('names the allowed, implicitly denied and explicitly denied actions', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'sim' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'sim',
        PolicyName: 'ec2',
        PolicyDocument: allow(['ec2:Describe*', 'ec2:CreateSnapshots', 'ebs:*']),
      }),
    );
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'sim',
        PolicyName: 'deny',
        PolicyDocument: allow(['ebs:PutSnapshotBlock'], 'Deny'),
      }),
    );
    const r = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: 'arn:aws:iam::111111111111:user/sim',
        ActionNames: [
          'ec2:DescribeSnapshots',
          'ec2:CreateSnapshots',
          'ec2:DeleteSnapshot',
          'ebs:PutSnapshotBlock',
          'ebs:GetSnapshotBlock',
        ],
      }),
    );
    expect(Object.fromEntries(r.EvaluationResults!.map((e) => [e.EvalActionName, e.EvalDecision]))).toEqual({
      'ec2:DescribeSnapshots': 'allowed',
      'ec2:CreateSnapshots': 'allowed',
      'ec2:DeleteSnapshot': 'implicitDeny',
      'ebs:PutSnapshotBlock': 'explicitDeny',
      'ebs:GetSnapshotBlock': 'allowed',
    });
    await expectError(
      iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: 'arn:aws:iam::111111111111:user/nobody',
          ActionNames: ['ec2:X'],
        }),
      ),
      'NoSuchEntityException',
    );
  });
});
