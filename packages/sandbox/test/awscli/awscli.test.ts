import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/sandbox.js';
import { AWS_CLI, awsJson, cliError, runAws, warnIfMissing } from './aws-cli.js';

/**
 * Another client must agree with the sandbox: a handful of EC2 calls through the real AWS CLI (Debian's awscli
 * package is v2; /usr/bin/aws is preferred over whatever else is on PATH).
 */
const aws = AWS_CLI;
warnIfMissing('awscli smoke test');

let sb: RunningSandbox;

const cli = (args: string[]) => runAws(sb, ['ec2', ...args]);
const json = (args: string[]) => awsJson(sb, ['ec2', ...args]);

describe.skipIf(!aws)('AWS CLI against the sandbox', () => {
  beforeAll(async () => {
    sb = await startSandbox({ fast: true });
  });
  afterAll(() => sb?.close());

  it('runs, filters, snapshots, tags and reports errors as AWS does', { timeout: 180_000 }, async () => {
    const images = (await json(['describe-images', '--owners', 'amazon'])) as {
      Images: Array<{ ImageId: string }>;
    };
    const imageId = images.Images[0]!.ImageId;
    const run = (await json([
      'run-instances',
      '--image-id',
      imageId,
      '--instance-type',
      't3.micro',
      '--count',
      '1',
      '--tag-specifications',
      'ResourceType=instance,Tags=[{Key=App,Value=cli}]',
    ])) as { Instances: Array<{ InstanceId: string }> };
    const instanceId = run.Instances[0]!.InstanceId;
    const found = (await json(['describe-instances', '--filters', 'Name=tag:App,Values=cli'])) as {
      Reservations: Array<{ Instances: Array<{ InstanceId: string; State: { Name: string } }> }>;
    };
    expect(found.Reservations.flatMap((r) => r.Instances.map((i) => i.InstanceId))).toEqual([instanceId]);
    expect(found.Reservations[0]!.Instances[0]!.State.Name).toBe('running');

    const vols = (await json([
      'describe-volumes',
      '--filters',
      `Name=attachment.instance-id,Values=${instanceId}`,
    ])) as {
      Volumes: Array<{ VolumeId: string }>;
    };
    const volumeId = vols.Volumes[0]!.VolumeId;
    const snap = (await json([
      'create-snapshot',
      '--volume-id',
      volumeId,
      '--description',
      'from the cli',
    ])) as {
      SnapshotId: string;
      State: string;
    };
    expect(snap.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
    await json(['create-tags', '--resources', snap.SnapshotId, '--tags', 'Key=Backup,Value=cli']);
    const snaps = (await json([
      'describe-snapshots',
      '--owner-ids',
      'self',
      '--filters',
      'Name=tag:Backup,Values=cli',
    ])) as {
      Snapshots: Array<{ SnapshotId: string; Description: string; State: string }>;
    };
    expect(snaps.Snapshots).toHaveLength(1);
    expect(snaps.Snapshots[0]).toMatchObject({
      SnapshotId: snap.SnapshotId,
      Description: 'from the cli',
      State: 'completed',
    });

    const missing = await cli(['describe-snapshots', '--snapshot-ids', 'snap-0123456789abcdef0']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('InvalidSnapshot.NotFound');
  });

  it('answers a wrong secret and an unknown access key id with AuthFailure, as EC2 does', {
    timeout: 120_000,
  }, async () => {
    const callers = {
      wrongSecret: { secretAccessKey: 'x'.repeat(40) },
      unknownKey: { accessKeyId: 'AKIAUNKNOWN000000000' },
    };
    for (const [who, as] of Object.entries(callers)) {
      const r = await runAws(sb, ['ec2', 'describe-regions'], undefined, undefined, as);
      expect(r.code, `${who}: ${r.stderr}`).not.toBe(0);
      expect(cliError(r), who).toEqual({
        code: 'AuthFailure',
        message: 'AWS was not able to validate the provided access credentials',
      });
    }
    // The account's own key pair, signed for another region the sandbox serves, is accepted.
    const ok = await runAws(sb, ['ec2', 'describe-regions'], undefined, undefined, { region: 'eu-west-1' });
    expect(ok.code, ok.stderr).toBe(0);
  });
});
