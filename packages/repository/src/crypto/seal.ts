import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { RepositoryError } from '../errors.js';

/**
 * Authenticated encryption of every object and blob: AES-256-GCM with a key derived per context
 * (HMAC-SHA256(base key, context)) and the context as associated data. For a blob the context is its id, so
 * that a blob moved under another id, or a pack trailer swapped between packs, fails authentication; and because
 * each key encrypts only the few copies of one content, random 96-bit nonces stay far from their collision
 * bound however large the repository grows.
 *
 * Sealed layout: nonce (12) | ciphertext | tag (16).
 */
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

export function contextKey(base: Buffer, context: Uint8Array): Buffer {
  return createHmac('sha256', base).update(context).digest();
}

export function seal(base: Buffer, context: Uint8Array, parts: readonly Uint8Array[]): Buffer[] {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', contextKey(base, context), nonce);
  cipher.setAAD(context);
  const out: Buffer[] = [nonce];
  for (const p of parts) out.push(cipher.update(p));
  out.push(cipher.final(), cipher.getAuthTag());
  return out;
}

export function sealToBuffer(base: Buffer, context: Uint8Array, plain: Uint8Array): Buffer {
  return Buffer.concat(seal(base, context, [plain]));
}

/** Decrypts and authenticates; throws REPO_CORRUPT naming `what` when the bytes were altered. */
export function open(base: Buffer, context: Uint8Array, sealed: Uint8Array, what: string): Buffer {
  if (sealed.length < SEAL_OVERHEAD) {
    throw new RepositoryError('REPO_CORRUPT', `${what} is truncated (${sealed.length} bytes)`);
  }
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = buf.subarray(0, NONCE_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', contextKey(base, context), nonce);
  decipher.setAAD(context);
  decipher.setAuthTag(tag);
  try {
    const head = decipher.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES));
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch (cause) {
    throw new RepositoryError(
      'REPO_CORRUPT',
      `${what} failed authentication: its bytes were altered or it belongs to another repository`,
      { cause },
    );
  }
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Keyed content id: HMAC-SHA256(id key, SHA-256(plaintext)). EBS sends the SHA-256; the id costs one HMAC. */
export function idFromDigest(idKey: Buffer, digest: Uint8Array): Buffer {
  return createHmac('sha256', idKey).update(digest).digest();
}
