import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type Catalog, LATEST_SCHEMA_VERSION, openSqliteCatalog } from '../src/index.js';
import { catalogConformance } from './conformance.js';
import { catalogError, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;
/** A fresh path in the test folder. */
const path = (name = 'catalog') => join(tmp.path, `${name}-${++n}.sqlite`);
const fixture = join(import.meta.dirname, 'fixtures', 'catalog-v1.sqlite');
const T0 = '2026-02-01T00:00:00.000Z';

catalogConformance('sqlite', async () => {
  const catalog = await openSqliteCatalog(path());
  return { catalog, cleanup: () => catalog.close() };
});

/** Opens `file` with plain better-sqlite3, runs fn, closes. */
function rawDb<T>(file: string, fn: (db: Database.Database) => T, readonly = false): T {
  const db = new Database(file, { readonly, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
const userVersion = (file: string) => rawDb(file, (db) => db.pragma('user_version', { simple: true }), true);

async function withCatalog<T>(catalog: Catalog, fn: (c: Catalog) => Promise<T>): Promise<T> {
  try {
    return await fn(catalog);
  } finally {
    await catalog.close();
  }
}

/** A small catalog with a user, written and closed. */
async function madeCatalog(): Promise<string> {
  const file = path();
  await withCatalog(await openSqliteCatalog(file), async (c) => {
    await c.users.insert(
      { id: 'u1', name: 'alice', role: 'administrator', passwordHash: 'h', restoreTags: null },
      T0,
    );
  });
  return file;
}

describe('sqlite catalog: migrations', () => {
  it('creates a new catalog at the latest version, stamped as a lifeboat catalog', async () => {
    const file = path();
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      expect(await c.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    });
    expect(LATEST_SCHEMA_VERSION).toBeGreaterThanOrEqual(5);
    // Private: it holds password hashes.
    expect(statSync(file).mode & 0o777).toBe(0o600);
    rawDb(file, (db) => {
      expect(db.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
      expect(db.pragma('application_id', { simple: true })).toBe(0x4c424354);
      const tables = db
        .prepare("select name from sqlite_schema where type = 'table' order by name")
        .pluck()
        .all();
      expect(tables).toEqual([
        'accounts',
        'audit',
        'events',
        'idempotency',
        'instance_tags',
        'instances',
        'inventory_regions',
        'login_sessions',
        'point_holds',
        'point_snapshots',
        'policies',
        'restore_points',
        'session_aws_calls',
        'sessions',
        'sqlite_sequence',
        'task_log',
        'tasks',
        'users',
      ]);
    });
  });

  it('migrates the committed v1 fixture, keeping its rows and defaulting the new columns', async () => {
    const file = path('v1');
    copyFileSync(fixture, file);
    expect(userVersion(file)).toBe(1);
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      expect(await c.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
      expect((await c.users.list({ limit: 10 })).map((u) => [u.name, u.role, u.version, u.disabled])).toEqual(
        [
          ['admin', 'administrator', 1, false],
          ['rita', 'restore-operator', 3, false],
          ['vic', 'viewer', 2, true],
        ],
      );
      expect(await c.users.get('rita')).toMatchObject({
        restoreTags: null,
        passwordHash: 'scrypt$rita',
        passwordChangedAt: '2026-01-01T01:00:00.000Z',
      });
      expect(await c.users.countEnabled('viewer')).toBe(0);
      expect(await c.loginSessions.findByTokenHash('hash-rita')).toEqual({
        id: 's-rita',
        userId: 'u-rita',
        kind: 'cookie',
        tokenHash: 'hash-rita',
        csrfHash: 'csrf-rita',
        address: '10.0.0.2',
        createdAt: '2026-01-01T01:00:00.000Z',
        expiresAt: '2026-01-01T09:00:00.000Z',
        revokedAt: '2026-01-01T02:00:00.000Z',
      });
      const audit = await c.audit.list({ limit: 10 });
      expect(audit.map((e) => [e.id, e.action, e.reason])).toEqual([
        [3, 'auth.login', null],
        [2, 'user.create', null],
        [1, 'system.init', null],
      ]);
      expect(audit[0]!.details).toEqual({ why: 'bad password' });
      // The new columns and tables work on the migrated catalog.
      const tagged = await c.users.update('u-rita', 3, { restoreTags: { env: 'prod' } }, T0);
      expect(tagged).toMatchObject({ restoreTags: { env: 'prod' }, version: 4 });
      const next = await c.audit.append({ ...audit[0]!, reason: 'ticket 9' });
      expect(next).toMatchObject({ id: 4, reason: 'ticket 9' });
      expect((await c.events.append('audit', { id: 4 }, T0)).id).toBe(1);
      expect(
        await c.idempotency.put({
          userId: 'u-rita',
          key: 'k',
          method: 'POST',
          path: '/x',
          requestHash: 'r',
          status: 200,
          contentType: 'text/plain',
          body: '',
          createdAt: T0,
        }),
      ).toBe(true);
      // Foreign keys still hold on the migrated tables.
      await c.users.remove('u-admin', undefined);
      expect(await c.loginSessions.findByTokenHash('hash-admin')).toBeUndefined();
      // The tables of later migrations (003..005) work too.
      await c.sessions.insert({
        id: 's1',
        kind: 'snapshot.policy',
        name: 'n',
        createdBy: null,
        createdAt: T0,
      });
      await c.awsCalls.add('s1', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 2 }]);
      await c.awsCalls.add('s1', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 3 }]);
      expect(await c.awsCalls.ofSession('s1')).toEqual([
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 5 },
      ]);
      const policy = await c.policies.insert(
        { id: 'p1', name: 'daily', document: { a: 1 }, enabled: true },
        T0,
      );
      expect(policy).toMatchObject({ version: 1, document: { a: 1 } });
      await c.points.insert(restorePoint('rp1'));
      await c.points.addSnapshot(pointSnapshot('snap-1', 'rp1'));
      expect((await c.points.snapshotsOf(['rp1'])).map((s) => s.snapshotId)).toEqual(['snap-1']);
    });
    expect(userVersion(file)).toBe(LATEST_SCHEMA_VERSION);
  });

  it('with migrate: false leaves an older catalog at its version', async () => {
    const file = path('v1');
    copyFileSync(fixture, file);
    await withCatalog(await openSqliteCatalog(file, { migrate: false }), async (c) => {
      expect(await c.schemaVersion()).toBe(1);
    });
    expect(userVersion(file)).toBe(1);
  });

  it('a readonly open does not migrate, and can back up the older catalog', async () => {
    const file = path('v1');
    copyFileSync(fixture, file);
    const before = readFileSync(file);
    const copy = path('v1-backup');
    await withCatalog(await openSqliteCatalog(file, { readonly: true }), async (c) => {
      expect(await c.schemaVersion()).toBe(1);
      await c.backupTo(copy);
    });
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(userVersion(copy)).toBe(1);
    // The backup is a v1 catalog like any other: a normal open migrates it.
    await withCatalog(await openSqliteCatalog(copy), async (c) => {
      expect(await c.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
      expect(await c.users.count()).toBe(3);
    });
  });
});

describe('sqlite catalog: cascades of migration 005', () => {
  it('deleting a restore point deletes its snapshots and holds; deleting a session, its AWS call counts', async () => {
    // The stores delete neither (points are marked `deleted`, sessions are kept): the foreign keys are for the
    // pruning to come, so they are checked here with plain SQL, foreign keys on as the catalog has them.
    const file = path();
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      await c.sessions.insert({ id: 's1', kind: 'k', name: 'n', createdBy: null, createdAt: T0 });
      await c.sessions.insert({ id: 's2', kind: 'k', name: 'n', createdBy: null, createdAt: T0 });
      await c.awsCalls.add('s1', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 1 }]);
      await c.awsCalls.add('s2', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 2 }]);
      for (const id of ['rp1', 'rp2']) {
        await c.points.insert(restorePoint(id));
        await c.points.addSnapshot(pointSnapshot(`snap-${id}`, id));
        await c.points.addHold({
          id: `h-${id}`,
          pointId: id,
          kind: 'manual',
          reason: 'r',
          createdBy: 'alice',
          createdAt: T0,
        });
      }
    });
    rawDb(file, (db) => {
      db.pragma('foreign_keys = ON');
      db.prepare("delete from restore_points where id = 'rp1'").run();
      db.prepare("delete from sessions where id = 's1'").run();
      // A policy is no parent of its points: deleting one leaves them.
      db.prepare('delete from policies').run();
    });
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      expect(await c.points.snapshotsOf(['rp1', 'rp2'])).toMatchObject([{ snapshotId: 'snap-rp2' }]);
      expect((await c.points.holdsOf(['rp1', 'rp2'])).map((h) => h.id)).toEqual(['h-rp2']);
      expect(await c.awsCalls.ofSession('s1')).toEqual([]);
      expect(await c.awsCalls.ofSession('s2')).toHaveLength(1);
      expect((await c.points.list({ limit: 10 })).map((p) => p.id)).toEqual(['rp2']);
    });
  });
});

describe('sqlite catalog: refusals', () => {
  it('refuses a catalog from a newer lifeboat (CATALOG_TOO_NEW), also readonly, and leaves it alone', async () => {
    const file = await madeCatalog();
    rawDb(file, (db) => db.pragma('user_version = 99'));
    const before = readFileSync(file);
    for (const options of [{}, { readonly: true }]) {
      const err = await catalogError(openSqliteCatalog(file, options));
      expect(err.code).toBe('CATALOG_TOO_NEW');
      expect(err.message).toBe(
        `catalog ${file} has schema version 99; this lifeboat knows versions up to ${LATEST_SCHEMA_VERSION}: ` +
          'upgrade lifeboat (or restore a catalog backup made by this version)',
      );
    }
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a file of random bytes as CATALOG_CORRUPT, naming the file and the way out', async () => {
    const file = path('random');
    writeFileSync(file, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 251)));
    const err = await catalogError(openSqliteCatalog(file));
    expect(err.code).toBe('CATALOG_CORRUPT');
    expect(err.message).toContain(file);
    expect(err.message).toContain('lifeboat server backup-catalog');
    expect((err.cause as { code?: string }).code).toBe('SQLITE_NOTADB');
  });

  it('refuses a truncated catalog as CATALOG_CORRUPT', async () => {
    const file = path();
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      for (let i = 0; i < 200; i++) await c.events.append('t', { pad: 'x'.repeat(500), i }, T0);
    });
    truncateSync(file, Math.floor(readFileSync(file).length / 2));
    for (const options of [{}, { readonly: true }]) {
      const err = await catalogError(openSqliteCatalog(file, options));
      expect(err.code).toBe('CATALOG_CORRUPT');
      expect(err.message).toContain(file);
    }
  });

  it('refuses a catalog whose pages are damaged (quick_check fails) as CATALOG_CORRUPT', async () => {
    const file = path();
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      for (let i = 0; i < 200; i++) await c.events.append('t', { pad: 'x'.repeat(500), i }, T0);
    });
    const bytes = readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    bytes.fill(0x55, 4 * pageSize, 6 * pageSize);
    writeFileSync(file, bytes);
    const err = await catalogError(openSqliteCatalog(file));
    expect(err.code).toBe('CATALOG_CORRUPT');
    expect(err.message).toContain(file);
  });

  it('refuses the SQLite database of another application as CATALOG_CORRUPT (not a catalog)', async () => {
    const file = path('other');
    const db = new Database(file);
    db.exec('create table notes (text)');
    db.close();
    const err = await catalogError(openSqliteCatalog(file));
    expect(err.code).toBe('CATALOG_CORRUPT');
    expect(err.message).toContain('not a lifeboat catalog');
  });

  it('reports paths it cannot open as CATALOG_UNREADABLE, naming them', async () => {
    const folder = join(tmp.path, 'a-folder');
    mkdirSync(folder);
    const cases = [
      [folder, {}],
      [join(tmp.path, 'missing', 'catalog.sqlite'), {}],
      [path('absent'), { readonly: true }],
    ] as const;
    for (const [file, options] of cases) {
      const err = await catalogError(openSqliteCatalog(file, options));
      expect(err.code).toBe('CATALOG_UNREADABLE');
      expect(err.message).toContain(file);
      expect(err.cause).toBeDefined();
    }
  });
});

describe('sqlite catalog: connection settings', () => {
  it('runs in WAL mode with foreign keys enforced', async () => {
    const file = path();
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      await c.users.insert({ id: 'u1', name: 'a', role: 'viewer', passwordHash: 'h', restoreTags: null }, T0);
      expect(rawDb(file, (db) => db.pragma('journal_mode', { simple: true }), true)).toBe('wal');
      const orphan = {
        id: 's1',
        userId: 'u-nobody',
        kind: 'token' as const,
        tokenHash: 'h',
        csrfHash: null,
        address: null,
        createdAt: T0,
        expiresAt: T0,
      };
      await expect(c.loginSessions.insert(orphan)).rejects.toThrow(/FOREIGN KEY/);
    });
  });

  it('waits for a lock held by another connection (busy_timeout) instead of failing', async () => {
    const file = path();
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      const holder = spawnNode(
        `
        const db = new Database(process.argv[1]);
        db.exec('begin immediate; insert into events (at, topic, data) values (\\'t\\', \\'held\\', \\'1\\')');
        console.log('locked');
        setTimeout(() => { db.exec('commit'); db.close(); }, 400);
      `,
        file,
      );
      await lineFrom(holder, 'locked');
      const e = await c.events.append('mine', 2, T0);
      expect(e.id).toBe(2);
      await exited(holder);
    });
  });

  it('transactions take the write lock at BEGIN: another process waits, a read-then-write does not fail', async () => {
    const file = path();
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      let other: ChildProcess | undefined;
      await c.transaction(async (tx) => {
        expect(await tx.events.lastId()).toBe(0);
        other = spawnNode(
          `
          const db = new Database(process.argv[1], { timeout: 5000 });
          console.log('trying');
          db.prepare("insert into events (at, topic, data) values ('t', 'other', '1')").run();
        `,
          file,
        );
        await lineFrom(other, 'trying');
        await new Promise((r) => setTimeout(r, 200));
        await tx.events.append('mine', 1, T0);
      });
      await exited(other!);
      expect((await c.events.after(0, 10)).map((e) => e.topic)).toEqual(['mine', 'other']);
    });
  });

  it('turns use of the catalog stores inside transaction(fn) into an error, not a deadlock', async () => {
    await withCatalog(await openSqliteCatalog(path()), async (c) => {
      await expect(c.transaction(async () => c.users.count())).rejects.toThrow(/use the stores fn is given/);
      await expect(c.transaction(async () => c.transaction(async () => 1))).rejects.toThrow(/nesting/);
      expect(await c.users.count()).toBe(0);
    });
  });
});

describe('sqlite catalog: online backup', () => {
  it('copies a consistent catalog while another process writes, and the catalog stays usable', async () => {
    const file = path('busy');
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      // The writer commits batches of 20 events whose data names the batch: a consistent copy holds whole
      // batches only, and ids without gaps.
      const writer = spawnNode(
        `
        const db = new Database(process.argv[1], { timeout: 5000 });
        const ins = db.prepare('insert into events (at, topic, data) values (?, ?, ?)');
        const batch = db.transaction((b) => { for (let i = 0; i < 20; i++) ins.run('t', 'w', JSON.stringify({ b, pad: 'x'.repeat(800) })); });
        let b = 0;
        batch(b++);
        console.log('writing');
        setInterval(() => batch(b++), 2);
      `,
        file,
      );
      try {
        await lineFrom(writer, 'writing');
        const copies: string[] = [];
        for (let i = 0; i < 4; i++) {
          const copy = path(`backup-${i}`);
          const [, own] = await Promise.all([c.backupTo(copy), c.audit.append(auditEntry(i))]);
          expect(own.id).toBe(i + 1);
          copies.push(copy);
          await new Promise((r) => setTimeout(r, 20));
        }
        // A second process's view: a readonly catalog copying the busy one.
        const readonlyCopy = path('backup-ro');
        await withCatalog(await openSqliteCatalog(file, { readonly: true }), (ro) =>
          ro.backupTo(readonlyCopy),
        );
        copies.push(readonlyCopy);
        const counts: number[] = [];
        for (const copy of copies) {
          expect(rawDb(copy, (db) => db.pragma('journal_mode', { simple: true }), true)).toBe('delete');
          await withCatalog(await openSqliteCatalog(copy, { readonly: true }), async (b) => {
            expect(await b.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
            const last = await b.events.lastId();
            const events = await b.events.after(0, 1_000_000);
            expect(events.length).toBe(last);
            expect(last % 20).toBe(0);
            counts.push(last);
          });
        }
        expect(counts.at(-1)).toBeGreaterThan(counts[0]!);
        expect(await c.events.lastId()).toBeGreaterThanOrEqual(counts.at(-1)!);
      } finally {
        writer.kill();
        await exited(writer);
      }
      expect(readdirSync(tmp.path).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  });

  it('refuses to overwrite an existing file (CONFLICT) and leaves no temporary file', async () => {
    const file = await madeCatalog();
    const target = path('taken');
    writeFileSync(target, 'precious');
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      const err = await catalogError(c.backupTo(target));
      expect(err.code).toBe('CONFLICT');
      expect(err.message).toContain(target);
    });
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(readdirSync(tmp.path).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes a copy that opens as a catalog with the same rows', async () => {
    const file = await madeCatalog();
    const copy = path('copy');
    await withCatalog(await openSqliteCatalog(file), (c) => c.backupTo(copy));
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    await withCatalog(await openSqliteCatalog(copy), async (c) => {
      expect(await c.users.get('alice')).toMatchObject({ id: 'u1', role: 'administrator' });
    });
  });

  it('names the target when the copy cannot be written (missing folder)', async () => {
    const file = await madeCatalog();
    const target = join(tmp.path, 'no-such-folder', 'copy.sqlite');
    await withCatalog(await openSqliteCatalog(file), async (c) => {
      await expect(c.backupTo(target)).rejects.toThrow(`cannot back up catalog ${file} to ${target}`);
    });
  });
});

function restorePoint(id: string) {
  return {
    id,
    policyId: 'p1',
    policyName: 'daily',
    accountId: 'a1',
    awsAccountId: '111111111111',
    region: 'us-east-1',
    instanceId: 'i-1',
    sessionId: null,
    taskId: null,
    createdAt: T0,
    state: 'available' as const,
    configuration: null,
    overflow: null,
  };
}

function pointSnapshot(snapshotId: string, pointId: string) {
  return {
    snapshotId,
    pointId,
    role: 'source' as const,
    accountId: 'a1',
    awsAccountId: '111111111111',
    region: 'us-east-1',
    device: '/dev/xvda',
    volumeId: 'vol-1',
    sizeGiB: 8,
    encrypted: false,
    kmsKeyId: null,
    state: 'completed' as const,
    sealed: true,
    sourceSnapshotId: null,
    target: null,
    createdAt: T0,
    deletedAt: null,
  };
}

function auditEntry(i: number) {
  return {
    at: T0,
    actor: 'alice',
    address: null,
    action: 'catalog.backup',
    target: null,
    outcome: 'ok' as const,
    reason: null,
    details: { i },
  };
}

/** A node child running `code` (CommonJS, with `Database` = better-sqlite3) with `arg` as process.argv[1]. */
function spawnNode(code: string, arg: string): ChildProcess {
  const prelude = `const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});`;
  return spawn(process.execPath, ['-e', prelude + code, arg], { stdio: ['ignore', 'pipe', 'inherit'] });
}

function lineFrom(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${line}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}
