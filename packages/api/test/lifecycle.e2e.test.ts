/**
 * Issue 15, end to end: the appliance's process and its data folder. One appliance per data folder (a second is
 * refused, a killed one's lock is stale), SIGTERM stops it cleanly and ends event streams, backup-catalog copies a
 * catalog being written, the committed v1 catalog is migrated and served, and a port in use or a damaged catalog
 * is one line of error, never a stack trace.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  ApplianceProcess,
  EventStream,
  lifeboat,
  oneLineError,
  problemOf,
  ROOT,
  stopAll,
  tempDir,
} from './appliance-process.js';

afterAll(stopAll);

const FIXTURE = join(ROOT, 'packages/catalog/test/fixtures/catalog-v1.sqlite');

/** A password hash as the appliance writes it (scrypt N=2^15, r=8, p=1): the fixture's hashes are placeholders. */
function scryptHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFC'), salt, 32, {
    N: 2 ** 15,
    r: 8,
    p: 1,
    maxmem: 64 * 1024 * 1024,
  });
  return `scrypt$${2 ** 15}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

describe('one appliance per data folder', () => {
  it('a second lifeboat server on the same folder exits non-zero with one line naming the other; kill -9 leaves a stale lock that the next start takes over', async () => {
    const first = await ApplianceProcess.start();
    const second = await lifeboat(['server', '--data', first.data, '--listen', '127.0.0.1:0'], {
      LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    expect(second.code).not.toBe(0);
    const line = oneLineError(second.stderr);
    expect(line).toContain(`pid ${first.pid}`);
    expect(line).toContain(first.data);
    expect(line).toContain('DATA_DIR_LOCKED');
    expect(second.stdout).toBe('');
    // The first one still serves.
    const api = new Api(first.api);
    const admin = await api.login('admin', ADMIN_PASSWORD);
    await api.addUser(admin, 'survivor', 'viewer');

    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(existsSync(join(first.data, 'appliance.lock'))).toBe(true);
    const next = await ApplianceProcess.start({ data: first.data, adminPassword: null });
    const again = new Api(next.api);
    const token = await again.login('admin', ADMIN_PASSWORD);
    expect((await again.call('GET', '/users/survivor', { token })).status).toBe(200);
    expect(await next.stop()).toEqual({ code: 0, signal: null });
    expect(existsSync(join(first.data, 'appliance.lock'))).toBe(false);
  });

  it('SIGTERM exits 0, ends an open event stream, and frees the folder', async () => {
    const server = await ApplianceProcess.start();
    const api = new Api(server.api);
    const admin = await api.login('admin', ADMIN_PASSWORD);
    const stream = await EventStream.open(server.api, admin);
    expect(stream.status).toBe(200);
    await api.addUser(admin, 'before-stop', 'viewer');
    expect(await stream.until((ev) => ev.some((e) => e.data.includes('user/before-stop')))).toBe(true);
    const started = Date.now();
    const exit = await server.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await stream.end(5_000)).toBe(true);
    expect(server.stderr).not.toMatch(/\n\s+at |Error:/);
    expect(existsSync(join(server.data, 'appliance.lock'))).toBe(false);
    // Nothing answers any more.
    await expect(fetch(`${server.api}/health`)).rejects.toThrow();
  });
});

describe('lifeboat server backup-catalog', () => {
  it('copies the catalog while the appliance runs and writes; the copy opens and holds the users', async () => {
    const server = await ApplianceProcess.start();
    const api = new Api(server.api);
    const admin = await api.login('admin', ADMIN_PASSWORD);
    const copy = join(tempDir('backup'), 'copy.db');
    let writing = true;
    let created = 0;
    const writer = (async () => {
      while (writing) {
        await api.addUser(admin, `busy-${created}`, 'viewer', 'busy-password');
        created++;
      }
    })();
    while (created < 3) await new Promise((done) => setTimeout(done, 20));
    const before = created;
    const backup = await lifeboat(['server', 'backup-catalog', copy, '--data', server.data]);
    writing = false;
    await writer;
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toContain(copy);

    const db = new Database(copy, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const names = (
        db.prepare("select name from users where name like 'busy-%'").all() as Array<{ name: string }>
      ).map((r) => r.name);
      expect(names.length).toBeGreaterThanOrEqual(before);
      expect(names.length).toBeLessThanOrEqual(created);
      for (let i = 0; i < names.length; i++) expect(names).toContain(`busy-${i}`);
    } finally {
      db.close();
    }

    // The copy is a catalog an appliance starts on.
    const restored = join(tempDir('restored'), 'data');
    mkdirSync(restored);
    copyFileSync(copy, join(restored, 'catalog.db'));
    const second = await ApplianceProcess.start({ data: restored, adminPassword: null });
    const api2 = new Api(second.api);
    const token = await api2.login('admin', ADMIN_PASSWORD);
    expect((await api2.call('GET', '/users/busy-0', { token })).status).toBe(200);
    await api2.login('busy-0', 'busy-password');
    expect(await second.stop()).toEqual({ code: 0, signal: null });
    expect(await server.stop()).toEqual({ code: 0, signal: null });

    // The copy must be new: an existing file is refused, in one line.
    const clash = await lifeboat(['server', 'backup-catalog', copy, '--data', server.data]);
    expect(clash.code).not.toBe(0);
    oneLineError(clash.stderr);
  });
});

describe('the catalog of an older version', () => {
  it('the committed v1 fixture is migrated at start and its rows are served through the API', async () => {
    const data = join(tempDir('v1'), 'data');
    mkdirSync(data);
    const file = join(data, 'catalog.db');
    copyFileSync(FIXTURE, file);
    // make-v1.mjs wrote users with placeholder hashes ('scrypt$admin'): give admin a real one to log in with.
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    raw
      .prepare("update users set password_hash = ? where name = 'admin'")
      .run(scryptHash('fixture-password'));
    raw.close();

    const server = await ApplianceProcess.start({ data, adminPassword: null });
    const api = new Api(server.api);
    // A placeholder hash never verifies.
    problemOf(
      await api.call('POST', '/auth/login', { body: { user: 'rita', password: 'scrypt$rita' } }),
      401,
      'INVALID_CREDENTIALS',
    );
    const token = await api.login('admin', 'fixture-password');
    const users = await api.call<{ items: Array<Record<string, unknown>> }>('GET', '/users', { token });
    expect(users.status).toBe(200);
    expect(users.body.items.map((u) => [u.name, u.role, u.disabled, u.version])).toEqual([
      ['admin', 'administrator', false, 1],
      ['rita', 'restore-operator', false, 3],
      ['vic', 'viewer', true, 2],
    ]);
    const rita = await api.call<Record<string, unknown>>('GET', '/users/rita', { token });
    expect(rita.headers.get('etag')).toBe('"3"');
    expect(rita.body).toMatchObject({
      id: 'u-rita',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T02:00:00.000Z',
      passwordChangedAt: '2026-01-01T01:00:00.000Z',
      restoreTags: null,
    });
    const audit = await api.call<{ items: Array<Record<string, unknown>> }>('GET', '/audit?limit=500', {
      token,
    });
    const old = audit.body.items.filter((e) => String(e.at).startsWith('2026-01-01'));
    expect(old.map((e) => [e.action, e.actor, e.target, e.outcome])).toEqual([
      ['auth.login', 'rita', null, 'denied'],
      ['user.create', 'admin', 'user/rita', 'ok'],
      ['system.init', null, null, 'ok'],
    ]);
    // The migrated catalog takes new writes: the v2 tables (events, idempotency) work.
    const made = await api.call('POST', '/users', {
      token,
      body: { name: 'after-migration', role: 'viewer', password: 'after-password' },
      headers: { 'idempotency-key': 'v1-fixture' },
    });
    expect(made.status).toBe(201);
    const replay = await api.call('POST', '/users', {
      token,
      body: { name: 'after-migration', role: 'viewer', password: 'after-password' },
      headers: { 'idempotency-key': 'v1-fixture' },
    });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const patched = await api.call('PATCH', '/users/rita', {
      token,
      body: { restoreTags: { env: 'prod' } },
      headers: { 'if-match': '"3"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('etag')).toBe('"4"');
    expect(await server.stop()).toEqual({ code: 0, signal: null });

    const after = new Database(file, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBeGreaterThan(1);
    after.close();
  });
});

describe('start-up refusals: one line, non-zero, no stack trace', () => {
  it('a port already in use', async () => {
    const server = await ApplianceProcess.start();
    const port = new URL(server.origin).port;
    const r = await lifeboat(
      ['server', '--data', join(tempDir('port'), 'data'), '--listen', `127.0.0.1:${port}`],
      {
        LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      },
    );
    expect(r.code).not.toBe(0);
    expect(oneLineError(r.stderr)).toContain(`127.0.0.1:${port} is in use`);
    expect(r.stdout).toBe('');
    expect((await fetch(`${server.api}/health`)).status).toBe(200);
    await server.stop();
  });

  it('a catalog.db of random bytes names the file', async () => {
    const data = join(tempDir('corrupt'), 'data');
    mkdirSync(data);
    const file = join(data, 'catalog.db');
    writeFileSync(file, randomBytes(64 * 1024));
    const r = await lifeboat(['server', '--data', data, '--listen', '127.0.0.1:0'], {
      LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    expect(r.code).not.toBe(0);
    expect(oneLineError(r.stderr)).toContain(file);
    expect(r.stdout).toBe('');
    // The damaged file is left as it was, and the folder is not left locked.
    expect(readFileSync(file).length).toBe(64 * 1024);
    expect(existsSync(join(data, 'appliance.lock'))).toBe(false);
  });

  it('an empty data folder without LIFEBOAT_ADMIN_PASSWORD says how to create the first administrator', async () => {
    const data = join(tempDir('empty'), 'data');
    const r = await lifeboat(['server', '--data', data, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    const line = oneLineError(r.stderr);
    expect(line).toContain('lifeboat server init');
    expect(line).toContain('LIFEBOAT_ADMIN_PASSWORD');
  });
});
