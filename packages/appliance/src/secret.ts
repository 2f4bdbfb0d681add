import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError } from './errors.js';

/**
 * The appliance's secret: what seals stored credentials (and, next, snapshot tags). A key ring so that a rotated
 * secret keeps older material readable: each sealed value names the key that sealed it. Each purpose gets its own
 * key, derived with HKDF, and is bound as associated data, so a value sealed for one purpose never opens as
 * another.
 */
export interface SecretBox {
  /** `lb1:<key id>:<base64url(nonce | ciphertext | tag)>`, AES-256-GCM. */
  seal(purpose: string, data: Buffer | string): string;
  /** The plaintext; SECRET_MISMATCH when the value was not sealed by a key of this ring for this purpose. */
  open(purpose: string, sealed: string): Buffer;
}

export interface RingKey {
  /** keyIdOf(secret): the same key has the same id on every appliance, so a restored key opens what it sealed. */
  id: string;
  createdAt: string;
  /** 32 bytes: the root secret its recovery phrase encodes. */
  secret: Buffer;
}

export const SECRET_FILE = 'secret.json';

/** A key's id: the first 8 hex digits of SHA-256 of the secret (names it; reveals nothing usable). */
export function keyIdOf(secret: Buffer): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 8);
}

/** A ring key for this secret (a new random one by default). */
export function newRingKey(secret: Buffer = randomBytes(32), createdAt = new Date().toISOString()): RingKey {
  if (secret.length !== 32) throw new Error('an appliance secret is 32 bytes');
  return { id: keyIdOf(secret), createdAt, secret: Buffer.from(secret) };
}

export class KeyRing implements SecretBox {
  constructor(
    readonly keys: RingKey[],
    readonly currentId: string,
  ) {
    if (!keys.some((k) => k.id === currentId)) throw new Error(`key ring has no key ${currentId}`);
  }

  get current(): RingKey {
    return this.keys.find((k) => k.id === this.currentId)!;
  }

  /** The keys other than the current one, oldest first. */
  get older(): RingKey[] {
    return this.keys.filter((k) => k.id !== this.currentId);
  }

  /** This ring with a new key (random by default) made current; the older keys stay to open older values. */
  rotated(key: RingKey = newRingKey()): KeyRing {
    if (this.keys.some((k) => k.id === key.id)) throw new Error(`key ring has key ${key.id} already`);
    return new KeyRing([...this.keys, key], key.id);
  }

  seal(purpose: string, data: Buffer | string): string {
    const key = this.current;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', derive(key, purpose), nonce);
    cipher.setAAD(Buffer.from(`lifeboat/${purpose}`));
    const body = Buffer.concat([nonce, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
    return `lb1:${key.id}:${body.toString('base64url')}`;
  }

  open(purpose: string, sealed: string): Buffer {
    const [format, id, b64] = sealed.split(':');
    const key = this.keys.find((k) => k.id === id);
    const body = Buffer.from(b64 ?? '', 'base64url');
    if (format !== 'lb1' || !key || body.length < 28) {
      throw new ApplianceError(
        'SECRET_MISMATCH',
        `a sealed value (key ${id ?? '?'}) was sealed by a key this appliance does not have: restore the older keys (server init --older-keys-from) or enter that secret again`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', derive(key, purpose), body.subarray(0, 12));
      decipher.setAAD(Buffer.from(`lifeboat/${purpose}`));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]);
    } catch (err) {
      throw new ApplianceError(
        'SECRET_MISMATCH',
        `a sealed value (key ${id}) failed authentication: damaged, or sealed for something else`,
        {
          cause: err,
        },
      );
    }
  }
}

function derive(key: RingKey, purpose: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', key.secret, Buffer.from(key.id), `lifeboat/appliance/v1/${purpose}`, 32),
  );
}

/** The purpose under which the current key seals an older key of the ring (bound to that key's id). */
const olderPurpose = (id: string) => `appliance-key/${id}`;

/** The current key wrapped by a KMS key: only this ciphertext is on disk, KMS decrypts it at start. */
export interface KmsWrappedSecret {
  /** The KMS key's ARN (as KMS answered). */
  keyId: string;
  /** base64 of the KMS ciphertext blob. */
  ciphertextBlob: string;
  encryptionContext: Record<string, string>;
}

/** KMS, as the appliance needs it; the CLI gives one backed by the AWS SDK (@lifeboat/aws). */
export interface SecretKms {
  wrap(
    keyId: string,
    secret: Buffer,
    encryptionContext: Record<string, string>,
  ): Promise<{ keyId: string; ciphertextBlob: string }>;
  unwrap(wrapped: KmsWrappedSecret): Promise<Buffer>;
}

let defaultKms: SecretKms | undefined;

/** The KMS used for KMS-wrapped secrets when none is passed (the CLI sets it before opening an appliance). */
export function setSecretKms(kms: SecretKms | undefined): void {
  defaultKms = kms;
}

/**
 * DATA/secret.json, format 2. The current key is stored plain (`secret`, base64) or only as KMS ciphertext
 * (`kms`); every older key of the ring is stored sealed by the current key, so the current key alone (its recovery
 * phrase, or KMS) opens the whole ring. Format 1 (every key plain, ids k1, k2…) is still read.
 */
interface SecretFileV2 {
  format: 2;
  current: { id: string; createdAt: string; secret?: string; kms?: KmsWrappedSecret };
  older: Array<{ id: string; createdAt: string; sealed: string }>;
}

interface SecretFileV1 {
  format: 1;
  current: string;
  keys: Array<{ id: string; createdAt: string; secret: string }>;
}

/** How the current key is kept on disk. */
export type SecretProtection = { kind: 'plain' } | { kind: 'kms'; keyId: string };

export interface LoadedKeyRing {
  ring: KeyRing;
  protection: SecretProtection;
}

const kmsContext = (id: string) => ({ 'lifeboat:appliance-secret': id });

/** The text of a secret file for this ring: current key plain, or wrapped by KMS when `kms` is given. */
export async function encodeSecretFile(
  ring: KeyRing,
  kms?: { keyId: string; kms?: SecretKms },
): Promise<string> {
  const cur = ring.current;
  const current: SecretFileV2['current'] = { id: cur.id, createdAt: cur.createdAt };
  if (kms) {
    const client = kms.kms ?? defaultKms;
    if (!client) throw new Error('no KMS client configured');
    const encryptionContext = kmsContext(cur.id);
    const wrapped = await client.wrap(kms.keyId, cur.secret, encryptionContext);
    current.kms = { keyId: wrapped.keyId, ciphertextBlob: wrapped.ciphertextBlob, encryptionContext };
  } else {
    current.secret = cur.secret.toString('base64');
  }
  const body: SecretFileV2 = {
    format: 2,
    current,
    older: ring.older.map((k) => ({
      id: k.id,
      createdAt: k.createdAt,
      sealed: ring.seal(olderPurpose(k.id), k.secret),
    })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** The parsed file, before any key is opened; SECRET_DAMAGED when it is not a secret file. */
export function parseSecretFile(text: string, where: string): SecretFileV1 | SecretFileV2 {
  try {
    const parsed = JSON.parse(text) as SecretFileV1 | SecretFileV2;
    if (parsed.format === 1) {
      if (!Array.isArray(parsed.keys) || typeof parsed.current !== 'string') throw new Error('no keys');
      return parsed;
    }
    if (parsed.format === 2) {
      const c = parsed.current;
      if (!c || typeof c.id !== 'string' || (typeof c.secret !== 'string' && !c.kms)) {
        throw new Error('no current key');
      }
      if (!Array.isArray(parsed.older)) throw new Error('no older keys');
      return parsed;
    }
    throw new Error(`format ${(parsed as { format?: unknown }).format}`);
  } catch (err) {
    throw damaged(where, err);
  }
}

function damaged(where: string, err: unknown): ApplianceError {
  return new ApplianceError(
    'SECRET_DAMAGED',
    `${where} is damaged (${(err as Error).message}): restore the secret with \`lifeboat server init --from-recovery-phrase-file\``,
    { cause: err },
  );
}

/**
 * Opens a secret file's ring. `root` is the current key's secret when the caller has it (a recovery phrase);
 * else it is read from the file (plain) or unwrapped by KMS.
 */
export async function decodeSecretFile(
  text: string,
  where: string,
  options: { root?: Buffer; kms?: SecretKms } = {},
): Promise<LoadedKeyRing> {
  const parsed = parseSecretFile(text, where);
  if (parsed.format === 1) {
    try {
      const keys = parsed.keys.map((k) => ({
        id: k.id,
        createdAt: k.createdAt,
        secret: Buffer.from(k.secret, 'base64'),
      }));
      if (keys.some((k) => k.secret.length !== 32)) throw new Error('a key is not 32 bytes');
      return { ring: new KeyRing(keys, parsed.current), protection: { kind: 'plain' } };
    } catch (err) {
      throw damaged(where, err);
    }
  }
  const c = parsed.current;
  let root = options.root;
  let protection: SecretProtection = { kind: 'plain' };
  if (c.kms) protection = { kind: 'kms', keyId: c.kms.keyId };
  if (!root) {
    if (c.secret !== undefined) root = Buffer.from(c.secret, 'base64');
    else {
      const kms = options.kms ?? defaultKms;
      if (!kms) {
        throw new ApplianceError(
          'DATA_DIR_UNUSABLE',
          `${where} is wrapped by KMS key ${c.kms!.keyId} and no KMS client is configured`,
        );
      }
      try {
        root = await kms.unwrap(c.kms!);
      } catch (err) {
        throw new ApplianceError(
          'DATA_DIR_UNUSABLE',
          `KMS refused to unwrap the appliance secret in ${where} (${c.kms!.keyId}): ${oneLine(err)}`,
          { cause: err },
        );
      }
    }
  }
  if (root.length !== 32 || keyIdOf(root) !== c.id) {
    if (options.root) {
      throw new ApplianceError(
        'SECRET_MISMATCH',
        `the recovery phrase is for key ${keyIdOf(root)}, not for key ${c.id}, the current key of ${where}`,
      );
    }
    throw damaged(where, new Error(`its key does not match its id ${c.id}`));
  }
  const current = newRingKey(root, c.createdAt);
  const holder = new KeyRing([current], current.id);
  const older: RingKey[] = [];
  try {
    for (const k of parsed.older) {
      const secret = holder.open(olderPurpose(k.id), k.sealed);
      if (secret.length !== 32) throw new Error(`older key ${k.id} is not 32 bytes`);
      older.push({ id: k.id, createdAt: k.createdAt, secret });
    }
  } catch (err) {
    throw damaged(where, err);
  }
  return { ring: new KeyRing([...older, current], current.id), protection };
}

function oneLine(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`.replace(/\s*\n\s*/g, ' ');
}

/** DATA/secret.json's text, or undefined when there is none. */
export async function readSecretFileText(dataDir: string): Promise<string | undefined> {
  const file = join(dataDir, SECRET_FILE);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ApplianceError('DATA_DIR_UNUSABLE', `cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** DATA's ring (KMS-unwrapped when so kept); NOT_FOUND when the folder has no secret yet. */
export async function readKeyRing(
  dataDir: string,
  options: { kms?: SecretKms } = {},
): Promise<LoadedKeyRing> {
  const text = await readSecretFileText(dataDir);
  if (text === undefined) {
    throw new ApplianceError(
      'NOT_FOUND',
      `${dataDir} has no appliance secret yet: make it with \`lifeboat server init --data ${dataDir}\``,
    );
  }
  return decodeSecretFile(text, join(dataDir, SECRET_FILE), options);
}

/** Reads DATA/secret.json; creates it (a new random secret, kept plain) when there is none. */
export async function loadOrCreateKeyRing(
  dataDir: string,
  options: { kms?: SecretKms } = {},
): Promise<{ ring: KeyRing; created: boolean }> {
  const text = await readSecretFileText(dataDir);
  if (text === undefined) {
    const key = newRingKey();
    const ring = new KeyRing([key], key.id);
    await writeSecretFileText(dataDir, await encodeSecretFile(ring), { exclusive: true });
    return { ring, created: true };
  }
  const { ring } = await decodeSecretFile(text, join(dataDir, SECRET_FILE), options);
  return { ring, created: false };
}

/** Writes the ring atomically, mode 0600 from creation; current key plain unless `kms` wraps it. */
export async function writeKeyRing(
  dataDir: string,
  ring: KeyRing,
  kms?: { keyId: string; kms?: SecretKms },
): Promise<void> {
  await writeSecretFileText(dataDir, await encodeSecretFile(ring, kms));
}

/**
 * Writes DATA/secret.json atomically (a 0600 temp file, synced, renamed). `exclusive`: refuse (CONFLICT) when
 * the folder has a secret already.
 */
export async function writeSecretFileText(
  dataDir: string,
  text: string,
  options: { exclusive?: boolean } = {},
): Promise<void> {
  const file = join(dataDir, SECRET_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  await unlink(temp).catch(() => {}); // a leftover of a crash: open() would keep its mode
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (options.exclusive && (await readSecretFileText(dataDir)) !== undefined) {
    await unlink(temp).catch(() => {});
    throw new ApplianceError('CONFLICT', `${dataDir} has an appliance secret already`);
  }
  await rename(temp, file);
}
