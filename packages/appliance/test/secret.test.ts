import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyRing, loadOrCreateKeyRing, writeKeyRing } from '../src/secret.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-secret-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the appliance's secret", () => {
  it('is made once, 0600, and read back the same', async () => {
    const dir = join(work, 'a');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    const first = await loadOrCreateKeyRing(dir);
    expect(first.created).toBe(true);
    expect(statSync(join(dir, 'secret.json')).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateKeyRing(dir);
    expect(again.created).toBe(false);
    const sealed = first.ring.seal('account-credentials', 'AKIA secret');
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
    const tampered = `lb1:k1:${body.toString('base64url')}`;
    expect(() => ring.open('account-credentials', tampered)).toThrow(/failed authentication/);
    expect(() => ring.open('account-credentials', 'lb1:k9:AAAA')).toThrow(/not one this appliance can open/);
  });

  it('keeps what older keys sealed readable after a new key becomes current', async () => {
    const dir = join(work, 'a');
    const { ring } = await loadOrCreateKeyRing(dir);
    const old = ring.seal('p', 'sealed by k1');
    const rotated = new KeyRing(
      [...ring.keys, { id: 'k2', createdAt: new Date().toISOString(), secret: Buffer.alloc(32, 7) }],
      'k2',
    );
    await writeKeyRing(dir, rotated);
    const { ring: reread } = await loadOrCreateKeyRing(dir);
    expect(reread.open('p', old).toString()).toBe('sealed by k1');
    expect(reread.seal('p', 'new').startsWith('lb1:k2:')).toBe(true);
  });

  it('a damaged secret file is a clear error, never a new secret', async () => {
    const dir = join(work, 'b');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'secret.json'),
      '{"format":1,"current":"k1","keys":[{"id":"k1","secret":"short"}]}',
    );
    await expect(loadOrCreateKeyRing(dir)).rejects.toMatchObject({ code: 'SECRET_DAMAGED' });
  });
});
