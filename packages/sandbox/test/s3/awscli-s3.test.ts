import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { bytes, sandbox } from './helpers.js';

/** Debian's AWS CLI v2 (/usr/bin/aws): the first `aws` on PATH may be another one. */
const aws =
  existsSync('/usr/bin/aws') && spawnSync('/usr/bin/aws', ['--version'], { timeout: 30_000 }).status === 0
    ? '/usr/bin/aws'
    : undefined;
if (!aws)
  console.warn('AWS CLI S3 smoke test skipped: /usr/bin/aws missing (install the Debian package awscli)');

let sb: RunningSandbox;
let dir: string;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const a = sb.accounts[0]!;
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: dir,
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
      ['--endpoint-url', sb.endpoint, '--output', 'json', ...args],
      { env, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

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
});
