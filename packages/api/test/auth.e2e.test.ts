/**
 * Issue 15, end to end: logins and their end (logout, logout everywhere, a password change, a disabled user,
 * expiry with a tiny --login-ttl), the login throttle and its audit trail, cookie sessions and CSRF, and the
 * event stream (topics filtered by role, resumed with Last-Event-ID without loss or repeats).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  ApplianceProcess,
  EventStream,
  problemOf,
  stopAll,
} from './appliance-process.js';

let server: ApplianceProcess;
let shortLived: ApplianceProcess;
let api: Api;
let admin: string;

beforeAll(async () => {
  // --login-ttl 0.0006 h: a login lasts about 2 s.
  [server, shortLived] = await Promise.all([
    ApplianceProcess.start(),
    ApplianceProcess.start({ loginTtlHours: 0.0006 }),
  ]);
  api = new Api(server.api);
  admin = await api.login('admin', ADMIN_PASSWORD);
});

afterAll(stopAll);

interface AuditEntry {
  id: number;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  details: Record<string, unknown>;
}

async function auditOf(actor: string): Promise<AuditEntry[]> {
  const r = await api.call<{ items: AuditEntry[] }>('GET', `/audit?actor=${actor}&limit=500`, {
    token: admin,
  });
  expect(r.status).toBe(200);
  return r.body.items;
}

describe('login and its end', () => {
  it('logout ends this login only (401 SESSION_EXPIRED); logout {all: true} ends every login of the user', async () => {
    await api.addUser(admin, 'leaver', 'viewer', 'leaver-password');
    const [a, b, c] = [
      await api.login('leaver', 'leaver-password'),
      await api.login('leaver', 'leaver-password'),
      await api.login('leaver', 'leaver-password'),
    ];
    const out = await api.call('POST', '/auth/logout', { token: a });
    expect(out.status).toBe(204);
    problemOf(await api.call('GET', '/auth/whoami', { token: a }), 401, 'SESSION_EXPIRED');
    problemOf(await api.call('POST', '/auth/logout', { token: a }), 401, 'SESSION_EXPIRED');
    expect((await api.call('GET', '/auth/whoami', { token: b })).status).toBe(200);
    expect((await api.call('POST', '/auth/logout', { token: b, body: { all: true } })).status).toBe(204);
    problemOf(await api.call('GET', '/auth/whoami', { token: b }), 401, 'SESSION_EXPIRED');
    problemOf(await api.call('GET', '/auth/whoami', { token: c }), 401, 'SESSION_EXPIRED');
    // Another user's login is untouched.
    expect((await api.call('GET', '/auth/whoami', { token: admin })).status).toBe(200);
    const logouts = (await auditOf('leaver')).filter((e) => e.action === 'auth.logout');
    expect(logouts.map((e) => e.details.all)).toEqual([true, false]);
  });

  it('a password change ends every login of that user, whoever changes it', async () => {
    await api.addUser(admin, 'changer', 'backup-operator', 'changer-password');
    const one = await api.login('changer', 'changer-password');
    const two = await api.login('changer', 'changer-password');
    problemOf(
      await api.call('PUT', '/users/changer/password', {
        token: one,
        body: { password: 'changer-password-2' },
      }),
      400,
      'VALIDATION_FAILED',
    );
    problemOf(
      await api.call('PUT', '/users/changer/password', {
        token: one,
        body: { password: 'changer-password-2', currentPassword: 'wrong-password' },
      }),
      401,
      'INVALID_CREDENTIALS',
    );
    const own = await api.call('PUT', '/users/changer/password', {
      token: one,
      body: { password: 'changer-password-2', currentPassword: 'changer-password' },
    });
    expect(own.status).toBe(204);
    for (const t of [one, two])
      problemOf(await api.call('GET', '/auth/whoami', { token: t }), 401, 'SESSION_EXPIRED');
    problemOf(
      await api.call('POST', '/auth/login', { body: { user: 'changer', password: 'changer-password' } }),
      401,
      'INVALID_CREDENTIALS',
    );
    const three = await api.login('changer', 'changer-password-2');
    // An operator may not set another user's password; an administrator may, and that ends the user's logins.
    problemOf(
      await api.call('PUT', '/users/admin/password', {
        token: three,
        body: { password: 'hijacked-password' },
      }),
      403,
      'FORBIDDEN',
    );
    expect(
      (
        await api.call('PUT', '/users/changer/password', {
          token: admin,
          body: { password: 'changer-password-3' },
        })
      ).status,
    ).toBe(204);
    problemOf(await api.call('GET', '/auth/whoami', { token: three }), 401, 'SESSION_EXPIRED');
    expect((await api.call('GET', '/auth/whoami', { token: admin })).status).toBe(200);
    await api.login('changer', 'changer-password-3');
  });

  it('a disabled or removed user: its logins end and it cannot log in', async () => {
    await api.addUser(admin, 'disabled-one', 'viewer', 'disabled-password');
    const token = await api.login('disabled-one', 'disabled-password');
    expect(
      (await api.call('PATCH', '/users/disabled-one', { token: admin, body: { disabled: true } })).status,
    ).toBe(200);
    problemOf(await api.call('GET', '/auth/whoami', { token }), 401, 'SESSION_EXPIRED');
    problemOf(
      await api.call('POST', '/auth/login', {
        body: { user: 'disabled-one', password: 'disabled-password' },
      }),
      401,
      'INVALID_CREDENTIALS',
    );
    expect(
      (await api.call('PATCH', '/users/disabled-one', { token: admin, body: { disabled: false } })).status,
    ).toBe(200);
    const again = await api.login('disabled-one', 'disabled-password');
    expect((await api.call('DELETE', '/users/disabled-one', { token: admin })).status).toBe(204);
    // The removed user's logins went with it: the token is simply unknown now.
    const gone = problemOf(await api.call('GET', '/auth/whoami', { token: again }), 401);
    expect(['SESSION_EXPIRED', 'UNAUTHENTICATED']).toContain(gone.code);
  });

  it('a login expires after --login-ttl (401 SESSION_EXPIRED)', async () => {
    const short = new Api(shortLived.api);
    const before = Date.now();
    const r = await short.call<{ token: string; expiresAt: string }>('POST', '/auth/login', {
      body: { user: 'admin', password: ADMIN_PASSWORD },
    });
    expect(r.status).toBe(200);
    const expires = Date.parse(r.body.expiresAt);
    expect(expires - before).toBeGreaterThan(1_000);
    expect(expires - before).toBeLessThan(4_000);
    const me = await short.call<{ expiresAt: string }>('GET', '/auth/whoami', { token: r.body.token });
    expect(me.status).toBe(200);
    expect(me.body.expiresAt).toBe(r.body.expiresAt);
    await new Promise((done) => setTimeout(done, Math.max(0, expires - Date.now()) + 100));
    problemOf(await short.call('GET', '/auth/whoami', { token: r.body.token }), 401, 'SESSION_EXPIRED');
    problemOf(await short.call('GET', '/users', { token: r.body.token }), 401, 'SESSION_EXPIRED');
  });
});

describe('the login throttle', () => {
  it('after 5 failures per user and address: 429 TOO_MANY_ATTEMPTS with Retry-After, even with the right password; audited', async () => {
    await api.addUser(admin, 'guessed', 'viewer', 'guessed-password');
    for (let i = 0; i < 5; i++) {
      problemOf(
        await api.call('POST', '/auth/login', { body: { user: 'guessed', password: `guess-${i}-wrong` } }),
        401,
        'INVALID_CREDENTIALS',
      );
    }
    const throttled = await api.call('POST', '/auth/login', {
      body: { user: 'guessed', password: 'guessed-password' },
    });
    const p = problemOf(throttled, 429, 'TOO_MANY_ATTEMPTS');
    const after = Number(throttled.headers.get('retry-after'));
    expect(Number.isInteger(after)).toBe(true);
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(15 * 60);
    expect(p.detail).toMatch(/try again/);
    expect(throttled.text).not.toContain('guessed-password');
    // Another user from the same address is not locked out; the throttled one stays throttled.
    await api.login('admin', ADMIN_PASSWORD);
    problemOf(
      await api.call('POST', '/auth/login', { body: { user: 'guessed', password: 'guessed-password' } }),
      429,
      'TOO_MANY_ATTEMPTS',
    );
    const denied = (await auditOf('guessed')).filter((e) => e.action === 'auth.login');
    expect(denied.every((e) => e.outcome === 'denied')).toBe(true);
    expect(denied.filter((e) => e.details.why === 'throttled')).toHaveLength(2);
    expect(denied.filter((e) => e.details.why !== 'throttled')).toHaveLength(5);
    expect(JSON.stringify(denied)).not.toMatch(/guess-\d-wrong|guessed-password/);
  });

  it('an unknown user is refused like a wrong password (401 INVALID_CREDENTIALS), and audited', async () => {
    const r = await api.call('POST', '/auth/login', {
      body: { user: 'nobody-here', password: 'whatever-password' },
    });
    const p = problemOf(r, 401, 'INVALID_CREDENTIALS');
    expect(p.detail).toBe('wrong user name or password');
    const [entry] = await auditOf('nobody-here');
    expect(entry).toMatchObject({ action: 'auth.login', outcome: 'denied' });
  });
});

describe('cookie sessions', () => {
  it('login {mode: cookie} sets an HttpOnly SameSite=Strict cookie; unsafe requests need X-CSRF-Token (403 CSRF_REQUIRED)', async () => {
    const login = await api.call<{ token?: string; csrfToken: string; user: { name: string } }>(
      'POST',
      '/auth/login',
      { body: { user: 'admin', password: ADMIN_PASSWORD, mode: 'cookie' } },
    );
    expect(login.status).toBe(200);
    expect(login.body.token).toBeUndefined();
    expect(login.body.csrfToken).toMatch(/^[\w-]{16,}$/);
    expect(login.headers.get('cache-control')).toBe('no-store');
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^lifeboat_session=[^;]+;/);
    expect(setCookie).toMatch(/; HttpOnly(;|$)/);
    expect(setCookie).toMatch(/; SameSite=Strict(;|$)/);
    expect(setCookie).toMatch(/; Path=\/api(;|$)/);
    expect(setCookie).not.toMatch(/Secure/); // plain HTTP on loopback
    const cookie = setCookie.split(';')[0]!;
    const csrf = login.body.csrfToken;

    const me = await api.call<{ loginKind: string }>('GET', '/auth/whoami', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.body.loginKind).toBe('cookie');
    expect((await api.call('GET', '/users', { headers: { cookie } })).status).toBe(200);

    const body = { name: 'cookie-made', role: 'viewer', password: 'cookie-password' };
    problemOf(await api.call('POST', '/users', { headers: { cookie }, body }), 403, 'CSRF_REQUIRED');
    problemOf(
      await api.call('POST', '/users', { headers: { cookie, 'x-csrf-token': 'forged-token' }, body }),
      403,
      'CSRF_REQUIRED',
    );
    problemOf(await api.call('GET', '/users/cookie-made', { token: admin }), 404, 'NOT_FOUND');
    expect(
      (await api.call('POST', '/users', { headers: { cookie, 'x-csrf-token': csrf }, body })).status,
    ).toBe(201);

    const patch = { disabled: true };
    problemOf(
      await api.call('PATCH', '/users/cookie-made', { headers: { cookie }, body: patch }),
      403,
      'CSRF_REQUIRED',
    );
    problemOf(await api.call('DELETE', '/users/cookie-made', { headers: { cookie } }), 403, 'CSRF_REQUIRED');
    expect(
      (
        await api.call('PATCH', '/users/cookie-made', {
          headers: { cookie, 'x-csrf-token': csrf },
          body: patch,
        })
      ).status,
    ).toBe(200);
    // Another login's CSRF token does not fit this cookie.
    const other = await api.call<{ csrfToken: string }>('POST', '/auth/login', {
      body: { user: 'admin', password: ADMIN_PASSWORD, mode: 'cookie' },
    });
    problemOf(
      await api.call('DELETE', '/users/cookie-made', {
        headers: { cookie, 'x-csrf-token': other.body.csrfToken },
      }),
      403,
      'CSRF_REQUIRED',
    );
    expect(
      (await api.call('DELETE', '/users/cookie-made', { headers: { cookie, 'x-csrf-token': csrf } })).status,
    ).toBe(204);
    // A bearer token needs no CSRF token: it is never sent by a browser on its own.
    expect((await api.call('POST', '/auth/logout', { token: admin, body: {} })).status).toBe(204);
    admin = await api.login('admin', ADMIN_PASSWORD);

    problemOf(await api.call('POST', '/auth/logout', { headers: { cookie } }), 403, 'CSRF_REQUIRED');
    const out = await api.call('POST', '/auth/logout', { headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^lifeboat_session=;.*Max-Age=0/);
    problemOf(await api.call('GET', '/auth/whoami', { headers: { cookie } }), 401, 'SESSION_EXPIRED');
  });
});

describe('the event stream', () => {
  const created = (events: { event?: string; data: string }[], name: string) =>
    events.some(
      (e) =>
        e.event === 'audit' &&
        JSON.parse(e.data).target === `user/${name}` &&
        JSON.parse(e.data).action === 'user.create',
    );

  it('delivers an audit event of a user creation to an administrator, not to a viewer', async () => {
    await api.addUser(admin, 'watcher', 'viewer', 'watcher-password');
    const viewer = await api.login('watcher', 'watcher-password');
    const adminStream = await EventStream.open(server.api, admin);
    const viewerStream = await EventStream.open(server.api, viewer);
    expect([adminStream.status, viewerStream.status]).toEqual([200, 200]);
    try {
      await api.addUser(admin, 'announced', 'viewer');
      expect(await adminStream.until((ev) => created(ev, 'announced'))).toBe(true);
      // The viewer's stream is open and alive (its own heartbeat aside): it just gets no audit topic.
      await api.addUser(admin, 'announced-2', 'viewer');
      expect(await adminStream.until((ev) => created(ev, 'announced-2'))).toBe(true);
      await new Promise((done) => setTimeout(done, 200));
      expect(viewerStream.ended).toBe(false);
      expect(viewerStream.events.filter((e) => e.event === 'audit')).toEqual([]);
      const event = adminStream.events.find((e) => created([e], 'announced'))!;
      expect(Number(event.id)).toBeGreaterThan(0);
      expect(JSON.parse(event.data)).toMatchObject({
        actor: 'admin',
        outcome: 'ok',
        details: { role: 'viewer' },
      });
    } finally {
      adminStream.close();
      viewerStream.close();
    }
  });

  it('resumes with Last-Event-ID (and ?lastEventId=) after a reconnect: nothing lost, nothing repeated', async () => {
    const first = await EventStream.open(server.api, admin);
    await api.addUser(admin, 'resume-0', 'viewer');
    expect(await first.until((ev) => created(ev, 'resume-0'))).toBe(true);
    const lastSeen = first.events.at(-1)!.id!;
    first.close();
    // While disconnected: three users (each an audit event), then reconnect from the last id seen.
    for (let i = 1; i <= 3; i++) await api.addUser(admin, `resume-${i}`, 'viewer');
    const second = await EventStream.open(server.api, admin, { 'last-event-id': lastSeen });
    const third = await EventStream.open(server.api, admin, {}, `?lastEventId=${lastSeen}`);
    try {
      await api.addUser(admin, 'resume-4', 'viewer');
      for (const stream of [second, third]) {
        expect(await stream.until((ev) => created(ev, 'resume-4'))).toBe(true);
        const ids = stream.events.map((e) => Number(e.id));
        expect(ids[0]).toBe(Number(lastSeen) + 1);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        const names = stream.events
          .filter((e) => e.event === 'audit')
          .map((e) => JSON.parse(e.data))
          .filter((d) => d.action === 'user.create')
          .map((d) => d.target);
        expect(names).toEqual(['user/resume-1', 'user/resume-2', 'user/resume-3', 'user/resume-4']);
      }
      // The ids are the audit log's events, with none skipped between the replay and the live stream.
      const ids = second.events.map((e) => Number(e.id));
      expect(ids).toEqual(ids.map((_, i) => Number(lastSeen) + 1 + i));
    } finally {
      second.close();
      third.close();
    }
  });

  it('an open stream follows its login: ended by logout or a disabled user, narrowed by a demotion', async () => {
    await api.addUser(admin, 'stream-admin', 'administrator', 'stream-admin-password');
    const [leaving, disabled, demoted] = [
      await api.login('stream-admin', 'stream-admin-password'),
      await api.login('stream-admin', 'stream-admin-password'),
      await api.login('stream-admin', 'stream-admin-password'),
    ];
    const ended = await EventStream.open(server.api, leaving);
    expect((await api.call('POST', '/auth/logout', { token: leaving, body: {} })).status).toBe(204);
    expect(await ended.end(5_000)).toBe(true);
    await api.addUser(admin, 'after-logout', 'viewer');
    expect(ended.events.some((e) => e.data.includes('after-logout'))).toBe(false);

    const narrowed = await EventStream.open(server.api, demoted);
    const stopped = await EventStream.open(server.api, disabled);
    try {
      await api.addUser(admin, 'before-demotion', 'viewer');
      expect(await narrowed.until((ev) => created(ev, 'before-demotion'))).toBe(true);
      const patch = await api.call('PATCH', '/users/stream-admin', {
        token: admin,
        body: { role: 'viewer' },
      });
      expect(patch.status).toBe(200);
      await api.addUser(admin, 'after-demotion', 'viewer');
      await new Promise((done) => setTimeout(done, 300));
      expect(narrowed.ended).toBe(false);
      expect(narrowed.events.some((e) => e.data.includes('after-demotion'))).toBe(false);
      expect(
        (await api.call('PATCH', '/users/stream-admin', { token: admin, body: { disabled: true } })).status,
      ).toBe(200);
      expect(await stopped.end(5_000)).toBe(true);
      expect(await narrowed.end(5_000)).toBe(true);
    } finally {
      narrowed.close();
      stopped.close();
    }
  });

  it('refuses an event stream without a login (401); HEAD answers the headers without opening a stream', async () => {
    const head = await fetch(`${server.api}/events`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${admin}` },
      signal: AbortSignal.timeout(5_000),
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const r = await fetch(`${server.api}/events`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { code: string }).code).toBe('UNAUTHENTICATED');
  });
});
