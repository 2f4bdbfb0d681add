import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/sandbox.js';

/**
 * Another client must agree with the sandbox: a handful of EC2 calls through the real AWS CLI (Debian's awscli
 * package is v2; /usr/bin/aws is preferred over whatever else is on PATH).
 */
function findAws(): string | undefined {
  for (const candidate of ['/usr/bin/aws', 'aws']) {
    if (candidate.startsWith('/') && !existsSync(candidate)) continue;
    const r = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return candidate;
  }
  return undefined;
}

const aws = findAws();
if (!aws) console.warn('awscli smoke test skipped: no aws binary (install the Debian package awscli)');

let sb: RunningSandbox;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const a = sb.accounts[0]!;
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    AWS_ACCESS_KEY_ID: a.accessKeyId,
    AWS_SECRET_ACCESS_KEY: a.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  return new Promise((resolve) => {
    execFile(
      aws!,
      ['--endpoint-url', sb.endpoint, '--output', 'json', 'ec2', ...args],
      { env, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function json(args: string[]): Promise<Record<string, unknown>> {
  const r = await cli(args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim() ? JSON.parse(r.stdout) : {};
}

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
});
