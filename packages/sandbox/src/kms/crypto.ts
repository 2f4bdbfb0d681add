import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * KMS's cryptography. Every key has 32 random bytes of key material, kept in the state journal sealed under the
 * sandbox master key, which lives in the data folder (kms-master.key, mode 0600) and never in the journal.
 * Ciphertext blobs are AES-256-GCM under the key's material, carry the key's id in the clear (Decrypt needs no
 * KeyId) and authenticate it together with the encryption context.
 */
const MASTER_FILE = 'kms-master.key';
const VERSION = 0x01;
const KEY_ID_LENGTH = 36; // a UUID
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

export class MasterKey {
  private readonly key: Buffer;

  constructor(dataDir: string) {
    const file = join(dataDir, MASTER_FILE);
    if (existsSync(file)) {
      this.key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    } else {
      this.key = randomBytes(32);
      writeFileSync(file, this.key.toString('base64'), { mode: 0o600 });
    }
    chmodSync(file, 0o600);
    if (this.key.length !== 32) throw new Error(`${file} does not hold a 256-bit key`);
  }

  /** Fresh key material, sealed for the journal. */
  newMaterial(): string {
    return this.seal(randomBytes(32));
  }

  seal(material: Buffer): string {
    const iv = randomBytes(IV_LENGTH);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(material), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string): Buffer {
    const b = Buffer.from(sealed, 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, IV_LENGTH));
    d.setAuthTag(b.subarray(IV_LENGTH, IV_LENGTH + TAG_LENGTH));
    return Buffer.concat([d.update(b.subarray(IV_LENGTH + TAG_LENGTH)), d.final()]);
  }
}

/** The encryption context in a canonical form (sorted keys), so that member order does not matter. */
function contextBytes(keyId: string, context: Record<string, string>): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify([keyId, sorted]));
}

export function sealBlob(
  keyId: string,
  material: Buffer,
  plaintext: Buffer,
  context: Record<string, string>,
): Buffer {
  const iv = randomBytes(IV_LENGTH);
  const c = createCipheriv('aes-256-gcm', material, iv);
  c.setAAD(contextBytes(keyId, context));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([Buffer.from([VERSION]), Buffer.from(keyId, 'ascii'), iv, c.getAuthTag(), body]);
}

/** The key id a blob names, or undefined when it is not one of ours. */
export function blobKeyId(blob: Buffer): string | undefined {
  if (blob.length < 1 + KEY_ID_LENGTH + IV_LENGTH + TAG_LENGTH || blob[0] !== VERSION) return undefined;
  const id = blob.subarray(1, 1 + KEY_ID_LENGTH).toString('ascii');
  return /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
}

/** The plaintext, or undefined when the blob was altered or the context differs. */
export function openBlob(
  blob: Buffer,
  material: Buffer,
  context: Record<string, string>,
): Buffer | undefined {
  const keyId = blobKeyId(blob);
  if (!keyId) return undefined;
  const ivAt = 1 + KEY_ID_LENGTH;
  const tagAt = ivAt + IV_LENGTH;
  const at = tagAt + TAG_LENGTH;
  const iv = blob.subarray(ivAt, tagAt);
  const tag = blob.subarray(tagAt, at);
  try {
    const d = createDecipheriv('aes-256-gcm', material, iv);
    d.setAAD(contextBytes(keyId, context));
    d.setAuthTag(tag);
    return Buffer.concat([d.update(blob.subarray(at)), d.final()]);
  } catch {
    return undefined;
  }
}
