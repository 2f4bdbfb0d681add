import { DecryptCommand, GenerateDataKeyCommand, KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import {
  createKekSlot,
  isRepositoryError,
  type KeySlot,
  openKekSlot,
  type Repository,
  RepositoryError,
  type Unlocker,
} from '@lifeboat/repository';

/**
 * KMS key slots: GenerateDataKey gives a 256-bit key (kept only in memory) and its ciphertext under the KMS key
 * (stored in the slot); the data key wraps the repository secret. Opening calls Decrypt with the same encryption
 * context, so the slot cannot be replayed into another repository, and KMS's key policy, grants, disabling and
 * deletion decide who can open it.
 */
function context(repositoryId: string): Record<string, string> {
  return { 'lifeboat:repository': repositoryId };
}

export async function addKmsSlot(
  repo: Repository,
  keyId: string,
  config: KMSClientConfig = {},
): Promise<KeySlot> {
  const kms = new KMSClient(config);
  try {
    const r = await kms.send(
      new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context(repo.id) }),
    );
    if (!r.Plaintext || !r.CiphertextBlob)
      throw new RepositoryError('KEY_SLOT', `KMS returned no data key for ${keyId}`);
    const kek = Buffer.from(r.Plaintext);
    try {
      const slot = createKekSlot(repo.id, repo.key.secret, kek, 'aws-kms', {
        label: `KMS ${r.KeyId ?? keyId}`,
        kms: {
          keyId: r.KeyId ?? keyId,
          ciphertextBlob: Buffer.from(r.CiphertextBlob).toString('base64'),
          encryptionContext: context(repo.id),
        },
      });
      return await repo.addSlot(slot);
    } finally {
      kek.fill(0);
    }
  } catch (err) {
    throw kmsError(err, `cannot create a KMS key slot with ${keyId}`);
  } finally {
    kms.destroy();
  }
}

export function kmsUnlocker(config: KMSClientConfig = {}): Unlocker {
  return {
    kind: 'aws-kms',
    what: 'KMS key',
    async open(repositoryId, slot) {
      if (!slot.kms) return undefined;
      const kms = new KMSClient(config);
      try {
        const r = await kms.send(
          new DecryptCommand({
            CiphertextBlob: Buffer.from(slot.kms.ciphertextBlob, 'base64'),
            KeyId: slot.kms.keyId,
            EncryptionContext: slot.kms.encryptionContext,
          }),
        );
        if (!r.Plaintext) return undefined;
        const kek = Buffer.from(r.Plaintext);
        try {
          return openKekSlot(repositoryId, slot, kek);
        } finally {
          kek.fill(0);
        }
      } catch (err) {
        throw kmsError(err, `KMS refused to open key slot ${slot.id} (${slot.kms.keyId})`);
      } finally {
        kms.destroy();
      }
    },
  };
}

function kmsError(err: unknown, what: string): RepositoryError {
  if (isRepositoryError(err)) return err;
  const name = (err as { name?: string })?.name ?? 'Error';
  return new RepositoryError('KEY_SLOT', `${what}: ${name}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}
