import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/index.js';
import { binary, run } from './helpers.js';

const rclone = binary('rclone', ['version']);
let sb: RunningSandbox;
let dir: string;

/** rclone with an S3 remote "sb:" on the sandbox, configured through the environment only. */
function rc(args: string[]) {
  const a = sb.accounts[0]!;
  return run(rclone!, ['--config', '/dev/null', ...args], {
    PATH: '/usr/bin:/bin',
    HOME: dir,
    RCLONE_CONFIG_SB_TYPE: 's3',
    RCLONE_CONFIG_SB_PROVIDER: 'Other',
    RCLONE_CONFIG_SB_ACCESS_KEY_ID: a.accessKeyId,
    RCLONE_CONFIG_SB_SECRET_ACCESS_KEY: a.secretAccessKey,
    RCLONE_CONFIG_SB_ENDPOINT: sb.endpoint,
    RCLONE_CONFIG_SB_REGION: 'us-east-1',
    RCLONE_CONFIG_SB_FORCE_PATH_STYLE: 'true',
  });
}

function tree(root: string, files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), content);
  }
}

describe.skipIf(!rclone)('rclone against the sandbox S3', () => {
  beforeAll(async () => {
    sb = await startSandbox({ fast: true });
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-rclone-'));
  });
  afterAll(async () => {
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies, checks and syncs a tree', { timeout: 180_000 }, async () => {
    const src = join(dir, 'src');
    const big = Buffer.alloc(7 * 1024 * 1024 + 3, 7); // over rclone's multipart cutoff with --s3-upload-cutoff 5M
    tree(src, {
      'a.txt': 'alpha',
      'sub/b.txt': 'beta',
      'sub/deeper/c.bin': Buffer.from([0, 1, 2, 255]),
      'big.bin': big,
    });
    const mk = await rc(['mkdir', 'sb:rclone-bucket']);
    expect(mk.code, mk.stderr).toBe(0);
    const copy = await rc([
      'copy',
      '--s3-upload-cutoff',
      '5M',
      '--s3-chunk-size',
      '5M',
      src,
      'sb:rclone-bucket/tree',
    ]);
    expect(copy.code, copy.stderr).toBe(0);
    const check = await rc(['check', src, 'sb:rclone-bucket/tree']);
    expect(check.code, check.stderr).toBe(0);
    // sync: a changed file, a new one, a deleted one; then the remote is copied back and compared.
    writeFileSync(join(src, 'a.txt'), 'alpha, changed');
    writeFileSync(join(src, 'new.txt'), 'new');
    rmSync(join(src, 'sub/b.txt'));
    const sync = await rc(['sync', src, 'sb:rclone-bucket/tree']);
    expect(sync.code, sync.stderr).toBe(0);
    expect((await rc(['check', src, 'sb:rclone-bucket/tree'])).code).toBe(0);
    const listed = await rc(['lsf', '-R', '--files-only', 'sb:rclone-bucket/tree']);
    expect(listed.stdout.trim().split('\n').sort()).toEqual([
      'a.txt',
      'big.bin',
      'new.txt',
      'sub/deeper/c.bin',
    ]);
    const back = join(dir, 'back');
    expect((await rc(['copy', 'sb:rclone-bucket/tree', back])).code).toBe(0);
    expect(readFileSync(join(back, 'a.txt'), 'utf8')).toBe('alpha, changed');
    expect(readFileSync(join(back, 'big.bin')).equals(big)).toBe(true);
  });
});
