/**
 * KMS key slots (issue 6): a repository opened with a KMS key of the sandbox's KMS instead of a password, and
 * refused once the key is disabled; the recovery key opens it when every other slot is lost.
 */

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, lifeboat, type RunResult, removeDir, tempDir } from './helpers.js';

let sandbox: RunningSandbox;
let dir: string;
let env: Record<string, string | undefined>;
let kms: KMSClient;

function run(args: string[], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
  return lifeboat(args, { env: { ...env, ...extra } });
}

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
  dir = tempDir('kms');
  const account = sandbox.accounts[0]!;
  const credentials = { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey };
  kms = new KMSClient({ endpoint: sandbox.endpoint, region: 'us-east-1', credentials });
  const key = await kms.send(new CreateKeyCommand({ Description: 'lifeboat repository' }));
  await kms.send(
    new CreateAliasCommand({ AliasName: 'alias/lifeboat', TargetKeyId: key.KeyMetadata!.KeyId }),
  );
  env = {
    LIFEBOAT_REPO: join(dir, 'repo'),
    LIFEBOAT_PASSWORD: 'pw',
    AWS_ACCESS_KEY_ID: account.accessKeyId,
    AWS_SECRET_ACCESS_KEY: account.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_KMS: sandbox.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
});

afterAll(async () => {
  kms?.destroy();
  await sandbox?.close();
  removeDir(dir);
});

describe('KMS key slots', () => {
  let recoveryKey = '';

  it('adds a KMS slot; --kms opens the repository without a password', async () => {
    const init = await run(['--json', 'repo', 'init']);
    expect(init.code, init.stderr).toBe(0);
    recoveryKey = (JSON.parse(init.stdout) as { recoveryKey: string }).recoveryKey;
    const add = await run(['--json', 'repo', 'passwd', '--add-kms', 'alias/lifeboat']);
    expect(add.code, add.stderr).toBe(0);
    const slot = JSON.parse(add.stdout) as { added: string; kms: string };
    expect(slot.kms).toMatch(/^arn:aws:kms:us-east-1:111111111111:key\//);
    const stored = readFileSync(join(dir, 'repo', 'keys', slot.added), 'utf8');
    expect(JSON.parse(stored)).toMatchObject({ kind: 'aws-kms', kms: { keyId: slot.kms } });
    const points = await run(['--kms', 'points'], { LIFEBOAT_PASSWORD: undefined });
    expect(points.code, points.stderr).toBe(0);
    expect(points.stdout).toMatch(/no restore points/);
  });

  it('a KMS slot does not open for another account without access to the key', async () => {
    const other = sandbox.accounts[2]!;
    const r = await run(['--kms', 'points'], {
      LIFEBOAT_PASSWORD: undefined,
      AWS_ACCESS_KEY_ID: other.accessKeyId,
      AWS_SECRET_ACCESS_KEY: other.secretAccessKey,
    });
    expect(r.code).not.toBe(0);
    expectOneLineError(r.stderr);
  });

  it('a disabled key is refused with a clear error; the recovery key still opens when every other slot is lost', async () => {
    const slots = JSON.parse((await run(['--json', 'repo', 'passwd', '--list'])).stdout) as Array<{
      id: string;
      kind: string;
    }>;
    const kmsSlot = JSON.parse(
      readFileSync(join(dir, 'repo', 'keys', slots.find((s) => s.kind === 'aws-kms')!.id), 'utf8'),
    );
    await kms.send(new DisableKeyCommand({ KeyId: kmsSlot.kms.keyId }));
    const r = await run(['--kms', 'points'], { LIFEBOAT_PASSWORD: undefined });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/KMS refused to open key slot .*Disabled/);
    expectOneLineError(r.stderr);
    // lose every slot but the recovery key's
    for (const s of slots.filter((x) => x.kind !== 'recovery')) rmSync(join(dir, 'repo', 'keys', s.id));
    expect(readdirSync(join(dir, 'repo', 'keys'))).toHaveLength(1);
    const recovered = await run(['points'], {
      LIFEBOAT_PASSWORD: undefined,
      LIFEBOAT_RECOVERY_KEY: recoveryKey,
    });
    expect(recovered.code, recovered.stderr).toBe(0);
  });
});
