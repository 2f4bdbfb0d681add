import { DecryptCommand, EncryptCommand, KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';

/**
 * KMS Encrypt/Decrypt of a small secret (the appliance's 32-byte key) under an encryption context that binds the
 * ciphertext to what it wraps. The client comes from the standard chain (credentials, region, AWS_ENDPOINT_URL);
 * errors are one line, naming KMS's error.
 */
export async function kmsEncryptSecret(
  keyId: string,
  plaintext: Buffer,
  encryptionContext: Record<string, string>,
  config: KMSClientConfig = {},
): Promise<{ keyId: string; ciphertextBlob: string }> {
  const kms = new KMSClient(config);
  try {
    const r = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: encryptionContext }),
    );
    if (!r.CiphertextBlob) throw new Error(`KMS returned no ciphertext for ${keyId}`);
    return { keyId: r.KeyId ?? keyId, ciphertextBlob: Buffer.from(r.CiphertextBlob).toString('base64') };
  } catch (err) {
    throw kmsSecretError(err, `KMS refused to encrypt with ${keyId}`);
  } finally {
    kms.destroy();
  }
}

export async function kmsDecryptSecret(
  keyId: string,
  ciphertextBlob: string,
  encryptionContext: Record<string, string>,
  config: KMSClientConfig = {},
): Promise<Buffer> {
  const kms = new KMSClient(config);
  try {
    const r = await kms.send(
      new DecryptCommand({
        KeyId: keyId,
        CiphertextBlob: Buffer.from(ciphertextBlob, 'base64'),
        EncryptionContext: encryptionContext,
      }),
    );
    if (!r.Plaintext) throw new Error(`KMS returned no plaintext for ${keyId}`);
    return Buffer.from(r.Plaintext);
  } catch (err) {
    throw kmsSecretError(err, `KMS refused to decrypt with ${keyId}`);
  } finally {
    kms.destroy();
  }
}

function kmsSecretError(err: unknown, what: string): Error {
  const e = err as { name?: string; message?: string };
  const message = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`.replace(/\s*\n\s*/g, ' ');
  return new Error(`${what}: ${message}`, { cause: err });
}
