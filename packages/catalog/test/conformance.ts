/**
 * The catalog contract as tests: every implementation (SQLite now, PostgreSQL later) registers this suite with
 * a factory that gives it a fresh, empty, migrated catalog per test.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Catalog,
  type CatalogErrorCode,
  type IdempotencyRecord,
  isCatalogError,
  type LoginSessionRecord,
  type NewUser,
} from '../src/index.js';
import { accountConformance } from './conformance-accounts.js';
import { pointConformance } from './conformance-points.js';
import { sessionConformance } from './sessions-conformance.js';

export interface CatalogUnderTest {
  catalog: Catalog;
  cleanup(): Promise<void>;
}

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T01:00:00.000Z';
const T2 = '2026-01-01T02:00:00.000Z';
const T3 = '2026-01-01T03:00:00.000Z';

function newUser(name: string, extra: Partial<NewUser> = {}): NewUser {
  return {
    id: `u-${name}`,
    name,
    role: 'viewer',
    passwordHash: `scrypt$${name}`,
    restoreTags: null,
    ...extra,
  };
}

function session(id: string, userId: string, extra: Partial<LoginSessionRecord> = {}) {
  return {
    id,
    userId,
    kind: 'token' as const,
    tokenHash: `hash-${id}`,
    csrfHash: null,
    address: '10.0.0.1',
    createdAt: T0,
    expiresAt: T2,
    ...extra,
  };
}

function idem(userId: string, key: string, extra: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  return {
    userId,
    key,
    method: 'POST',
    path: '/api/v1/users',
    requestHash: 'rh-1',
    status: 201,
    contentType: 'application/json',
    body: '{"id":"x"}',
    createdAt: T1,
    ...extra,
  };
}

async function expectCode(p: Promise<unknown>, code: CatalogErrorCode): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCatalogError(err), `expected CatalogError ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

export function catalogConformance(name: string, factory: () => Promise<CatalogUnderTest>): void {
  describe(`catalog conformance: ${name}`, () => {
    let under: CatalogUnderTest;
    let c: Catalog;
    beforeEach(async () => {
      under = await factory();
      c = under.catalog;
    });
    afterEach(async () => {
      await under.cleanup();
    });

    describe('users', () => {
      it('inserts and reads back by name and id, version 1, all times `at`', async () => {
        const tags = { env: 'prod', team: 'db' };
        const u = await c.users.insert(newUser('alice', { role: 'restore-operator', restoreTags: tags }), T0);
        expect(u).toEqual({
          id: 'u-alice',
          name: 'alice',
          role: 'restore-operator',
          passwordHash: 'scrypt$alice',
          restoreTags: tags,
          disabled: false,
          version: 1,
          createdAt: T0,
          updatedAt: T0,
          passwordChangedAt: T0,
        });
        expect(await c.users.get('alice')).toEqual(u);
        expect(await c.users.getById('u-alice')).toEqual(u);
        expect(await c.users.get('bob')).toBeUndefined();
        expect(await c.users.getById('u-bob')).toBeUndefined();
      });

      it('refuses a taken name or id with CONFLICT', async () => {
        await c.users.insert(newUser('alice'), T0);
        await expectCode(c.users.insert(newUser('alice', { id: 'u-other' }), T0), 'CONFLICT');
        await expectCode(c.users.insert(newUser('other', { id: 'u-alice' }), T0), 'CONFLICT');
        expect(await c.users.count()).toBe(1);
      });

      it('lists by name, paging with after', async () => {
        for (const n of ['dave', 'alice', 'carol', 'bob', 'erin']) await c.users.insert(newUser(n), T0);
        const names = async (after?: string) =>
          (await c.users.list({ limit: 2, ...(after === undefined ? {} : { after }) })).map((u) => u.name);
        expect(await names()).toEqual(['alice', 'bob']);
        expect(await names('bob')).toEqual(['carol', 'dave']);
        expect(await names('dave')).toEqual(['erin']);
        expect(await names('erin')).toEqual([]);
        expect((await c.users.list({ limit: 10, after: 'b' })).map((u) => u.name)).toEqual([
          'bob',
          'carol',
          'dave',
          'erin',
        ]);
      });

      it('updates the given fields, bumps the version and updatedAt, keeps the rest', async () => {
        await c.users.insert(newUser('alice', { restoreTags: { a: '1' } }), T0);
        const u = await c.users.update('u-alice', 1, { role: 'administrator', disabled: true }, T1);
        expect(u).toMatchObject({
          role: 'administrator',
          disabled: true,
          version: 2,
          updatedAt: T1,
          createdAt: T0,
          passwordChangedAt: T0,
          passwordHash: 'scrypt$alice',
          restoreTags: { a: '1' },
        });
        expect(await c.users.getById('u-alice')).toEqual(u);
      });

      it('moves passwordChangedAt only with a new password hash; restoreTags can be cleared', async () => {
        await c.users.insert(newUser('alice', { restoreTags: { a: '1' } }), T0);
        const u = await c.users.update(
          'u-alice',
          undefined,
          { passwordHash: 'scrypt$new', restoreTags: null },
          T1,
        );
        expect(u).toMatchObject({
          passwordHash: 'scrypt$new',
          passwordChangedAt: T1,
          restoreTags: null,
          version: 2,
        });
        const v = await c.users.update('u-alice', undefined, { disabled: false }, T2);
        expect(v).toMatchObject({ passwordChangedAt: T1, updatedAt: T2, version: 3 });
        const w = await c.users.update('u-alice', 3, {}, T3);
        expect(w).toMatchObject({ version: 4, updatedAt: T3 });
      });

      it('update: NOT_FOUND for an unknown id, VERSION_MISMATCH for a stale version (nothing changed)', async () => {
        await c.users.insert(newUser('alice'), T0);
        await expectCode(c.users.update('u-nobody', undefined, { disabled: true }, T1), 'NOT_FOUND');
        await expectCode(c.users.update('u-nobody', 1, { disabled: true }, T1), 'NOT_FOUND');
        await expectCode(c.users.update('u-alice', 2, { disabled: true }, T1), 'VERSION_MISMATCH');
        expect(await c.users.get('alice')).toMatchObject({ disabled: false, version: 1, updatedAt: T0 });
      });

      it('remove: NOT_FOUND / VERSION_MISMATCH, and removes the user with their login sessions', async () => {
        await c.users.insert(newUser('alice'), T0);
        await c.users.insert(newUser('bob'), T0);
        await c.loginSessions.insert(session('s1', 'u-alice'));
        await c.loginSessions.insert(session('s2', 'u-alice', { kind: 'cookie', csrfHash: 'csrf' }));
        await c.loginSessions.insert(session('s3', 'u-bob'));
        await expectCode(c.users.remove('u-nobody', undefined), 'NOT_FOUND');
        await expectCode(c.users.remove('u-alice', 5), 'VERSION_MISMATCH');
        expect(await c.users.get('alice')).toBeDefined();
        await c.users.remove('u-alice', 1);
        expect(await c.users.get('alice')).toBeUndefined();
        expect(await c.loginSessions.findByTokenHash('hash-s1')).toBeUndefined();
        expect(await c.loginSessions.findByTokenHash('hash-s2')).toBeUndefined();
        expect(await c.loginSessions.findByTokenHash('hash-s3')).toBeDefined();
        await c.users.remove('u-bob', undefined);
        expect(await c.users.count()).toBe(0);
      });

      it('counts all users, and enabled users by role', async () => {
        expect(await c.users.count()).toBe(0);
        expect(await c.users.countEnabled('administrator')).toBe(0);
        await c.users.insert(newUser('a1', { role: 'administrator' }), T0);
        await c.users.insert(newUser('a2', { role: 'administrator' }), T0);
        await c.users.insert(newUser('v1'), T0);
        await c.users.update('u-a2', undefined, { disabled: true }, T1);
        expect(await c.users.count()).toBe(3);
        expect(await c.users.countEnabled('administrator')).toBe(1);
        expect(await c.users.countEnabled('viewer')).toBe(1);
        expect(await c.users.countEnabled('backup-operator')).toBe(0);
      });
    });

    describe('login sessions', () => {
      beforeEach(async () => {
        await c.users.insert(newUser('alice'), T0);
        await c.users.insert(newUser('bob'), T0);
      });

      it('inserts and finds by token hash, not revoked', async () => {
        const s = session('s1', 'u-alice', { kind: 'cookie', csrfHash: 'csrf-1', address: null });
        await c.loginSessions.insert(s);
        expect(await c.loginSessions.findByTokenHash('hash-s1')).toEqual({ ...s, revokedAt: null });
        expect(await c.loginSessions.findByTokenHash('hash-nope')).toBeUndefined();
      });

      it('refuses a second session with the same token hash', async () => {
        await c.loginSessions.insert(session('s1', 'u-alice'));
        await expectCode(
          c.loginSessions.insert(session('s2', 'u-bob', { tokenHash: 'hash-s1' })),
          'CONFLICT',
        );
      });

      it('revokes one session, keeping the first revocation time', async () => {
        await c.loginSessions.insert(session('s1', 'u-alice'));
        await c.loginSessions.insert(session('s2', 'u-alice'));
        await c.loginSessions.revoke('s1', T1);
        await c.loginSessions.revoke('s1', T2);
        await c.loginSessions.revoke('s-unknown', T1);
        expect((await c.loginSessions.findByTokenHash('hash-s1'))?.revokedAt).toBe(T1);
        expect((await c.loginSessions.findByTokenHash('hash-s2'))?.revokedAt).toBeNull();
      });

      it('revokes all live sessions of a user and says how many', async () => {
        await c.loginSessions.insert(session('s1', 'u-alice'));
        await c.loginSessions.insert(session('s2', 'u-alice'));
        await c.loginSessions.insert(session('s3', 'u-alice'));
        await c.loginSessions.insert(session('s4', 'u-bob'));
        await c.loginSessions.revoke('s3', T0);
        expect(await c.loginSessions.revokeAllOfUser('u-alice', T1)).toBe(2);
        expect(await c.loginSessions.revokeAllOfUser('u-alice', T2)).toBe(0);
        expect(await c.loginSessions.revokeAllOfUser('u-nobody', T2)).toBe(0);
        expect((await c.loginSessions.findByTokenHash('hash-s1'))?.revokedAt).toBe(T1);
        expect((await c.loginSessions.findByTokenHash('hash-s3'))?.revokedAt).toBe(T0);
        expect((await c.loginSessions.findByTokenHash('hash-s4'))?.revokedAt).toBeNull();
      });

      it('deleteEnded removes sessions expired or revoked before the time', async () => {
        await c.loginSessions.insert(session('expired', 'u-alice', { expiresAt: T1 }));
        await c.loginSessions.insert(session('revoked', 'u-alice', { expiresAt: T3 }));
        await c.loginSessions.insert(session('revoked-late', 'u-alice', { expiresAt: T3 }));
        await c.loginSessions.insert(session('live', 'u-bob', { expiresAt: T3 }));
        await c.loginSessions.insert(session('expires-at-cut', 'u-bob', { expiresAt: T2 }));
        await c.loginSessions.revoke('revoked', T1);
        await c.loginSessions.revoke('revoked-late', T2);
        expect(await c.loginSessions.deleteEnded(T2)).toBe(2);
        expect(await c.loginSessions.findByTokenHash('hash-expired')).toBeUndefined();
        expect(await c.loginSessions.findByTokenHash('hash-revoked')).toBeUndefined();
        for (const id of ['revoked-late', 'live', 'expires-at-cut']) {
          expect(await c.loginSessions.findByTokenHash(`hash-${id}`)).toBeDefined();
        }
        expect(await c.loginSessions.deleteEnded(T2)).toBe(0);
      });
    });

    describe('audit', () => {
      const entry = (action: string, actor: string | null, at = T1) => ({
        at,
        actor,
        address: '10.0.0.9',
        action,
        target: `user/${actor ?? 'system'}`,
        outcome: 'ok' as const,
        reason: null,
        details: { n: 1, nested: { list: [1, 'two'] } },
      });

      it('appends with increasing ids and reads back every field', async () => {
        const a = await c.audit.append({
          ...entry('user.create', 'alice'),
          outcome: 'denied',
          reason: 'ticket 7',
        });
        const b = await c.audit.append(entry('auth.login', null));
        expect(b.id).toBeGreaterThan(a.id);
        expect(a).toEqual({
          ...entry('user.create', 'alice'),
          outcome: 'denied',
          reason: 'ticket 7',
          id: a.id,
        });
        expect(await c.audit.list({ limit: 10 })).toEqual([b, a]);
      });

      it('lists newest first, paging with before', async () => {
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push((await c.audit.append(entry(`x.a${i}`, 'alice'))).id);
        const page1 = await c.audit.list({ limit: 2 });
        expect(page1.map((e) => e.id)).toEqual([ids[4], ids[3]]);
        const page2 = await c.audit.list({ limit: 2, before: page1[1]!.id });
        expect(page2.map((e) => e.id)).toEqual([ids[2], ids[1]]);
        const page3 = await c.audit.list({ limit: 2, before: page2[1]!.id });
        expect(page3.map((e) => e.id)).toEqual([ids[0]]);
      });

      it('filters by actor, exact action, action prefix and since, combined', async () => {
        await c.audit.append(entry('user.create', 'alice', T0));
        await c.audit.append(entry('user.delete', 'bob', T1));
        await c.audit.append(entry('users.list', 'alice', T1));
        await c.audit.append(entry('user', 'alice', T2));
        await c.audit.append(entry('auth.login', 'alice', T2));
        await c.audit.append(entry('user.create', 'bob', T3));
        const actions = async (q: Parameters<Catalog['audit']['list']>[0]) =>
          (await c.audit.list(q)).map((e) => `${e.actor}:${e.action}`);
        expect(await actions({ limit: 10, action: 'user.' })).toEqual([
          'bob:user.create',
          'bob:user.delete',
          'alice:user.create',
        ]);
        expect(await actions({ limit: 10, action: 'user' })).toEqual(['alice:user']);
        expect(await actions({ limit: 10, action: 'user.create' })).toEqual([
          'bob:user.create',
          'alice:user.create',
        ]);
        expect(await actions({ limit: 10, actor: 'alice' })).toEqual([
          'alice:auth.login',
          'alice:user',
          'alice:users.list',
          'alice:user.create',
        ]);
        expect(await actions({ limit: 10, since: T2 })).toEqual([
          'bob:user.create',
          'alice:auth.login',
          'alice:user',
        ]);
        expect(await actions({ limit: 10, actor: 'alice', action: 'user.', since: T0 })).toEqual([
          'alice:user.create',
        ]);
        expect(await actions({ limit: 1, actor: 'bob' })).toEqual(['bob:user.create']);
        expect(await actions({ limit: 10, action: 'restore.' })).toEqual([]);
      });
    });

    describe('events', () => {
      it('appends with increasing ids; after() is oldest first and limited; lastId', async () => {
        expect(await c.events.lastId()).toBe(0);
        expect(await c.events.after(0, 10)).toEqual([]);
        const e1 = await c.events.append('audit', { id: 1 }, T0);
        const e2 = await c.events.append('user.changed', ['a', 2, null], T1);
        const e3 = await c.events.append('session.progress', 'text', T2);
        expect(e1).toEqual({ id: e1.id, at: T0, topic: 'audit', data: { id: 1 } });
        expect(e2.id).toBeGreaterThan(e1.id);
        expect(e3.id).toBeGreaterThan(e2.id);
        expect(await c.events.lastId()).toBe(e3.id);
        expect(await c.events.after(0, 10)).toEqual([e1, e2, e3]);
        expect(await c.events.after(e1.id, 1)).toEqual([e2]);
        expect(await c.events.after(e3.id, 10)).toEqual([]);
      });

      it('stores any JSON value as data', async () => {
        for (const data of [null, 0, 'x', true, [1, [2]], { a: { b: null } }]) {
          const e = await c.events.append('t', data, T0);
          expect((await c.events.after(e.id - 1, 1))[0]?.data).toEqual(data);
        }
      });

      it('trim keeps the newest, returns how many went, and never reuses an id', async () => {
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push((await c.events.append('t', i, T0)).id);
        expect(await c.events.trim(10)).toBe(0);
        expect(await c.events.trim(2)).toBe(3);
        expect((await c.events.after(0, 10)).map((e) => e.id)).toEqual(ids.slice(3));
        expect(await c.events.trim(2)).toBe(0);
        expect(await c.events.trim(0)).toBe(2);
        expect(await c.events.after(0, 10)).toEqual([]);
        const next = await c.events.append('t', 'after trim', T1);
        expect(next.id).toBeGreaterThan(ids[4]!);
        expect(await c.events.lastId()).toBe(next.id);
      });
    });

    describe('idempotency', () => {
      it('put stores, get reads back; the first writer wins', async () => {
        const r = idem('u-alice', 'k1');
        expect(await c.idempotency.get('u-alice', 'k1')).toBeUndefined();
        expect(await c.idempotency.put(r)).toBe(true);
        expect(await c.idempotency.get('u-alice', 'k1')).toEqual(r);
        expect(await c.idempotency.put({ ...r, status: 500, body: 'second' })).toBe(false);
        expect(await c.idempotency.get('u-alice', 'k1')).toEqual(r);
        // Keys are per user.
        expect(await c.idempotency.put(idem('u-bob', 'k1', { body: 'bob' }))).toBe(true);
        expect((await c.idempotency.get('u-bob', 'k1'))?.body).toBe('bob');
        expect(await c.idempotency.get('u-bob', 'k2')).toBeUndefined();
      });

      it('deleteOlderThan removes records created before the time', async () => {
        await c.idempotency.put(idem('u', 'old', { createdAt: T0 }));
        await c.idempotency.put(idem('u', 'cut', { createdAt: T1 }));
        await c.idempotency.put(idem('u', 'new', { createdAt: T2 }));
        expect(await c.idempotency.deleteOlderThan(T1)).toBe(1);
        expect(await c.idempotency.get('u', 'old')).toBeUndefined();
        expect(await c.idempotency.get('u', 'cut')).toBeDefined();
        expect(await c.idempotency.deleteOlderThan(T3)).toBe(2);
      });
    });

    describe('transactions', () => {
      it('commits every write when fn returns, and returns its value', async () => {
        const result = await c.transaction(async (tx) => {
          const u = await tx.users.insert(newUser('alice'), T0);
          await tx.loginSessions.insert(session('s1', u.id));
          await tx.audit.append({
            at: T0,
            actor: null,
            address: null,
            action: 'user.create',
            target: 'user/alice',
            outcome: 'ok',
            reason: null,
            details: {},
          });
          await tx.events.append('user.changed', { id: u.id }, T0);
          await tx.idempotency.put(idem(u.id, 'k'));
          expect(await tx.users.count()).toBe(1);
          return u.version;
        });
        expect(result).toBe(1);
        expect(await c.users.count()).toBe(1);
        expect(await c.loginSessions.findByTokenHash('hash-s1')).toBeDefined();
        expect(await c.audit.list({ limit: 10 })).toHaveLength(1);
        expect(await c.events.lastId()).toBeGreaterThan(0);
        expect(await c.idempotency.get('u-alice', 'k')).toBeDefined();
      });

      it('writes nothing when fn throws, and rethrows its error', async () => {
        await c.users.insert(newUser('bob'), T0);
        const boom = new Error('boom');
        await expect(
          c.transaction(async (tx) => {
            await tx.users.insert(newUser('alice'), T0);
            await tx.users.update('u-bob', 1, { disabled: true }, T1);
            await tx.events.append('t', 1, T0);
            await tx.idempotency.put(idem('u-bob', 'k'));
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await c.users.get('alice')).toBeUndefined();
        expect(await c.users.get('bob')).toMatchObject({ version: 1, disabled: false });
        expect(await c.events.lastId()).toBe(0);
        expect(await c.idempotency.get('u-bob', 'k')).toBeUndefined();
      });

      it('rolls back when a store fails inside (a CatalogError passes through)', async () => {
        await c.users.insert(newUser('bob'), T0);
        await expectCode(
          c.transaction(async (tx) => {
            await tx.users.insert(newUser('alice'), T0);
            await tx.users.insert(newUser('bob', { id: 'u-bob2' }), T0);
          }),
          'CONFLICT',
        );
        expect(await c.users.count()).toBe(1);
      });

      it('a caller outside never sees uncommitted writes, and the catalog stays usable', async () => {
        let inserted!: () => void;
        const insertedP = new Promise<void>((r) => {
          inserted = r;
        });
        const tx = c.transaction(async (t) => {
          await t.users.insert(newUser('ghost'), T0);
          inserted();
          await new Promise((r) => setTimeout(r, 50));
          throw new Error('rolled back');
        });
        await insertedP;
        // SQLite serialises this behind the transaction, PostgreSQL reads the committed state: 0 either way.
        const outside = c.users.count();
        await expect(tx).rejects.toThrow('rolled back');
        expect(await outside).toBe(0);
        await c.transaction(async (t) => t.users.insert(newUser('b'), T0));
        expect(await c.users.count()).toBe(1);
      });
    });

    accountConformance(() => c);

    sessionConformance(() => c);

    pointConformance(() => c);

    it('reports a schema version above 0', async () => {
      expect(await c.schemaVersion()).toBeGreaterThan(0);
    });
  });
}
