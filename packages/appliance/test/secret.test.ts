import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRecoveryKey, parseRecoveryKey } from '@lifeboat/repository';
import { afterAll, describe, expect, it } from 'vitest';
import { Appliance } from '../src/appliance.js';
import {
  decodeSecretFile,
  KeyRing,
  keyIdOf,
  loadOrCreateKeyRing,
  newRingKey,
  readKeyRing,
  writeKeyRing,
} from '../src/secret.js';
import { initSecret, rotateKeyRing } from '../src/secret-admin.js';
import { recoveryPhraseOf } from '../src/secret-phrase.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-secret-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function folder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe("the appliance's secret", () => {
  it('is made once, 0600, and read back the same; its key id is derived from the key', async () => {
    const dir = folder('a');
    const first = await loadOrCreateKeyRing(dir);
    expect(first.created).toBe(true);
    expect(statSync(join(dir, 'secret.json')).mode & 0o777).toBe(0o600);
    expect(first.ring.currentId).toBe(keyIdOf(first.ring.current.secret));
    expect(first.ring.currentId).toMatch(/^[0-9a-f]{8}$/);
    const again = await loadOrCreateKeyRing(dir);
    expect(again.created).toBe(false);
    expect(again.ring.currentId).toBe(first.ring.currentId);
    const sealed = first.ring.seal('account-credentials', 'AKIA secret');
    expect(sealed.startsWith(`lb1:${first.ring.currentId}:`)).toBe(true);
    expect(again.ring.open('account-credentials', sealed).toString()).toBe('AKIA secret');
  });

  it('binds each value to its purpose and refuses tampering, with SECRET_MISMATCH', async () => {
    const { ring } = await loadOrCreateKeyRing(join(work, 'a'));
    const sealed = ring.seal('account-credentials', 'x');
    expect(() => ring.open('snapshot-tags', sealed)).toThrow(
      expect.objectContaining({ code: 'SECRET_MISMATCH' }),
    );
    const body = Buffer.from(sealed.split(':')[2]!, 'base64url');
    body[14]! ^= 1;
    const tampered = `lb1:${ring.currentId}:${body.toString('base64url')}`;
    expect(() => ring.open('account-credentials', tampered)).toThrow(/failed authentication/);
    expect(() => ring.open('account-credentials', 'lb1:k9:AAAA')).toThrow(
      /sealed by a key this appliance does not have/,
    );
  });

  it('keeps what older keys sealed readable after a rotation; older keys are on disk only sealed', async () => {
    const dir = folder('rotate');
    const { ring } = await loadOrCreateKeyRing(dir);
    const old = ring.seal('p', 'sealed by the first key');
    const { ring: rotated, previousId } = await rotateKeyRing(dir);
    expect(previousId).toBe(ring.currentId);
    expect(rotated.currentId).not.toBe(ring.currentId);
    const file = JSON.parse(readFileSync(join(dir, 'secret.json'), 'utf8'));
    expect(file.format).toBe(2);
    expect(file.current.id).toBe(rotated.currentId);
    expect(file.older).toHaveLength(1);
    expect(JSON.stringify(file)).not.toContain(ring.current.secret.toString('base64'));
    const { ring: reread } = await loadOrCreateKeyRing(dir);
    expect(reread.keys.map((k) => k.id)).toEqual([ring.currentId, rotated.currentId]);
    expect(reread.open('p', old).toString()).toBe('sealed by the first key');
    expect(reread.seal('p', 'new').startsWith(`lb1:${rotated.currentId}:`)).toBe(true);
    // and once more: both older keys stay
    const { ring: third } = await rotateKeyRing(dir);
    expect(third.keys).toHaveLength(3);
    expect((await readKeyRing(dir)).ring.open('p', old).toString()).toBe('sealed by the first key');
  });

  it('still reads a format 1 file (every key plain, ids k1, k2)', async () => {
    const dir = folder('v1');
    const k1 = Buffer.alloc(32, 1);
    writeFileSync(
      join(dir, 'secret.json'),
      JSON.stringify({
        format: 1,
        current: 'k1',
        keys: [{ id: 'k1', createdAt: '2026-01-01T00:00:00Z', secret: k1.toString('base64') }],
      }),
    );
    const legacy = new KeyRing([{ id: 'k1', createdAt: '', secret: k1 }], 'k1');
    const sealed = legacy.seal('p', 'old');
    const { ring } = await loadOrCreateKeyRing(dir);
    expect(ring.open('p', sealed).toString()).toBe('old');
    const { ring: rotated } = await rotateKeyRing(dir);
    expect((await readKeyRing(dir)).ring.open('p', sealed).toString()).toBe('old');
    expect(rotated.older.map((k) => k.id)).toEqual(['k1']);
  });

  it('a damaged secret file is a clear error, never a new secret', async () => {
    const dir = folder('b');
    writeFileSync(
      join(dir, 'secret.json'),
      '{"format":1,"current":"k1","keys":[{"id":"k1","secret":"short"}]}',
    );
    await expect(loadOrCreateKeyRing(dir)).rejects.toMatchObject({ code: 'SECRET_DAMAGED' });
    writeFileSync(join(dir, 'secret.json'), '{"format":2,"current":{"id":"00000000","secret":"');
    await expect(loadOrCreateKeyRing(dir)).rejects.toMatchObject({ code: 'SECRET_DAMAGED' });
    const { ring } = await loadOrCreateKeyRing(folder('c'));
    writeFileSync(
      join(dir, 'secret.json'),
      JSON.stringify({
        format: 2,
        current: { id: 'ffffffff', secret: ring.current.secret.toString('base64') },
        older: [],
      }),
    );
    await expect(loadOrCreateKeyRing(dir)).rejects.toMatchObject({
      code: 'SECRET_DAMAGED',
      message: expect.stringMatching(/does not match its id/),
    });
    expect(readFileSync(join(dir, 'secret.json'), 'utf8')).toContain('ffffffff');
  });
});

describe('the recovery phrase', () => {
  it("is the repository's recovery key format, parsed back by parseRecoveryKey", () => {
    const key = newRingKey();
    const phrase = recoveryPhraseOf(key.secret);
    expect(phrase).toMatch(/^LB1-([A-Z2-9]{4}-){12}[A-Z2-9]{4}$/);
    expect(parseRecoveryKey(phrase).equals(key.secret)).toBe(true);
    const repo = newRecoveryKey();
    expect(recoveryPhraseOf(repo.key)).toBe(repo.text);
  });

  it('restores a key with the same id, which opens what the original sealed', async () => {
    const dir = folder('orig');
    const { ring } = await loadOrCreateKeyRing(dir);
    const sealed = ring.seal('account-credentials', 'kept');
    const root = parseRecoveryKey(recoveryPhraseOf(ring.current.secret));
    const restoredDir = folder('restored');
    const made = await initSecret(restoredDir, { root });
    expect(made.restored).toBe(true);
    expect(made.ring.currentId).toBe(ring.currentId);
    const { ring: opened } = await readKeyRing(restoredDir);
    expect(opened.open('account-credentials', sealed).toString()).toBe('kept');
  });

  it('the newest phrase and a copy of the secret file recover the older keys; the phrase alone only its own', async () => {
    const dir = folder('rotated-orig');
    const { ring: first } = await loadOrCreateKeyRing(dir);
    const old = first.seal('p', 'sealed before the rotation');
    const { ring } = await rotateKeyRing(dir);
    const recent = ring.seal('p', 'sealed after');
    const copy = readFileSync(join(dir, 'secret.json'), 'utf8');
    const phrase = recoveryPhraseOf(ring.current.secret);

    const alone = await initSecret(folder('r1'), { root: parseRecoveryKey(phrase) });
    expect(alone.ring.open('p', recent).toString()).toBe('sealed after');
    expect(() => alone.ring.open('p', old)).toThrow(expect.objectContaining({ code: 'SECRET_MISMATCH' }));

    const both = await initSecret(folder('r2'), {
      root: parseRecoveryKey(phrase),
      olderFrom: { text: copy, where: 'copy' },
    });
    expect(both.ring.keys.map((k) => k.id)).toEqual(ring.keys.map((k) => k.id));
    const { ring: reread } = await readKeyRing(join(work, 'r2'));
    expect(reread.open('p', old).toString()).toBe('sealed before the rotation');
    expect(reread.open('p', recent).toString()).toBe('sealed after');

    // the older phrase is not the current key of that copy
    await expect(
      initSecret(folder('r3'), {
        root: first.current.secret,
        olderFrom: { text: copy, where: 'copy' },
      }),
    ).rejects.toMatchObject({ code: 'SECRET_MISMATCH' });
    // the older phrase alone still opens what its key sealed
    const older = await initSecret(folder('r4'), { root: first.current.secret });
    expect(older.ring.open('p', old).toString()).toBe('sealed before the rotation');
  });

  it('init never replaces a secret (CONFLICT)', async () => {
    const dir = folder('twice');
    const { ring } = await initSecret(dir);
    await expect(initSecret(dir)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await readKeyRing(dir)).ring.currentId).toBe(ring.currentId);
  });

  it('Appliance.open sets secrets from the restored file and does not make a new one', async () => {
    const dir = folder('appliance');
    const { ring } = await initSecret(dir, { root: Buffer.alloc(32, 9) });
    const appliance = await Appliance.open({ dataDir: dir });
    try {
      expect(appliance.secretCreated).toBe(false);
      expect(appliance.secrets.open('p', ring.seal('p', 'x')).toString()).toBe('x');
    } finally {
      await appliance.close();
    }
    const fresh = await Appliance.open({ dataDir: folder('fresh') });
    try {
      expect(fresh.secretCreated).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('decodeSecretFile refuses a phrase of another key', async () => {
    const { ring } = await loadOrCreateKeyRing(folder('other'));
    const text = readFileSync(join(work, 'other', 'secret.json'), 'utf8');
    await expect(decodeSecretFile(text, 'x', { root: Buffer.alloc(32, 3) })).rejects.toMatchObject({
      code: 'SECRET_MISMATCH',
    });
    expect(ring.keys).toHaveLength(1);
    await writeKeyRing(folder('w'), ring);
    expect((await readKeyRing(join(work, 'w'))).ring.currentId).toBe(ring.currentId);
  });
});
