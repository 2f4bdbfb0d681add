import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
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
  id: string;
  createdAt: string;
  /** 32 random bytes. */
  secret: Buffer;
}

export const SECRET_FILE = 'secret.json';

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
        `a sealed value (key ${id ?? '?'}) is not one this appliance can open`,
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

interface SecretFile {
  format: 1;
  current: string;
  keys: Array<{ id: string; createdAt: string; secret: string }>;
}

/** Reads DATA/secret.json; creates it (a new random secret) when there is none. */
export async function loadOrCreateKeyRing(dataDir: string): Promise<{ ring: KeyRing; created: boolean }> {
  const file = join(dataDir, SECRET_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ApplianceError('DATA_DIR_UNUSABLE', `cannot read ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const key: RingKey = { id: 'k1', createdAt: new Date().toISOString(), secret: randomBytes(32) };
    const ring = new KeyRing([key], key.id);
    await writeKeyRing(dataDir, ring);
    return { ring, created: true };
  }
  try {
    const parsed = JSON.parse(text) as SecretFile;
    if (parsed.format !== 1) throw new Error(`format ${parsed.format}`);
    const keys = parsed.keys.map((k) => ({
      id: k.id,
      createdAt: k.createdAt,
      secret: Buffer.from(k.secret, 'base64'),
    }));
    if (keys.some((k) => k.secret.length !== 32)) throw new Error('a key is not 32 bytes');
    return { ring: new KeyRing(keys, parsed.current), created: false };
  } catch (err) {
    throw new ApplianceError(
      'SECRET_DAMAGED',
      `${file} is damaged (${(err as Error).message}): restore it from the recovery phrase`,
      { cause: err },
    );
  }
}

/** Writes the ring atomically, mode 0600 from creation. */
export async function writeKeyRing(dataDir: string, ring: KeyRing): Promise<void> {
  const file = join(dataDir, SECRET_FILE);
  const body: SecretFile = {
    format: 1,
    current: ring.currentId,
    keys: ring.keys.map((k) => ({ id: k.id, createdAt: k.createdAt, secret: k.secret.toString('base64') })),
  };
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(body, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
}
