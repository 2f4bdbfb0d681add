/**
 * The appliance's secret wrapped by a KMS key of the sandbox's KMS: nothing plain on disk, unwrapped at open,
 * refused with one clear line once the key is disabled; a copy of the wrapped file restores it; a rotation keeps
 * the KMS wrapping; the newest recovery phrase opens the wrapped copy's older keys without KMS.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { kmsDecryptSecret, kmsEncryptSecret } from '@lifeboat/aws';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Appliance } from '../src/appliance.js';
import { readKeyRing, type SecretKms } from '../src/secret.js';
import { initSecret, rotateKeyRing } from '../src/secret-admin.js';

let sandbox: RunningSandbox;
let kms: KMSClient;
let secretKms: SecretKms;
let keyArn = '';
const work = mkdtempSync(join(tmpdir(), 'lifeboat-secret-kms-'));

function folder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
  const account = sandbox.accounts[0]!;
  const config = {
    endpoint: sandbox.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
  };
  kms = new KMSClient(config);
  const key = await kms.send(new CreateKeyCommand({ Description: 'lifeboat appliance' }));
  keyArn = key.KeyMetadata!.Arn!;
  await kms.send(
    new CreateAliasCommand({ AliasName: 'alias/lifeboat-appliance', TargetKeyId: key.KeyMetadata!.KeyId }),
  );
  secretKms = {
    wrap: (keyId, secret, context) => kmsEncryptSecret(keyId, secret, context, config),
    unwrap: (w) => kmsDecryptSecret(w.keyId, w.ciphertextBlob, w.encryptionContext, config),
  };
}, 60_000);

afterAll(async () => {
  kms?.destroy();
  await sandbox?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('a KMS-wrapped appliance secret', () => {
  let wrappedCopy = '';
  let oldSealed = '';
  let phrase: Buffer;

  it('keeps only KMS ciphertext on disk and opens through KMS', async () => {
    const dir = folder('a');
    const made = await initSecret(dir, { kmsKeyId: 'alias/lifeboat-appliance', kms: secretKms });
    const file = JSON.parse(readFileSync(join(dir, 'secret.json'), 'utf8'));
    expect(file.current.secret).toBeUndefined();
    expect(file.current.kms.keyId).toBe(keyArn);
    expect(file.current.kms.encryptionContext).toEqual({ 'lifeboat:appliance-secret': made.ring.currentId });
    expect(readFileSync(join(dir, 'secret.json'), 'utf8')).not.toContain(
      made.ring.current.secret.toString('base64'),
    );
    oldSealed = made.ring.seal('account-credentials', 'AKIA old');
    const loaded = await readKeyRing(dir, { kms: secretKms });
    expect(loaded.protection).toEqual({ kind: 'kms', keyId: keyArn });
    expect(loaded.ring.open('account-credentials', oldSealed).toString()).toBe('AKIA old');
    await expect(readKeyRing(dir)).rejects.toMatchObject({
      code: 'DATA_DIR_UNUSABLE',
      message: expect.stringMatching(/no KMS client/),
    });
    const appliance = await Appliance.open({ dataDir: dir, secretKms });
    try {
      expect(appliance.secretCreated).toBe(false);
      expect(appliance.secrets.open('account-credentials', oldSealed).toString()).toBe('AKIA old');
    } finally {
      await appliance.close();
    }
  });

  it('a rotation keeps the KMS wrapping and the older key', async () => {
    const dir = join(work, 'a');
    const { ring } = await rotateKeyRing(dir, { kms: secretKms });
    const file = JSON.parse(readFileSync(join(dir, 'secret.json'), 'utf8'));
    expect(file.current.secret).toBeUndefined();
    expect(file.current.kms.keyId).toBe(keyArn);
    expect(file.older).toHaveLength(1);
    const loaded = await readKeyRing(dir, { kms: secretKms });
    expect(loaded.ring.currentId).toBe(ring.currentId);
    expect(loaded.ring.open('account-credentials', oldSealed).toString()).toBe('AKIA old');
    wrappedCopy = readFileSync(join(dir, 'secret.json'), 'utf8');
    phrase = ring.current.secret;
  });

  it('a copy of the wrapped file restores the whole ring in a new folder', async () => {
    const dir = folder('b');
    const made = await initSecret(dir, { fromKmsFile: { text: wrappedCopy, where: 'copy' }, kms: secretKms });
    expect(made.restored).toBe(true);
    expect(readFileSync(join(dir, 'secret.json'), 'utf8')).toBe(wrappedCopy);
    const { ring } = await readKeyRing(dir, { kms: secretKms });
    expect(ring.open('account-credentials', oldSealed).toString()).toBe('AKIA old');
  });

  it('a disabled KMS key is refused with one clear line; the newest phrase still opens the wrapped copy', async () => {
    await kms.send(new DisableKeyCommand({ KeyId: keyArn }));
    const err = await readKeyRing(join(work, 'a'), { kms: secretKms }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'DATA_DIR_UNUSABLE' });
    expect((err as Error).message).toMatch(/^KMS refused to unwrap the appliance secret in .*secret\.json/);
    expect((err as Error).message).not.toContain('\n');
    await expect(
      initSecret(folder('c'), { fromKmsFile: { text: wrappedCopy, where: 'copy' }, kms: secretKms }),
    ).rejects.toMatchObject({ code: 'DATA_DIR_UNUSABLE' });
    const made = await initSecret(folder('d'), {
      root: phrase,
      olderFrom: { text: wrappedCopy, where: 'copy' },
    });
    expect(made.ring.keys).toHaveLength(2);
    const { ring } = await readKeyRing(join(work, 'd'));
    expect(ring.open('account-credentials', oldSealed).toString()).toBe('AKIA old');
  });
});
