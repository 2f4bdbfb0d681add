import { DeleteVolumeCommand, DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import {
  AssumeRoleCommand,
  DecodeAuthorizationMessageCommand,
  GetCallerIdentityCommand,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allow, Clients, type Creds, expectError, trustAccount } from '../kms/clients.js';

let t: Clients;

beforeAll(async () => {
  t = await Clients.start();
  // The production account (111...) has a role the backup account (222...) may assume with an external id.
  await t.iam().send(
    new CreateRoleCommand({
      RoleName: 'lifeboat',
      AssumeRolePolicyDocument: trustAccount('222222222222', {
        StringEquals: { 'sts:ExternalId': 'ext-123' },
      }),
      MaxSessionDuration: 7200,
    }),
  );
  await t.iam().send(
    new PutRolePolicyCommand({
      RoleName: 'lifeboat',
      PolicyName: 'describe',
      PolicyDocument: allow(['ec2:Describe*', 'sts:*']),
    }),
  );
});
afterAll(() => t?.close());

const ROLE = 'arn:aws:iam::111111111111:role/lifeboat';

async function assume(from: Creds, extra: Record<string, unknown> = {}) {
  const r = await t
    .sts(from)
    .send(
      new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'backup', ExternalId: 'ext-123', ...extra }),
    );
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

describe('STS', () => {
  it('answers GetCallerIdentity for root keys', async () => {
    expect(await t.sts(t.root(1)).send(new GetCallerIdentityCommand({}))).toMatchObject({
      Account: '222222222222',
      Arn: 'arn:aws:iam::222222222222:root',
      UserId: '222222222222',
    });
  });

  it('assumes a role of another account when its trust policy and ExternalId allow it', async () => {
    const { r, creds } = await assume(t.root(1), {
      Tags: [{ Key: 'job', Value: 'nightly' }],
      DurationSeconds: 7200,
    });
    expect(creds.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(r.AssumedRoleUser?.Arn).toBe('arn:aws:sts::111111111111:assumed-role/lifeboat/backup');
    expect(r.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]+:backup$/);
    expect(r.Credentials!.Expiration!.getTime() - Date.now()).toBeGreaterThan(7000 * 1000);
    expect(r.PackedPolicySize).toBeGreaterThan(0);
    const who = await t.sts(creds).send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({
      Account: '111111111111',
      Arn: r.AssumedRoleUser?.Arn,
      UserId: r.AssumedRoleUser?.AssumedRoleId,
    });
    // The session has the role's permissions, in the role's account.
    expect((await t.ec2(creds).send(new DescribeRegionsCommand({}))).Regions?.length).toBeGreaterThan(0);
    await expectError(t.kms(creds).send(new CreateKeyCommand({})), 'AccessDeniedException', 400);
  });

  it('refuses callers the trust policy does not name, wrong external ids and bad durations', async () => {
    const denied = 'AccessDenied';
    await expectError(assume(t.root(2)), denied, 403);
    await expectError(assume(t.root(1), { ExternalId: 'wrong-id' }), denied, 403);
    await expectError(assume(t.root(1), { ExternalId: undefined }), denied, 403);
    await expectError(assume(t.root(1), { RoleArn: 'arn:aws:iam::111111111111:role/none' }), denied, 403);
    await expectError(assume(t.root(1), { DurationSeconds: 8000 }), 'ValidationError', 400);
    await expectError(assume(t.root(1), { RoleSessionName: 'a b' }), 'ValidationError', 400);
  });

  it('refuses expired temporary credentials on every service, and tampered session tokens', async () => {
    const { creds } = await assume(t.root(1), { DurationSeconds: 900 });
    await t.sts(creds).send(new GetCallerIdentityCommand({}));
    await expectError(
      t.sts({ ...creds, sessionToken: `${creds.sessionToken}x` }).send(new GetCallerIdentityCommand({})),
      'InvalidClientTokenId',
      403,
    );
    await expectError(
      t.ec2({ ...creds, sessionToken: undefined }).send(new DescribeRegionsCommand({})),
      'AuthFailure',
      401,
    );
    t.sb.advanceClock(901_000);
    await expectError(t.sts(creds).send(new GetCallerIdentityCommand({})), 'ExpiredToken', 403);
    await expectError(t.ec2(creds).send(new DescribeRegionsCommand({})), 'RequestExpired', 400);
    await expectError(t.kms(creds).send(new CreateKeyCommand({})), 'ExpiredTokenException', 400);
  });

  it('decodes the authorization message of an EC2 refusal', async () => {
    const { creds } = await assume(t.root(1));
    const e = await expectError(
      t.ec2(creds).send(new DeleteVolumeCommand({ VolumeId: 'vol-0123456789abcdef0' })),
      'UnauthorizedOperation',
      403,
    );
    const encoded = /Encoded authorization failure message: (\S+)/.exec(e.message)?.[1];
    const d = await t.sts(creds).send(new DecodeAuthorizationMessageCommand({ EncodedMessage: encoded }));
    expect(JSON.parse(d.DecodedMessage!)).toMatchObject({
      allowed: false,
      context: { action: 'ec2:DeleteVolume' },
    });
  });
});
