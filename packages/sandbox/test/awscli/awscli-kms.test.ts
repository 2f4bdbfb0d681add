import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/sandbox.js';
import { AWS_CLI, awsJson, runAws, warnIfMissing } from './aws-cli.js';

/** KMS through the real AWS CLI v2 (Debian's /usr/bin/aws): create a key, encrypt, decrypt. */
const aws = AWS_CLI;
warnIfMissing('awscli KMS smoke test');

let sb: RunningSandbox;
let dir: string;

const json = (args: string[]) => awsJson(sb, ['kms', ...args], dir);
const cli = (args: string[]) => runAws(sb, ['kms', ...args], dir);

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
