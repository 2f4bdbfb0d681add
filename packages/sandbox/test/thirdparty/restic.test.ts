import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/index.js';
import { binary, run } from './helpers.js';

const restic = binary('restic', ['version']);
let sb: RunningSandbox;
let dir: string;

function rs(args: string[]) {
  const a = sb.accounts[0]!;
  return run(restic!, ['--no-cache', '-r', `s3:${sb.endpoint}/restic-bucket/repo`, ...args], {
    PATH: '/usr/bin:/bin',
    HOME: dir,
    AWS_ACCESS_KEY_ID: a.accessKeyId,
    AWS_SECRET_ACCESS_KEY: a.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    RESTIC_PASSWORD: 'sandbox-test',
  });
}

describe.skipIf(!restic)('restic with an s3: repository on the sandbox', () => {
  beforeAll(async () => {
    sb = await startSandbox({ fast: true });
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-restic-'));
  });
  afterAll(async () => {
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inits, backs up, checks all data and restores', { timeout: 180_000 }, async () => {
    const src = join(dir, 'data');
    mkdirSync(join(src, 'nested'), { recursive: true });
    const random = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(join(src, 'random.bin'), random);
    writeFileSync(join(src, 'nested', 'note.txt'), 'restic on the sandbox');
    const init = await rs(['init']);
    expect(init.code, init.stderr).toBe(0);
    const backup = await rs(['backup', src]);
    expect(backup.code, backup.stderr).toBe(0);
    const check = await rs(['check', '--read-data']);
    expect(check.code, check.stderr + check.stdout).toBe(0);
    const target = join(dir, 'restore');
    const restore = await rs(['restore', 'latest', '--target', target]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(readFileSync(join(target, src, 'random.bin')).equals(random)).toBe(true);
    expect(readFileSync(join(target, src, 'nested', 'note.txt'), 'utf8')).toBe('restic on the sandbox');
  });
});
