import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/sandbox.js';

/** KMS through the real AWS CLI v2 (Debian's /usr/bin/aws): create a key, encrypt, decrypt. */
const aws =
  existsSync('/usr/bin/aws') && spawnSync('/usr/bin/aws', ['--version'], { timeout: 30_000 }).status === 0;
if (!aws) console.warn('awscli KMS smoke test skipped: no /usr/bin/aws (install the Debian package awscli)');

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
      '/usr/bin/aws',
      ['--endpoint-url', sb.endpoint, '--output', 'json', 'kms', ...args],
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

describe.skipIf(!aws)('AWS CLI: KMS', () => {
  beforeAll(async () => {
    sb = await startSandbox({ fast: true });
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-awscli-kms-'));
  });
  afterAll(async () => {
    await sb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates a key, encrypts and decrypts with an encryption context', { timeout: 120_000 }, async () => {
    const created = (await json(['create-key', '--description', 'cli'])) as {
      KeyMetadata: { KeyId: string; Arn: string };
    };
    expect(created.KeyMetadata.Arn).toMatch(/^arn:aws:kms:us-east-1:111111111111:key\//);
    await json(['create-alias', '--alias-name', 'alias/cli', '--target-key-id', created.KeyMetadata.KeyId]);
    writeFileSync(join(dir, 'plain'), 'lifeboat secret');
    const enc = (await json([
      'encrypt',
      '--key-id',
      'alias/cli',
      '--plaintext',
      `fileb://${join(dir, 'plain')}`,
      '--encryption-context',
      'purpose=test',
    ])) as { CiphertextBlob: string; KeyId: string };
    expect(enc.KeyId).toBe(created.KeyMetadata.Arn);
    writeFileSync(join(dir, 'blob'), Buffer.from(enc.CiphertextBlob, 'base64'));
    const dec = (await json([
      'decrypt',
      '--ciphertext-blob',
      `fileb://${join(dir, 'blob')}`,
      '--encryption-context',
      'purpose=test',
    ])) as { Plaintext: string };
    expect(Buffer.from(dec.Plaintext, 'base64').toString()).toBe('lifeboat secret');
    const wrong = await cli(['decrypt', '--ciphertext-blob', `fileb://${join(dir, 'blob')}`]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('InvalidCiphertextException');
  });
});
