import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openBlob, sealBlob } from '../src/blob.js';
import { Codec } from '../src/compress.js';
import { createPasswordSlot, deriveMasterKey, openPasswordSlot } from '../src/crypto/keys.js';
import { idFromDigest, open, sealToBuffer, sha256 } from '../src/crypto/seal.js';
import { CHUNK_SIZE } from '../src/format.js';
import { TEST_KDF } from './helpers.js';

const key = deriveMasterKey(randomBytes(32), 'a'.repeat(32));
const codec = new Codec();

describe('seal and open', () => {
  it('round-trips and binds the context', () => {
    const sealed = sealToBuffer(key.metaKey, Buffer.from('ctx-1'), Buffer.from('hello'));
    expect(open(key.metaKey, Buffer.from('ctx-1'), sealed, 'x').toString()).toBe('hello');
    expect(() => open(key.metaKey, Buffer.from('ctx-2'), sealed, 'x')).toThrow(/failed authentication/);
  });

  it('detects every flipped bit position class: nonce, body, tag', () => {
    const sealed = sealToBuffer(key.metaKey, Buffer.from('c'), randomBytes(100));
    for (const pos of [0, 20, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[pos]! ^= 0x10;
      expect(() => open(key.metaKey, Buffer.from('c'), bad, 'obj')).toThrow(/obj failed authentication/);
    }
  });

  it('encrypts equal plaintexts differently (random nonce)', () => {
    const a = sealToBuffer(key.metaKey, Buffer.from('c'), Buffer.from('same'));
    const b = sealToBuffer(key.metaKey, Buffer.from('c'), Buffer.from('same'));
    expect(a.equals(b)).toBe(false);
  });
});

describe('blobs', () => {
  it('compress compressible chunks and store random ones raw, both round-trip with id verification', () => {
    const text = Buffer.alloc(CHUNK_SIZE, 'abc');
    const random = randomBytes(CHUNK_SIZE);
    for (const plain of [text, random]) {
      const id = idFromDigest(key.idKey, sha256(plain));
      const sealed = Buffer.concat(sealBlob(key, codec, id, plain));
      if (plain === text) expect(sealed.length).toBeLessThan(10_000);
      else expect(sealed.length).toBe(CHUNK_SIZE + 1 + 28);
      expect(openBlob(key, codec, id, sealed, CHUNK_SIZE, true, 'b').equals(plain)).toBe(true);
    }
  });

  it('refuses a blob under another id, and a wrong raw length', () => {
    const plain = randomBytes(1000);
    const id = idFromDigest(key.idKey, sha256(plain));
    const sealed = Buffer.concat(sealBlob(key, codec, id, plain));
    const other = idFromDigest(key.idKey, sha256(Buffer.from('other')));
    expect(() => openBlob(key, codec, other, sealed, 1000, true, 'b')).toThrow(/authentication/);
    expect(() => openBlob(key, codec, id, sealed, 999, true, 'b')).toThrow(/the index says 999/);
  });

  it('ids are keyed: another repository key gives other ids for the same data', () => {
    const other = deriveMasterKey(randomBytes(32), 'a'.repeat(32));
    const digest = sha256(Buffer.from('data'));
    expect(idFromDigest(key.idKey, digest).equals(idFromDigest(other.idKey, digest))).toBe(false);
    expect(idFromDigest(key.idKey, digest).equals(digest)).toBe(false);
  });
});

describe('password key slots', () => {
  it('open with the right password only', async () => {
    const secret = randomBytes(32);
    const slot = await createPasswordSlot('r'.repeat(32), secret, 'correct horse', { cost: TEST_KDF });
    expect((await openPasswordSlot('r'.repeat(32), slot, 'correct horse'))?.equals(secret)).toBe(true);
    expect(await openPasswordSlot('r'.repeat(32), slot, 'wrong')).toBeUndefined();
    // a slot copied into another repository does not open there
    expect(await openPasswordSlot('s'.repeat(32), slot, 'correct horse')).toBeUndefined();
    expect(JSON.stringify(slot)).not.toContain(secret.toString('base64'));
  });

  it('use strong scrypt parameters by default: two lanes of N=2^15, r=8, p=2 (the work of N=2^17, p=1)', async () => {
    const slot = await createPasswordSlot('r'.repeat(32), randomBytes(32), 'pw');
    expect(slot.kdf).toMatchObject({ name: 'scrypt', N: 32768, r: 8, p: 2, lanes: 2 });
    const { N, p, lanes } = slot.kdf as { N: number; p: number; lanes: number };
    expect(N * p * lanes).toBeGreaterThanOrEqual(2 ** 17); // repository-format.md: OWASP's minimum per guess
  });

  it('derive from every lane: a slot opens only with its own lane count, and unknown derivations are refused', async () => {
    const repo = 'r'.repeat(32);
    const secret = randomBytes(32);
    const laned = await createPasswordSlot(repo, secret, 'pw', { cost: { ...TEST_KDF, lanes: 3 } });
    expect(laned.kdf?.lanes).toBe(3);
    expect((await openPasswordSlot(repo, laned, 'pw'))?.equals(secret)).toBe(true);
    expect(await openPasswordSlot(repo, laned, 'pW')).toBeUndefined();
    for (const lanes of [undefined, 2, 4]) {
      const edited = { ...laned, kdf: { ...laned.kdf!, lanes } };
      expect(await openPasswordSlot(repo, edited, 'pw')).toBeUndefined();
    }
    // one lane writes no lanes field: the slot is what the first v1 builds wrote (the fixture has such slots)
    const single = await createPasswordSlot(repo, secret, 'pw', { cost: TEST_KDF });
    expect(single.kdf).not.toHaveProperty('lanes');
    const unknown = { ...laned, kdf: { ...laned.kdf!, name: 'argon2id' as 'scrypt' } };
    await expect(openPasswordSlot(repo, unknown, 'pw')).rejects.toMatchObject({ code: 'KEY_SLOT' });
    await expect(
      openPasswordSlot(repo, { ...laned, kdf: { ...laned.kdf!, lanes: 1000 } }, 'pw'),
    ).rejects.toThrow(/1000 lanes/);
  });
});
