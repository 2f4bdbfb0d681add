/**
 * The CLI on an S3 repository in the sandbox (issue 6): backup, incremental, restore byte-identical, check,
 * forget and prune; PUT requests per GiB stored; and a fault storm (throttling, 5xx, dropped connections) that
 * ends in success or a clear error, never in damage.
 */

import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLOCK,
  compressible,
  lastLine,
  lifeboat,
  patchImage,
  type RunResult,
  random,
  removeDir,
  sha256,
  tempDir,
  writeImage,
} from './helpers.js';

let sandbox: RunningSandbox;
let dir: string;
let env: Record<string, string>;

function run(args: string[], extra: Record<string, string> = {}): Promise<RunResult> {
  return lifeboat(args, { env: { ...env, ...extra } });
}

async function ok(args: string[], extra: Record<string, string> = {}): Promise<RunResult> {
  const r = await run(args, extra);
  expect(r.code, `lifeboat ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

function s3Counts(): { puts: number; gets: number } {
  let puts = 0;
  let gets = 0;
  for (const c of sandbox.counters()) {
    if (c.service !== 's3') continue;
    if (
      ['PutObject', 'UploadPart', 'CreateMultipartUpload', 'CompleteMultipartUpload', 'CopyObject'].includes(
        c.operation,
      )
    )
      puts += c.requests;
    if (['GetObject', 'HeadObject'].includes(c.operation)) gets += c.requests;
  }
  return { puts, gets };
}

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
  dir = tempDir('s3');
  const account = sandbox.accounts[1]!;
  const s3 = new S3Client({
    endpoint: sandbox.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'backups' }));
  s3.destroy();
  env = {
    LIFEBOAT_REPO: `s3:${sandbox.endpoint}/backups/repo1`,
    LIFEBOAT_PASSWORD: 'pw',
    AWS_ACCESS_KEY_ID: account.accessKeyId,
    AWS_SECRET_ACCESS_KEY: account.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
});

afterAll(async () => {
  await sandbox?.close();
  removeDir(dir);
});

describe('an S3 repository (sandbox S3)', () => {
  let img = '';
  let full = '';

  it('backs up, incrementally too, and restores byte-identical; about one PUT per pack', async () => {
    await ok(['repo', 'init']);
    img = writeImage(join(dir, 'disk.img'), 80 * BLOCK, [
      [0, random(40 * BLOCK)],
      [50 * BLOCK, compressible(20 * BLOCK)],
    ]);
    sandbox.resetCounters();
    full = lastLine((await ok(['image', 'backup', img, '--disk', 'root', '-q'])).stdout);
    const stored = (await ok(['--json', 'points'])).stdout;
    const bytes = (JSON.parse(stored) as Array<{ disks: Array<{ stats: { newBytesStored: number } }> }>)[0]!
      .disks[0]!.stats.newBytesStored;
    const { puts } = s3Counts();
    // packs (~32 MiB), tree pack, index file, manifest, session marker: at most 64 PUTs per GiB
    expect(puts / (bytes / 2 ** 30)).toBeLessThanOrEqual(64 + 8 / (bytes / 2 ** 30));
    patchImage(img, [
      [3 * BLOCK, random(BLOCK)],
      [60 * BLOCK, random(BLOCK)],
    ]);
    const changed = join(dir, 'changed.txt');
    (await import('node:fs')).writeFileSync(changed, '3\n60\n');
    const incr = lastLine(
      (
        await ok([
          'image',
          'backup',
          img,
          '--disk',
          'root',
          '-q',
          '--parent',
          full,
          '--changed-blocks',
          changed,
        ])
      ).stdout,
    );
    await ok(['image', 'restore', incr, join(dir, 'incr.out'), '-q']);
    expect(sha256(join(dir, 'incr.out'))).toBe(sha256(img));
    await ok(['repo', 'check', '--read-data', '-q']);
  });

  it('forgets and prunes on S3, and what is kept still restores', async () => {
    await ok(['forget', full]);
    await ok(['prune', '--grace', '0']);
    const r = await ok(['prune', '--grace', '0']);
    expect(r.stdout).toMatch(/completed: \d+ pack\(s\) deleted/);
    await ok(['image', 'restore', 'latest', join(dir, 'after-prune.out'), '-q']);
    expect(sha256(join(dir, 'after-prune.out'))).toBe(sha256(img));
    await ok(['repo', 'check', '--read-data', '-q']);
  });

  it('a fault storm (throttling, 5xx, dropped connections) ends in success or a clear error, never damage', async () => {
    const storm = writeImage(join(dir, 'storm.img'), 48 * BLOCK, [[0, random(48 * BLOCK)]]);
    const outcomes: number[] = [];
    for (const kind of ['throttle', 'error5xx', 'drop'] as const) {
      const fault = sandbox.addFault({ service: 's3', kind, rate: 0.25 });
      const r = await run(['image', 'backup', storm, '--disk', kind, '-q']);
      sandbox.removeFault(fault);
      outcomes.push(r.code);
      if (r.code !== 0) {
        expect(r.stderr.trim().split('\n')).toHaveLength(1); // one clear line, no stack trace
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    }
    expect(outcomes.filter((c) => c === 0).length).toBeGreaterThan(0); // retries carry most runs through
    const check = await run(['repo', 'check', '--read-data', '-q']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const points = JSON.parse((await ok(['--json', 'points'])).stdout) as Array<{
      id: string;
      disks: Array<{ name: string }>;
    }>;
    for (const p of points.filter((x) => x.disks[0]!.name !== 'root')) {
      await ok(['image', 'restore', p.id, join(dir, `${p.id}.out`), '-q']);
      expect(sha256(join(dir, `${p.id}.out`))).toBe(sha256(storm));
    }
  });
});
