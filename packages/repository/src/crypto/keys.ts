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
  /**
   * Independent scrypt derivations computed side by side, one per core, combined with HKDF (see passwordKek).
   * Absent means 1: the KEK is scrypt's output itself (the first v1 slots).
   */
  lanes?: number;
  salt: string; // base64
}

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
  lanes?: number;
}

/**
 * OWASP lists N=2^17, r=8, p=1, N=2^16, r=8, p=2 and N=2^15, r=8, p=3 among its equally strong scrypt settings.
 * Written here: two lanes of N=2^15, r=8, p=2, computed side by side on two cores (OpenSSL computes p one after
 * another, reusing one 32 MiB array): the work per guess of N=2^17, p=1 (N·p·lanes = 2^17), 32 MiB per lane as
 * restic's own setting on this machine (N=2^15, r=8, p=5). Against two lanes of N=2^16, p=1 (the 2026-11 default,
 * still read), an attacker's memory per guess halves, and so does what every open touches: 64 MiB instead of
 * 128, which on a VM that hands out fresh pages dearly was 0.2-0.6 CPU-s per command
 * (docs/benchmarks.md §1).
 */
export const STRONG_SCRYPT: ScryptCost = { N: 2 ** 15, r: 8, p: 2, lanes: 2 };
const MAX_LANES = 16;

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

/**
 * KEK = scrypt(password, salt) with one lane; with L lanes, lane i is scrypt(password, salt | byte i) and the KEK
 * is HKDF-SHA256(lane 0 | ... | lane L-1, salt, "lifeboat/v1/scrypt-lanes"): an attacker must compute every lane
 * for each guess, and the lanes run on separate threads of libuv's pool.
 */
async function passwordKek(password: string, kdf: ScryptParams): Promise<Buffer> {
  const lanes = kdf.lanes ?? 1;
  if (kdf.name !== 'scrypt' || !Number.isInteger(lanes) || lanes < 1 || lanes > MAX_LANES) {
    throw new RepositoryError(
      'KEY_SLOT',
      `a key slot uses key derivation ${kdf.name} with ${lanes} lanes, which this build of Lifeboat does not know: use a newer release (or the slot is damaged: try another slot or the recovery key)`,
    );
  }
  const salt = Buffer.from(kdf.salt, 'base64');
  const maxmem = 128 * kdf.N * kdf.r * kdf.p + 64 * 1024 * 1024;
  const lane = (laneSalt: Buffer) =>
    scrypt(password.normalize('NFC'), laneSalt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem }).catch(
      (cause: unknown) => {
        throw new RepositoryError(
          'REPO_CORRUPT',
          `a key slot's scrypt parameters are refused (N=${kdf.N}, r=${kdf.r}, p=${kdf.p}): the slot is damaged`,
          { cause },
        );
      },
    );
  if (lanes === 1) return lane(salt);
  const outputs = await Promise.all(
    Array.from({ length: lanes }, (_, i) => lane(Buffer.concat([salt, Buffer.of(i)]))),
  );
  return Buffer.from(hkdfSync('sha256', Buffer.concat(outputs), salt, 'lifeboat/v1/scrypt-lanes', 32));
}

export async function createPasswordSlot(
  repositoryId: string,
  secret: Buffer,
  password: string,
  options: { label?: string; cost?: ScryptCost } = {},
): Promise<KeySlot> {
  if (password.length === 0) throw new RepositoryError('INVALID_ARGUMENT', 'the password is empty');
  const id = randomBytes(8).toString('hex');
  const { N, r, p, lanes = 1 } = options.cost ?? STRONG_SCRYPT;
  const kdf: ScryptParams = {
    name: 'scrypt',
    N,
    r,
    p,
    ...(lanes > 1 ? { lanes } : {}),
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

/**
 * A key slot file's JSON, checked field by field: a slot file is not authenticated (its wrapped secret is), so a
 * damaged one must be refused here as damaged (REPO_CORRUPT), not fail later as something else. A slot that
 * parses and then fails authentication is a wrong secret or a damaged slot: the two cannot be told apart.
 */
export function validateSlot(value: unknown, key: string): KeySlot {
  const slot = value as Partial<KeySlot>;
  const bad = (what: string) =>
    new RepositoryError('REPO_CORRUPT', `key slot ${key} is damaged (${what}): not a valid v1 key slot`);
  if (typeof slot !== 'object' || slot === null) throw bad('not an object');
  if (slot.format !== 1) throw bad('format');
  if (typeof slot.id !== 'string' || !/^[0-9a-f]{16}$/.test(slot.id)) throw bad('id');
  if (!key.endsWith(`/${slot.id}`)) throw bad('id does not match the file name');
  if (typeof slot.wrapped !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(slot.wrapped)) throw bad('wrapped');
  if (typeof slot.created !== 'string' || typeof slot.label !== 'string') throw bad('created or label');
  if (!['password', 'aws-kms', 'recovery'].includes(slot.kind as string)) throw bad('kind');
  if (slot.kind === 'password') {
    const k = slot.kdf as Partial<ScryptParams> | undefined;
    const positive = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 1;
    if (
      typeof k !== 'object' ||
      k === null ||
      typeof k.name !== 'string' ||
      !positive(k.N) ||
      (k.N! & (k.N! - 1)) !== 0 ||
      k.N! < 2 ||
      !positive(k.r) ||
      !positive(k.p) ||
      (k.lanes !== undefined && !positive(k.lanes)) ||
      typeof k.salt !== 'string' ||
      !/^[A-Za-z0-9+/]+=*$/.test(k.salt)
    )
      throw bad('kdf');
  }
  if (slot.kind === 'aws-kms') {
    const k = slot.kms as Partial<NonNullable<KeySlot['kms']>> | undefined;
    if (
      typeof k !== 'object' ||
      k === null ||
      typeof k.keyId !== 'string' ||
      typeof k.ciphertextBlob !== 'string'
    )
      throw bad('kms');
  }
  return slot as KeySlot;
}

/**
 * Slots whose key-encryption key comes from outside: a KMS data key ("aws-kms": the adapter calls
 * GenerateDataKey to create the slot and Decrypt to open it) or the operator's recovery key ("recovery": 256
 * random bits printed once at init; no KDF cost is needed at that entropy, HKDF binds it to the slot).
 */
export function createKekSlot(
  repositoryId: string,
  secret: Buffer,
  kek: Buffer,
  kind: 'aws-kms' | 'recovery',
  fields: Pick<KeySlot, 'kms'> & { label?: string } = {},
): KeySlot {
  const id = randomBytes(8).toString('hex');
  const plain: WrappedSecret = { repository: repositoryId, secret: secret.toString('base64') };
  const wrapped = sealToBuffer(
    slotKek(kind, kek, id),
    slotContext(repositoryId, id),
    Buffer.from(JSON.stringify(plain)),
  );
  return {
    format: 1,
    id,
    kind,
    label: fields.label ?? kind,
    created: new Date().toISOString(),
    ...(fields.kms ? { kms: fields.kms } : {}),
    wrapped: wrapped.toString('base64'),
  };
}

export function openKekSlot(repositoryId: string, slot: KeySlot, kek: Buffer): Buffer | undefined {
  if (slot.kind !== 'aws-kms' && slot.kind !== 'recovery') return undefined;
  try {
    const plain = open(
      slotKek(slot.kind, kek, slot.id),
      slotContext(repositoryId, slot.id),
      Buffer.from(slot.wrapped, 'base64'),
      `key slot ${slot.id}`,
    );
    const parsed = JSON.parse(plain.toString('utf8')) as WrappedSecret;
    return parsed.repository === repositoryId ? Buffer.from(parsed.secret, 'base64') : undefined;
  } catch {
    return undefined;
  }
}

function slotKek(kind: string, kek: Buffer, slotId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', kek, Buffer.from(slotId), `lifeboat/v1/slot-kek/${kind}`, 32));
}

/** A recovery key: 256 random bits in 13 groups of base32 (easy to type, to print, to check by eye). */
const B32 = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export function newRecoveryKey(): { key: Buffer; text: string } {
  const key = randomBytes(32);
  return { key, text: encodeRecoveryKey(key) };
}

function encodeRecoveryKey(key: Buffer): string {
  let bits = '';
  for (const b of key) bits += b.toString(2).padStart(8, '0');
  bits = bits.padEnd(260, '0');
  let out = '';
  for (let i = 0; i < 260; i += 5) out += B32[Number.parseInt(bits.slice(i, i + 5), 2)];
  return `LB1-${out.match(/.{1,4}/g)!.join('-')}`;
}

export function parseRecoveryKey(text: string): Buffer {
  const body = text.trim().toUpperCase().replace(/^LB1-/, '').replace(/[-\s]/g, '');
  if (body.length !== 52 || [...body].some((c) => !B32.includes(c))) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      'that is not a Lifeboat recovery key (LB1- followed by 52 characters in groups of 4)',
    );
  }
  let bits = '';
  for (const c of body) bits += B32.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) key[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  if (encodeRecoveryKey(key) !== `LB1-${body.match(/.{1,4}/g)!.join('-')}`) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      'the recovery key is mistyped (its last character does not match)',
    );
  }
  return key;
}
