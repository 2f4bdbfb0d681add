import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLock, processStart } from '../src/lock.js';
import { PasswordHasher } from '../src/passwords.js';
import { LoginThrottle } from '../src/throttle.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-appliance-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('LoginThrottle', () => {
  const limits = { perUserAndAddress: 3, perAddress: 5, windowMs: 60_000 };

  it('refuses a user and address after the limit, for what remains of the window, with the wait in seconds', () => {
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 3; i++) {
      expect(() => t.check('alice', '10.0.0.1', 1000 + i)).not.toThrow();
      t.fail('alice', '10.0.0.1', 1000 + i);
    }
    expect(() => t.check('alice', '10.0.0.1', 2000)).toThrow(/try again in 59 s/);
    expect(() => t.check('alice', '10.0.0.2', 2000)).not.toThrow(); // another address
    expect(() => t.check('alice', '10.0.0.1', 61_001)).not.toThrow(); // the oldest failure left the window
  });

  it('counts every user from one address, and a success clears only its own user', () => {
    const t = new LoginThrottle(limits);
    for (const user of ['a', 'b', 'c', 'd', 'e']) t.fail(user, '10.0.0.9', 5000);
    expect(() => t.check('f', '10.0.0.9', 5001)).toThrow(/too many failed logins/);
    t.succeed('a', '10.0.0.9');
    expect(() => t.check('f', '10.0.0.9', 5002)).toThrow(/too many failed logins/);
  });
});

describe('PasswordHasher', () => {
  it('verifies what it hashed and nothing else, and reads no foreign or malformed hash as valid', async () => {
    const h = new PasswordHasher();
    const stored = await h.hash('correct horse');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await h.verify('correct horse', stored)).toBe(true);
    expect(await h.verify('correct horsE', stored)).toBe(false);
    expect(await h.verify('correct horse', 'bcrypt$whatever')).toBe(false);
    expect(await h.verify('correct horse', stored.slice(0, -4))).toBe(false);
  });

  it('refuses short passwords', async () => {
    await expect(new PasswordHasher().hash('short')).rejects.toThrow(/at least 8/);
  });

  it('runs at most `concurrency` hashes at once and refuses beyond the queue with BUSY', async () => {
    const h = new PasswordHasher(1, 2);
    const stored = await h.hash('correct horse');
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => h.verify('correct horse', stored)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled' && r.value === true)).toHaveLength(3); // 1 running + 2 queued
    expect(refused).toHaveLength(2);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'BUSY' });
    expect(await h.verify('correct horse', stored)).toBe(true); // the slots were all given back
  });
});

describe('DataDirLock', () => {
  it('refuses a second owner while the first lives, and is free again after release', async () => {
    const path = join(work, 'a.lock');
    const first = await DataDirLock.acquire(path);
    await expect(DataDirLock.acquire(path)).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' });
    await first.release();
    const again = await DataDirLock.acquire(path);
    await again.release();
  });

  it('takes over a lock whose owner died (kill -9), and one whose pid now belongs to another process', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const path = join(work, 'b.lock');
    const since = new Date().toISOString();
    writeFileSync(path, JSON.stringify({ pid: Number(dead.stdout), start: '1', host: hostname(), since }));
    const taken = await DataDirLock.acquire(path);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await taken.release();
    // Our own pid, but another start time: the pid was reused by a process that is not the owner.
    writeFileSync(
      path,
      JSON.stringify({ pid: process.pid, start: `${processStart(process.pid)}9`, host: hostname(), since }),
    );
    const reused = await DataDirLock.acquire(path);
    await reused.release();
  });
});
