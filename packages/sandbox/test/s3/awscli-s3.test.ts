import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { AWS_CLI, runAws, warnIfMissing } from '../awscli/aws-cli.js';
import { bytes, sandbox } from './helpers.js';

const aws = AWS_CLI;
warnIfMissing('AWS CLI S3 smoke test');

let sb: RunningSandbox;
let dir: string;

const cli = (args: string[]) => runAws(sb, args, dir);

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
