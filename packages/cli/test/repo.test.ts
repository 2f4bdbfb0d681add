/**
 * `lifeboat repo init`, passwords and key slots, usage errors and refusals (issue 3, "Operations and CLI").
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectOneLineError,
  lifeboat,
  type PointJson,
  Repo,
  removeDir,
  repoFiles,
  type SlotJson,
  tempDir,
} from './helpers.js';

let dir: string;
let a: Repo; // created with human output
let b: Repo; // created with --json; its passwords are changed below
let recoveryKey = '';

beforeAll(() => {
  dir = tempDir('repo');
  a = new Repo(join(dir, 'a'), 'password-a');
  b = new Repo(join(dir, 'b'), 'first-password');
});

afterAll(() => removeDir(dir));

describe('repo init', () => {
  it('creates a repository and says where (human output)', async () => {
    const r = await a.ok(['repo', 'init']);
    expect(r.stdout).toMatch(new RegExp(`created repository [0-9a-f]{32} at ${a.path}`));
    const config = JSON.parse(readFileSync(join(a.path, 'config'), 'utf8'));
    expect(config.version).toBe(1);
    expect(r.stdout).toContain(config.id);
    expect(r.stdout).toMatch(/Recovery key .*\n\s+LB1-[A-Z0-9]{4}(-[A-Z0-9]{4}){12}\n/);
    expect(readdirSync(join(a.path, 'keys'))).toHaveLength(2); // the password and the recovery key
  });

  it('creates a repository (--json: id, location, key slot)', async () => {
    const j = await b.json<{ id: string; location: string; keySlot: string; recoveryKey: string }>([
      'repo',
      'init',
    ]);
    expect(j.id).toMatch(/^[0-9a-f]{32}$/);
    expect(j.location).toBe(b.path);
    expect(readdirSync(join(b.path, 'keys'))).toContain(j.keySlot);
    expect(readdirSync(join(b.path, 'keys'))).toHaveLength(2);
    recoveryKey = j.recoveryKey;
    // the recovery key opens the repository on its own, and is not stored in it
    await b.ok(['points'], { LIFEBOAT_PASSWORD: undefined, LIFEBOAT_RECOVERY_KEY: recoveryKey });
    for (const f of readdirSync(join(b.path, 'keys'))) {
      expect(readFileSync(join(b.path, 'keys', f), 'utf8')).not.toContain(recoveryKey.slice(4, 20));
    }
    const config = JSON.parse(readFileSync(join(b.path, 'config'), 'utf8'));
    expect(config.id).toBe(j.id);
  });

  it('refuses to init twice, with a clear error, and leaves the repository as it was', async () => {
    const before = repoFiles(a.path);
    const runs = await Promise.all([
      a.run(['repo', 'init'], { LIFEBOAT_PASSWORD: 'another password' }),
      a.run(['--json', 'repo', 'init'], { LIFEBOAT_PASSWORD: 'another password' }),
    ]);
    for (const r of runs) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/already exists/);
      expectOneLineError(r.stderr);
      expect(r.stdout).toBe('');
    }
    expect(repoFiles(a.path)).toEqual(before);
  });

  it('an empty repository has no restore points', async () => {
    const [points, check] = await Promise.all([a.json<PointJson[]>(['points']), a.ok(['repo', 'check'])]);
    expect(points).toEqual([]);
    expect(check.stdout).toMatch(/no errors found/);
  });
});

describe('passwords and key slots', () => {
  it('a wrong password exits 4 with a message', async () => {
    const r = await b.run(['points'], { LIFEBOAT_PASSWORD: 'wrong password' });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/password does not open/);
    expectOneLineError(r.stderr);
  });

  it('--password-file works (first line), and is preferred to LIFEBOAT_PASSWORD', async () => {
    const file = join(dir, 'pw-b');
    writeFileSync(file, `${b.password}\nsecond line is ignored\n`);
    const r = await b.run(['--password-file', file, 'points'], { LIFEBOAT_PASSWORD: undefined });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no restore points/);
    const both = await b.run(['--password-file', file, 'points'], { LIFEBOAT_PASSWORD: 'wrong' });
    expect(both.code).toBe(0);
  });

  it('an empty or missing password file is a usage error', async () => {
    const empty = join(dir, 'pw-empty');
    writeFileSync(empty, '');
    const r1 = await b.run(['--password-file', empty, 'points'], { LIFEBOAT_PASSWORD: undefined });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/empty/);
    const r2 = await b.run(['--password-file', join(dir, 'nope'), 'points'], {
      LIFEBOAT_PASSWORD: undefined,
    });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/cannot read the password file/);
    expectOneLineError(r2.stderr);
  });

  it('no password and no terminal: a clear error, exit 2', async () => {
    const r = await b.run(['points'], { LIFEBOAT_PASSWORD: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no password/);
    expect(r.stderr).toMatch(/LIFEBOAT_PASSWORD/);
    expectOneLineError(r.stderr);
    const init = await lifeboat(['repo', 'init'], { env: { LIFEBOAT_REPO: join(dir, 'c') } });
    expect(init.code).toBe(2);
    expect(init.stderr).toMatch(/no password/);
    expect(repoFiles(join(dir, 'c')).size).toBe(0);
  });

  it('repo passwd --add: then both passwords open', async () => {
    const r = await b.ok(['repo', 'passwd', '--add', '--label', 'second'], {
      LIFEBOAT_NEW_PASSWORD: 'second-password',
    });
    expect(r.stdout).toMatch(/added key slot \S+/);
    expect(readdirSync(join(b.path, 'keys'))).toHaveLength(3);
    await Promise.all([b.ok(['points']), b.ok(['points'], { LIFEBOAT_PASSWORD: 'second-password' })]);
  });

  it('repo passwd --list --json lists the slots and marks the one that opened', async () => {
    const slots = await b.json<SlotJson[]>(['repo', 'passwd', '--list'], {
      LIFEBOAT_PASSWORD: 'second-password',
    });
    expect(slots).toHaveLength(3);
    expect(slots.map((s) => s.id).sort()).toEqual(readdirSync(join(b.path, 'keys')).sort());
    expect(slots.map((s) => s.kind).sort()).toEqual(['password', 'password', 'recovery']);
    const current = slots.filter((s) => s.current);
    expect(current).toHaveLength(1);
    expect(current[0]?.label).toBe('second');
  });

  it('repo passwd without a new password and no terminal changes nothing', async () => {
    const before = readdirSync(join(b.path, 'keys')).sort();
    const r = await b.run(['repo', 'passwd'], { LIFEBOAT_NEW_PASSWORD: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/LIFEBOAT_NEW_PASSWORD/);
    expect(readdirSync(join(b.path, 'keys')).sort()).toEqual(before);
  });

  it('repo passwd (change): the old password no longer opens, the new one does, other slots stay', async () => {
    const j = await b.json<{ added: string; removed: string }>(['repo', 'passwd'], {
      LIFEBOAT_PASSWORD: 'second-password',
      LIFEBOAT_NEW_PASSWORD: 'third-password',
    });
    expect(j.added).toBeTruthy();
    expect(j.removed).toBeTruthy();
    expect(j.added).not.toBe(j.removed);
    const keys = readdirSync(join(b.path, 'keys'));
    expect(keys).toHaveLength(3);
    expect(keys).toContain(j.added);
    expect(keys).not.toContain(j.removed);
    const [old] = await Promise.all([
      b.run(['points'], { LIFEBOAT_PASSWORD: 'second-password' }),
      b.ok(['points'], { LIFEBOAT_PASSWORD: 'third-password' }),
      b.ok(['points'], { LIFEBOAT_PASSWORD: b.password }),
    ]);
    expect(old.code).toBe(4);
  });

  it('repo passwd --remove removes a slot, and refuses to remove the last one', async () => {
    const slots = await b.json<SlotJson[]>(['repo', 'passwd', '--list']); // opened with the first password
    const first = slots.find((s) => s.current)!.id;
    const other = slots.find((s) => !s.current && s.kind === 'password')!.id;
    const recovery = slots.find((s) => s.kind === 'recovery')!.id;
    const rm = await b.ok(['repo', 'passwd', '--remove', first], { LIFEBOAT_PASSWORD: 'third-password' });
    expect(rm.stdout).toContain(first);

    const [removed, last, unknown] = await Promise.all([
      b.run(['points']),
      b.run(['repo', 'passwd', '--remove', other], { LIFEBOAT_PASSWORD: 'third-password' }),
      b.run(['repo', 'passwd', '--remove', 'no-such-slot'], { LIFEBOAT_PASSWORD: 'third-password' }),
    ]);
    expect(removed.code).toBe(4);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toMatch(/last/);
    expectOneLineError(last.stderr);
    expect(readdirSync(join(b.path, 'keys')).sort()).toEqual([other, recovery].sort());
    // the recovery key still opens after every other password changed
    await b.ok(['points'], { LIFEBOAT_PASSWORD: undefined, LIFEBOAT_RECOVERY_KEY: recoveryKey });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no key slot no-such-slot/);
  });

  it('--add, --remove and --list are exclusive', async () => {
    const r = await b.run(['repo', 'passwd', '--add', '--list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/choose one/);
  });
});

describe('usage errors and refusals', () => {
  const env = () => a.env();

  it('--version and --help exit 0', async () => {
    const v = await lifeboat(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = await lifeboat(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/image/);
  });

  it('an unknown option or command exits 2', async () => {
    const r1 = await lifeboat(['image', 'backup', '--no-such-option', 'x.img'], { env: env() });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/unknown option/);
    const r2 = await lifeboat(['frobnicate'], { env: env() });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/unknown command/);
    const r3 = await lifeboat(['repo', 'check', '--fast'], { env: env() });
    expect(r3.code).toBe(2);
  });

  it('missing arguments exit 2', async () => {
    for (const args of [
      ['image', 'restore'],
      ['image', 'restore', 'latest'],
      ['image', 'cat'],
      ['image', 'backup'],
      ['image', 'cat', 'latest', '--offset'],
    ]) {
      const r = await lifeboat(args, { env: env() });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/missing|argument|nothing to back up/);
    }
  });

  it('no --repo and no LIFEBOAT_REPO exits 2', async () => {
    const r = await lifeboat(['points'], { env: { LIFEBOAT_PASSWORD: 'x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no repository/);
    expect(r.stderr).toMatch(/--repo/);
    expectOneLineError(r.stderr);
  });

  it('--repo wins over LIFEBOAT_REPO', async () => {
    const r = await lifeboat(['--repo', a.path, 'points'], {
      env: { LIFEBOAT_REPO: join(dir, 'nothing-here'), LIFEBOAT_PASSWORD: a.password },
    });
    expect(r.code).toBe(0);
  });

  it('a location without a repository exits 5 and says to run repo init', async () => {
    for (const where of [dir, join(dir, 'does-not-exist')]) {
      for (const args of [
        ['points'],
        ['repo', 'check'],
        ['image', 'restore', 'latest', join(dir, 'x.img')],
      ]) {
        const r = await lifeboat(args, { env: { LIFEBOAT_REPO: where, LIFEBOAT_PASSWORD: 'x' } });
        expect(r.code, `${args.join(' ')} in ${where}`).toBe(5);
        expect(r.stderr).toMatch(/repo init/);
        expectOneLineError(r.stderr);
      }
    }
  });

  it('a repository of an unknown format version is refused, naming the version', async () => {
    const v2 = a.copy(join(dir, 'a-v2'));
    const configPath = join(v2.path, 'config');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    config.version = 2;
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const runs = await Promise.all([v2.run(['points']), v2.run(['image', 'backup', configPath])]);
    for (const r of runs) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/version 2/);
      expectOneLineError(r.stderr);
    }
    expect(repoFiles(join(v2.path, 'meta')).size).toBe(0); // the backup wrote nothing
  });

  it('malformed S3 locations and unknown schemes are refused with exit 2', async () => {
    for (const location of ['s3:Bad_Bucket/prefix', 's3:', 'ftp://host/repo']) {
      const r = await lifeboat(['points'], { env: { LIFEBOAT_REPO: location, LIFEBOAT_PASSWORD: 'x' } });
      expect(r.code, location).toBe(2);
      expect(r.stderr).toMatch(/s3:BUCKET\/PREFIX/);
      expectOneLineError(r.stderr);
    }
  });
});
