import { hkdfSync, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { RepositoryError } from '../errors.js';
import { open, sealToBuffer } from './seal.js';

const scrypt = promisify(scryptCb) as (
  password: string | Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/**
 * The repository's secret: 32 random bytes, from which every working key is derived (HKDF-SHA256, salted with
 * the repository id). It is never stored in the clear: key slots wrap it.
 */
export interface MasterKey {
  readonly secret: Buffer;
  /** HMAC key of content ids. */
  readonly idKey: Buffer;
  /** Base key of blob encryption (per-blob keys are derived from it and the blob id). */
  readonly blobKey: Buffer;
  /** Base key of metadata objects: index files, manifests, pack trailers. */
  readonly metaKey: Buffer;
}

export function deriveMasterKey(secret: Buffer, repositoryId: string): MasterKey {
  const derive = (label: string) =>
    Buffer.from(hkdfSync('sha256', secret, Buffer.from(repositoryId), `lifeboat/v1/${label}`, 32));
  return { secret, idKey: derive('id'), blobKey: derive('blob'), metaKey: derive('meta') };
}

export function newMasterSecret(): Buffer {
  return randomBytes(32);
}

export interface ScryptParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string; // base64
}

/** OWASP's minimum for scrypt is N=2^17, r=8, p=1 (128 MiB, about 0.3 s here). */
export const STRONG_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;

/**
 * A key slot wraps the master secret. v1 writes "password" slots; the format admits "aws-kms" (a KMS data key
 * wraps the secret: kms.keyId + kms.ciphertextBlob) and "recovery" (an operator-held random key) slots, which
 * later builds add without changing existing slots.
 */
export interface KeySlot {
  format: 1;
  id: string;
  kind: 'password' | 'aws-kms' | 'recovery';
  label: string;
  created: string; // ISO time
  kdf?: ScryptParams;
  kms?: { keyId: string; ciphertextBlob: string; encryptionContext: Record<string, string> };
  /** base64 of seal(KEK, slot context, wrapped plaintext). */
  wrapped: string;
}

interface WrappedSecret {
  repository: string;
  secret: string; // base64
}

function slotContext(repositoryId: string, slotId: string): Buffer {
  return Buffer.from(`lifeboat/v1/key-slot/${repositoryId}/${slotId}`);
}

async function passwordKek(password: string, kdf: ScryptParams): Promise<Buffer> {
  const maxmem = 128 * kdf.N * kdf.r * kdf.p + 64 * 1024 * 1024;
  return scrypt(password.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem,
  });
}

export async function createPasswordSlot(
  repositoryId: string,
  secret: Buffer,
  password: string,
  options: { label?: string; cost?: { N: number; r: number; p: number } } = {},
): Promise<KeySlot> {
  if (password.length === 0) throw new RepositoryError('INVALID_ARGUMENT', 'the password is empty');
  const id = randomBytes(8).toString('hex');
  const kdf: ScryptParams = {
    name: 'scrypt',
    ...(options.cost ?? STRONG_SCRYPT),
    salt: randomBytes(32).toString('base64'),
  };
  const kek = await passwordKek(password, kdf);
  const plain: WrappedSecret = { repository: repositoryId, secret: secret.toString('base64') };
  const wrapped = sealToBuffer(kek, slotContext(repositoryId, id), Buffer.from(JSON.stringify(plain)));
  return {
    format: 1,
    id,
    kind: 'password',
    label: options.label ?? 'password',
    created: new Date().toISOString(),
    kdf,
    wrapped: wrapped.toString('base64'),
  };
}

/** Returns the master secret if `password` opens this slot, undefined if it does not. */
export async function openPasswordSlot(
  repositoryId: string,
  slot: KeySlot,
  password: string,
): Promise<Buffer | undefined> {
  if (slot.kind !== 'password' || !slot.kdf) return undefined;
  const kek = await passwordKek(password, slot.kdf);
  let plain: Buffer;
  try {
    plain = open(
      kek,
      slotContext(repositoryId, slot.id),
      Buffer.from(slot.wrapped, 'base64'),
      `key slot ${slot.id}`,
    );
  } catch {
    return undefined; // wrong password (or a damaged slot: indistinguishable by design)
  }
  const parsed = JSON.parse(plain.toString('utf8')) as WrappedSecret;
  const expected = Buffer.from(repositoryId);
  const actual = Buffer.from(parsed.repository);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  return Buffer.from(parsed.secret, 'base64');
}

export function validateSlot(value: unknown, key: string): KeySlot {
  const slot = value as Partial<KeySlot>;
  if (
    slot?.format !== 1 ||
    typeof slot.id !== 'string' ||
    typeof slot.wrapped !== 'string' ||
    !['password', 'aws-kms', 'recovery'].includes(slot.kind as string)
  ) {
    throw new RepositoryError('REPO_CORRUPT', `key slot ${key} is not a valid v1 key slot`);
  }
  return slot as KeySlot;
}
