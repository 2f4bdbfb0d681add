import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GetKeyPolicyCommand,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeysCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clients, expectError } from './clients.js';

let t: Clients;
let kms: KMSClient;
const text = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  t = await Clients.start();
  kms = t.kms();
});
afterAll(() => t?.close());

async function newKey(client = kms, description = 'test key') {
  const r = await client.send(new CreateKeyCommand({ Description: description }));
  return r.KeyMetadata!;
}

describe('KMS keys', () => {
  it('creates, describes and lists symmetric keys', async () => {
    const k = await newKey();
    expect(k).toMatchObject({
      AWSAccountId: '111111111111',
      KeyState: 'Enabled',
      Enabled: true,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      Description: 'test key',
    });
    expect(k.Arn).toBe(`arn:aws:kms:us-east-1:111111111111:key/${k.KeyId}`);
    expect(k.CreationDate).toBeInstanceOf(Date);
    const d = await kms.send(new DescribeKeyCommand({ KeyId: k.Arn }));
    expect(d.KeyMetadata?.KeyId).toBe(k.KeyId);
    const listed = await kms.send(new ListKeysCommand({}));
    expect(listed.Keys?.map((x) => x.KeyId)).toContain(k.KeyId);
    await expectError(
      kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })),
      'NotFoundException',
      400,
    );
    // Keys are regional.
    await expectError(
      t.kms(t.root(), 'eu-west-1').send(new DescribeKeyCommand({ KeyId: k.KeyId })),
      'NotFoundException',
    );
    await expectError(
      kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048' })),
      'UnsupportedOperationException',
    );
  });

  it('pages ListKeys with Limit and Marker', async () => {
    const client = t.kms(t.root(2));
    for (let i = 0; i < 3; i++) await newKey(client);
    const first = await client.send(new ListKeysCommand({ Limit: 2 }));
    expect(first.Keys).toHaveLength(2);
    expect(first.Truncated).toBe(true);
    const rest = await client.send(new ListKeysCommand({ Limit: 2, Marker: first.NextMarker }));
    expect(rest.Truncated).toBe(false);
    expect(rest.Keys).toHaveLength(1);
    await expectError(client.send(new ListKeysCommand({ Marker: 'bogus' })), 'InvalidMarkerException');
  });

  it('keeps the master key out of the journal, readable only by its owner', () => {
    expect(statSync(join(t.sb.dataDir, 'kms-master.key')).mode & 0o777).toBe(0o600);
  });
});

describe('KMS aliases', () => {
  it('creates, lists, resolves and deletes aliases', async () => {
    const k = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/backups', TargetKeyId: k.KeyId }));
    await expectError(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/backups', TargetKeyId: k.KeyId })),
      'AlreadyExistsException',
    );
    await expectError(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: k.KeyId })),
      'InvalidAliasNameException',
    );
    await expectError(
      kms.send(new CreateAliasCommand({ AliasName: 'nope', TargetKeyId: k.KeyId })),
      'InvalidAliasNameException',
    );
    for (const ref of ['alias/backups', 'arn:aws:kms:us-east-1:111111111111:alias/backups']) {
      const d = await kms.send(new DescribeKeyCommand({ KeyId: ref }));
      expect(d.KeyMetadata?.KeyId).toBe(k.KeyId);
    }
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: k.KeyId }));
    expect(aliases.Aliases).toEqual([
      expect.objectContaining({
        AliasName: 'alias/backups',
        AliasArn: 'arn:aws:kms:us-east-1:111111111111:alias/backups',
        TargetKeyId: k.KeyId,
      }),
    ]);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/backups' }));
    await expectError(kms.send(new DescribeKeyCommand({ KeyId: 'alias/backups' })), 'NotFoundException');
    await expectError(kms.send(new DeleteAliasCommand({ AliasName: 'alias/backups' })), 'NotFoundException');
  });

  it('makes the AWS-managed aws/ebs key on first use; it cannot be managed or used directly', async () => {
    const d = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' }));
    expect(d.KeyMetadata).toMatchObject({ KeyManager: 'AWS', KeyState: 'Enabled' });
    const again = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' }));
    expect(again.KeyMetadata?.KeyId).toBe(d.KeyMetadata?.KeyId);
    const aliases = await kms.send(new ListAliasesCommand({}));
    expect(aliases.Aliases?.map((a) => a.AliasName)).toContain('alias/aws/ebs');
    await expectError(
      kms.send(new DisableKeyCommand({ KeyId: d.KeyMetadata!.KeyId })),
      'AccessDeniedException',
      400,
    );
    await expectError(
      kms.send(new EncryptCommand({ KeyId: 'alias/aws/ebs', Plaintext: text('x') })),
      'AccessDeniedException',
    );
    // Another account cannot use it, even by ARN.
    await expectError(
      t.kms(t.root(1)).send(new DescribeKeyCommand({ KeyId: d.KeyMetadata!.Arn })),
      'AccessDeniedException',
    );
    await expectError(
      kms.send(new DeleteAliasCommand({ AliasName: 'alias/aws/ebs' })),
      'InvalidAliasNameException',
    );
  });
});

describe('KMS cryptography', () => {
  it('encrypts and decrypts with the encryption context, refusing another context', async () => {
    const k = await newKey();
    const context = { repository: 'r1', purpose: 'key-slot' };
    const e = await kms.send(
      new EncryptCommand({ KeyId: k.KeyId, Plaintext: text('secret'), EncryptionContext: context }),
    );
    expect(e.KeyId).toBe(k.Arn);
    expect(e.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    expect(Buffer.from(e.CiphertextBlob!).includes(Buffer.from('secret'))).toBe(false);
    const d = await kms.send(
      new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: context }),
    );
    expect(new TextDecoder().decode(d.Plaintext)).toBe('secret');
    expect(d.KeyId).toBe(k.Arn);
    await expectError(
      kms.send(
        new DecryptCommand({
          CiphertextBlob: e.CiphertextBlob,
          EncryptionContext: { repository: 'r2', purpose: 'key-slot' },
        }),
      ),
      'InvalidCiphertextException',
      400,
    );
    await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
      'InvalidCiphertextException',
    );
    const tampered = Buffer.from(e.CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })),
      'InvalidCiphertextException',
    );
    const other = await newKey();
    await expectError(
      kms.send(
        new DecryptCommand({
          CiphertextBlob: e.CiphertextBlob,
          EncryptionContext: context,
          KeyId: other.KeyId,
        }),
      ),
      'IncorrectKeyException',
    );
  });

  it('generates data keys, with and without plaintext, and re-encrypts under another key', async () => {
    const k = await newKey();
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256' }));
    expect(dk.Plaintext).toHaveLength(32);
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    expect(Buffer.from(back.Plaintext!).equals(Buffer.from(dk.Plaintext!))).toBe(true);
    const bytes = await kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, NumberOfBytes: 64 }));
    expect(bytes.Plaintext).toHaveLength(64);
    await expectError(kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId })), 'ValidationException');
    const wp = await kms.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: k.KeyId, KeySpec: 'AES_128' }),
    );
    expect(wp).not.toHaveProperty('Plaintext');
    expect(
      (await kms.send(new DecryptCommand({ CiphertextBlob: wp.CiphertextBlob }))).Plaintext,
    ).toHaveLength(16);
    const dest = await newKey();
    const re = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: dk.CiphertextBlob,
        DestinationKeyId: dest.Arn,
        DestinationEncryptionContext: { v: '2' },
      }),
    );
    expect(re).toMatchObject({ SourceKeyId: k.Arn, KeyId: dest.Arn });
    const d2 = await kms.send(
      new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { v: '2' } }),
    );
    expect(Buffer.from(d2.Plaintext!).equals(Buffer.from(dk.Plaintext!))).toBe(true);
  });

  it('refuses disabled keys and keys pending deletion', async () => {
    const k = await newKey();
    const e = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: text('x') }));
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata?.KeyState).toBe(
      'Disabled',
    );
    await expectError(
      kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: text('x') })),
      'DisabledException',
      400,
    );
    await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
      'DisabledException',
    );
    await kms.send(new EnableKeyCommand({ KeyId: k.KeyId }));
    await expectError(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 6 })),
      'ValidationException',
    );
    const s = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    expect(s).toMatchObject({ KeyId: k.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(s.DeletionDate).toBeInstanceOf(Date);
    await expectError(
      kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
      'KMSInvalidStateException',
    );
    await expectError(kms.send(new EnableKeyCommand({ KeyId: k.KeyId })), 'KMSInvalidStateException');
    await expectError(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId })),
      'KMSInvalidStateException',
    );
    await kms.send(new CancelKeyDeletionCommand({ KeyId: k.KeyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata?.KeyState).toBe(
      'Disabled',
    );
    await expectError(kms.send(new CancelKeyDeletionCommand({ KeyId: k.KeyId })), 'KMSInvalidStateException');
    // Once the window passes, the key is gone.
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    t.sb.advanceClock(8 * 86_400_000);
    await expectError(kms.send(new DescribeKeyCommand({ KeyId: k.KeyId })), 'NotFoundException');
  });
});

describe('KMS key policies and grants', () => {
  it('reads and replaces the key policy; refuses malformed ones', async () => {
    const k = await newKey();
    const p = await kms.send(new GetKeyPolicyCommand({ KeyId: k.KeyId, PolicyName: 'default' }));
    expect(JSON.parse(p.Policy!).Statement[0].Principal.AWS).toBe('arn:aws:iam::111111111111:root');
    await expectError(
      kms.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, Policy: '{"nope":' })),
      'MalformedPolicyDocumentException',
    );
    await expectError(
      kms.send(new GetKeyPolicyCommand({ KeyId: k.KeyId, PolicyName: 'other' })),
      'NotFoundException',
    );
  });

  it('lets another account use a key only when the key policy or a grant allows it', async () => {
    const k = await newKey();
    const other = t.kms(t.root(1));
    const e = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: text('shared') }));
    await expectError(
      other.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
      'AccessDeniedException',
      400,
    );
    const g = await kms.send(
      new CreateGrantCommand({
        KeyId: k.KeyId,
        GranteePrincipal: 'arn:aws:iam::222222222222:root',
        Operations: ['Decrypt'],
        Name: 'backup-account',
      }),
    );
    expect(g.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(g.GrantToken).toBeTruthy();
    expect(
      new TextDecoder().decode(
        (await other.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))).Plaintext,
      ),
    ).toBe('shared');
    await expectError(
      other.send(new EncryptCommand({ KeyId: k.Arn, Plaintext: text('x') })),
      'AccessDeniedException',
    );
    const grants = await kms.send(new ListGrantsCommand({ KeyId: k.KeyId }));
    expect(grants.Grants).toEqual([
      expect.objectContaining({
        GrantId: g.GrantId,
        Name: 'backup-account',
        GranteePrincipal: 'arn:aws:iam::222222222222:root',
        Operations: ['Decrypt'],
        IssuingAccount: 'arn:aws:iam::111111111111:root',
        KeyId: k.Arn,
      }),
    ]);
    await kms.send(new RevokeGrantCommand({ KeyId: k.KeyId, GrantId: g.GrantId }));
    await expectError(
      kms.send(new RevokeGrantCommand({ KeyId: k.KeyId, GrantId: g.GrantId })),
      'NotFoundException',
    );
    await expectError(
      other.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
      'AccessDeniedException',
    );
    // A key policy naming the other account: it may use the key by ARN (never by a bare id: that is its own).
    const policy = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: k.KeyId }))).Policy!);
    policy.Statement.push({
      Sid: 'Allow the backup account',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::222222222222:root' },
      Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:DescribeKey'],
      Resource: '*',
    });
    await kms.send(
      new PutKeyPolicyCommand({ KeyId: k.KeyId, PolicyName: 'default', Policy: JSON.stringify(policy) }),
    );
    expect((await other.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))).KeyId).toBe(k.Arn);
    expect((await other.send(new EncryptCommand({ KeyId: k.Arn, Plaintext: text('y') }))).KeyId).toBe(k.Arn);
    await expectError(
      other.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: text('y') })),
      'NotFoundException',
    );
    await expectError(other.send(new DisableKeyCommand({ KeyId: k.Arn })), 'AccessDeniedException');
  });
});
