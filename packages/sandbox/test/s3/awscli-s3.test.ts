import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { AWS_CLI, type CliAs, cliError, runAws, warnIfMissing } from '../awscli/aws-cli.js';
import { bytes, sandbox } from './helpers.js';

const aws = AWS_CLI;
warnIfMissing('AWS CLI S3 smoke test');

let sb: RunningSandbox;
let dir: string;

const cli = (args: string[], as?: CliAs) => runAws(sb, args, dir, undefined, as);

describe.skipIf(!aws)('AWS CLI against the sandbox S3', () => {
  beforeAll(async () => {
    sb = await sandbox();
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-awscli-s3-'));
  });
  afterAll(async () => {
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies a 20 MiB file up and down (multipart) and lists it', { timeout: 180_000 }, async () => {
    const data = bytes(20 * 1024 * 1024, 21);
    writeFileSync(join(dir, 'up.bin'), data);
    expect((await cli(['s3', 'mb', 's3://cli-bucket'])).code).toBe(0);
    const up = await cli(['s3', 'cp', join(dir, 'up.bin'), 's3://cli-bucket/dir/file.bin']);
    expect(up.code, up.stderr).toBe(0);
    const down = await cli(['s3', 'cp', 's3://cli-bucket/dir/file.bin', join(dir, 'down.bin')]);
    expect(down.code, down.stderr).toBe(0);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(readFileSync(join(dir, 'down.bin')))).toBe(sha(data));
    const listed = await cli(['s3api', 'list-objects-v2', '--bucket', 'cli-bucket', '--prefix', 'dir/']);
    expect(listed.code, listed.stderr).toBe(0);
    const out = JSON.parse(listed.stdout) as { Contents: Array<{ Key: string; Size: number; ETag: string }> };
    expect(out.Contents.map((o) => [o.Key, o.Size])).toEqual([['dir/file.bin', data.length]]);
    expect(out.Contents[0]?.ETag).toMatch(/-\d+"$/); // the CLI uploads 20 MiB in 8 MiB parts
    const missing = await cli(['s3api', 'head-object', '--bucket', 'cli-bucket', '--key', 'nope']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('404');
  });

  it('creates buckets where S3 would, and refuses what S3 refuses', { timeout: 300_000 }, async () => {
    const incompatible = (c: string) =>
      `The ${c} location constraint is incompatible for the region specific endpoint this request was sent to.`;
    const create = (region: string, bucket: string, constraint?: string) =>
      cli(
        [
          's3api',
          'create-bucket',
          '--bucket',
          bucket,
          ...(constraint ? ['--create-bucket-configuration', `LocationConstraint=${constraint}`] : []),
        ],
        { region },
      );
    const refused = async (region: string, constraint: string | undefined) => {
      const r = await create(region, 'cli-refused', constraint);
      expect(r.code, `${region} ${constraint}`).not.toBe(0);
      return cliError(r);
    };
    const location = async (bucket: string) => {
      const r = await cli(['s3api', 'get-bucket-location', '--bucket', bucket]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { LocationConstraint: string | null }).LocationConstraint;
    };
    // Each CLI run costs a second or more of CPU: the other cases are boto3's and the SDK's (boto3.test.ts,
    // buckets.test.ts). A regional endpoint other than us-east-1: its own region only.
    expect(await refused('eu-west-1', undefined)).toEqual({
      code: 'IllegalLocationConstraintException',
      message: incompatible('unspecified'),
    });
    expect(await refused('eu-west-1', 'us-west-2')).toEqual({
      code: 'IllegalLocationConstraintException',
      message: incompatible('us-west-2'),
    });
    // Not a region at all, anywhere; us-east-1 as a constraint, on us-east-1.
    for (const [region, constraint] of [
      ['us-east-1', 'nowhere'],
      ['us-east-1', 'us-east-1'],
    ] as const) {
      expect(await refused(region, constraint), `${region} ${constraint}`).toEqual({
        code: 'InvalidLocationConstraint',
        message: 'The specified location-constraint is not valid',
      });
    }
    // What S3 creates: us-east-1 without a constraint, any region from us-east-1, a region from its own endpoint.
    for (const [region, bucket, constraint, answer] of [
      ['us-east-1', 'cli-plain', undefined, null],
      ['us-east-1', 'cli-global-eu', 'eu-west-1', 'eu-west-1'],
      ['us-east-1', 'cli-global-legacy-eu', 'EU', 'EU'],
      ['eu-west-1', 'cli-regional-eu', 'eu-west-1', 'eu-west-1'],
    ] as const) {
      const r = await create(region, bucket, constraint);
      expect(r.code, r.stderr).toBe(0);
      expect(await location(bucket), bucket).toBe(answer);
    }
    // The bucket made from us-east-1 lives in eu-west-1: the CLI uses it there.
    const put = await cli(['s3api', 'put-object', '--bucket', 'cli-global-eu', '--key', 'k'], {
      region: 'eu-west-1',
    });
    expect(put.code, put.stderr).toBe(0);
  });

  it("keeps S3's own codes for a wrong secret and an unknown access key id", {
    timeout: 120_000,
  }, async () => {
    const wrong = await cli(['s3api', 'list-buckets'], { secretAccessKey: 'x'.repeat(40) });
    expect(cliError(wrong).code, wrong.stderr).toBe('SignatureDoesNotMatch');
    const unknown = await cli(['s3api', 'list-buckets'], { accessKeyId: 'AKIAUNKNOWN000000000' });
    expect(cliError(unknown), unknown.stderr).toEqual({
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
    });
  });
});
