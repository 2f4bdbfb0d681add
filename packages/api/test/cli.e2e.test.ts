/**
 * Issue 15, end to end through the real CLI against the real appliance: login, whoami, user add/list/set/passwd/
 * remove, audit --json, logout, with the exit codes scripts rely on (4 forbidden or not logged in, 5 unknown user,
 * 9 conflict, 10 certificate refused), and HTTPS with the printed certificate fingerprint pinned.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  ApplianceProcess,
  Cli,
  httpsCall,
  lifeboat,
  oneLineError,
  type RunResult,
  stopAll,
} from './appliance-process.js';

let plain: ApplianceProcess;
let secure: ApplianceProcess;
let api: Api;
let admin: string;

beforeAll(async () => {
  [plain, secure] = await Promise.all([ApplianceProcess.start(), ApplianceProcess.start({ tls: true })]);
  api = new Api(plain.api);
  admin = await api.login('admin', ADMIN_PASSWORD);
});

afterAll(stopAll);

/** The exit code and a single error line (an exit code assertion that fails names what the CLI printed). */
function failed(r: RunResult, code: number, pattern?: RegExp): void {
  expect(r.code, `exit ${r.code}: ${r.stderr}`).toBe(code);
  const line = oneLineError(r.stderr);
  if (pattern) expect(line).toMatch(pattern);
}

interface UserJson {
  name: string;
  role: string;
  restoreTags: Record<string, string> | null;
  disabled: boolean;
  version: number;
}

describe('the CLI against the appliance over HTTP', () => {
  let cli: Cli;

  beforeAll(() => {
    cli = new Cli(plain.origin);
  });

  it('login, whoami, user add/list/set/passwd/remove, audit --json, logout', async () => {
    const login = await cli.ok(['login', '--user', 'admin'], { LIFEBOAT_LOGIN_PASSWORD: ADMIN_PASSWORD });
    expect(login.stdout).toContain(`logged in to ${plain.origin} as admin (administrator)`);
    expect(login.stdout + login.stderr).not.toContain(ADMIN_PASSWORD);

    const me = await cli.json<{ name: string; role: string; loginKind: string; server: string }>(['whoami']);
    expect(me).toMatchObject({
      name: 'admin',
      role: 'administrator',
      loginKind: 'token',
      server: plain.origin,
    });

    const added = await cli.json<UserJson>(['user', 'add', 'bob', '--role', 'viewer'], {
      LIFEBOAT_NEW_PASSWORD: 'bob-password-1',
    });
    expect(added).toMatchObject({ name: 'bob', role: 'viewer', disabled: false, version: 1 });
    await api.login('bob', 'bob-password-1');

    const list = await cli.json<UserJson[]>(['user', 'list']);
    expect(list.map((u) => u.name)).toEqual(expect.arrayContaining(['admin', 'bob']));

    const set = await cli.json<UserJson>([
      'user',
      'set',
      'bob',
      '--role',
      'restore-operator',
      '--restore-tag',
      'env=prod',
    ]);
    expect(set).toMatchObject({
      name: 'bob',
      role: 'restore-operator',
      restoreTags: { env: 'prod' },
      version: 2,
    });
    const disabled = await cli.json<UserJson>(['user', 'set', 'bob', '--disable']);
    expect(disabled.disabled).toBe(true);
    await cli.ok(['user', 'set', 'bob', '--enable']);

    const bobToken = await api.login('bob', 'bob-password-1');
    await cli.ok(['user', 'passwd', 'bob'], { LIFEBOAT_NEW_PASSWORD: 'bob-password-2' });
    expect((await api.call('GET', '/auth/whoami', { token: bobToken })).status).toBe(401);
    await api.login('bob', 'bob-password-2');

    const removed = await cli.json<{ name: string; removed: boolean }>(['user', 'remove', 'bob']);
    expect(removed).toEqual({ name: 'bob', removed: true });
    expect((await api.call('GET', '/users/bob', { token: admin })).status).toBe(404);

    const audit = await cli.json<Array<{ actor: string; action: string; target: string; outcome: string }>>([
      'audit',
      '--actor',
      'admin',
    ]);
    const bob = audit.filter((e) => e.target === 'user/bob').map((e) => e.action);
    // Newest first.
    expect(bob).toEqual([
      'user.remove',
      'user.password',
      'user.update',
      'user.update',
      'user.update',
      'user.create',
    ]);

    const out = await cli.ok(['logout']);
    expect(out.stdout).toContain(`logged out of ${plain.origin}`);
    failed(await cli.run(['whoami']), 4);
  });

  it('exit codes: 4 for a viewer adding a user, 5 for an unknown user, 9 for the last administrator', async () => {
    await api.addUser(admin, 'vera', 'viewer', 'vera-password');
    const viewer = await api.login('vera', 'vera-password');
    const asAdmin = new Cli(plain.origin, { LIFEBOAT_TOKEN: admin });
    const asViewer = new Cli(plain.origin, { LIFEBOAT_TOKEN: viewer });
    const [forbidden, show, remove, demote, removeAdmin] = await Promise.all([
      asViewer.run(['user', 'add', 'mallory', '--role', 'administrator'], {
        LIFEBOAT_NEW_PASSWORD: 'mallory-pass',
      }),
      asAdmin.run(['user', 'show', 'nobody']),
      asAdmin.run(['user', 'remove', 'nobody']),
      asAdmin.run(['user', 'set', 'admin', '--role', 'viewer']),
      asAdmin.run(['user', 'remove', 'admin']),
    ]);
    failed(forbidden, 4, /FORBIDDEN/);
    failed(show, 5, /NOT_FOUND/);
    failed(remove, 5, /NOT_FOUND/);
    failed(demote, 9, /LAST_ADMINISTRATOR/);
    failed(removeAdmin, 9, /LAST_ADMINISTRATOR/);
    expect((await api.call('GET', '/users/mallory', { token: admin })).status).toBe(404);
    const me = await api.call<UserJson>('GET', '/users/admin', { token: admin });
    expect(me.body).toMatchObject({ role: 'administrator', disabled: false });
    // A wrong password at login: 4, and the appliance's words.
    failed(
      await new Cli(plain.origin).run(['login', '--user', 'vera'], { LIFEBOAT_LOGIN_PASSWORD: 'wrong' }),
      4,
      /wrong user name or password/,
    );
  });
});

describe('the CLI against the appliance over HTTPS', () => {
  it('serves the API over TLS with the generated certificate; a cookie login is Secure there', async () => {
    const ca = readFileSync(join(secure.data, 'tls', 'cert.pem'), 'utf8');
    const login = await httpsCall(secure.api, ca, 'POST', '/auth/login', {
      body: { user: 'admin', password: ADMIN_PASSWORD, mode: 'cookie' },
    });
    expect(login.status).toBe(200);
    expect(login.fingerprint).toBe(secure.fingerprint);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Secure/);
    // Plain HTTP to the HTTPS port is not served.
    await expect(fetch(`${secure.api.replace('https:', 'http:')}/health`)).rejects.toThrow();
  });

  it('logs in with the fingerprint the server printed, pins it, and refuses a wrong one (exit 10)', async () => {
    expect(secure.api).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
    expect(secure.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const ca = readFileSync(join(secure.data, 'tls', 'cert.pem'), 'utf8');
    const token = (
      await httpsCall<{ token: string }>(secure.api, ca, 'POST', '/auth/login', {
        body: { user: 'admin', password: ADMIN_PASSWORD },
      })
    ).body.token;
    const logins = async () =>
      (
        await httpsCall<{ items: Array<{ outcome: string }> }>(
          secure.api,
          ca,
          'GET',
          '/audit?action=auth.login',
          {
            token,
          },
        )
      ).body.items;
    const before = await logins();
    const good = new Cli(undefined);
    const wrongFingerprint = secure.fingerprint!.replace(/^(..)/, (b) => (b === 'AA' ? 'BB' : 'AA'));
    const [ok, wrong, unknown, printed] = await Promise.all([
      good.run(
        ['login', '--server', secure.origin, '--user', 'admin', '--fingerprint', secure.fingerprint!],
        {
          LIFEBOAT_LOGIN_PASSWORD: ADMIN_PASSWORD,
        },
      ),
      new Cli(undefined).run(
        ['login', '--server', secure.origin, '--user', 'admin', '--fingerprint', wrongFingerprint],
        {
          LIFEBOAT_LOGIN_PASSWORD: ADMIN_PASSWORD,
        },
      ),
      new Cli(undefined).run(['login', '--server', secure.origin, '--user', 'admin'], {
        LIFEBOAT_LOGIN_PASSWORD: ADMIN_PASSWORD,
      }),
      lifeboat(['server', 'fingerprint', '--data', secure.data]),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`as admin (administrator)`);
    failed(wrong, 10, /CERTIFICATE_CHANGED/);
    expect(wrong.stderr).toContain(secure.fingerprint!);
    failed(unknown, 10, /CERTIFICATE_NOT_TRUSTED/);
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toBe(secure.fingerprint);
    // The pin is saved: later commands check it without --fingerprint.
    const me = await good.json<{ name: string; server: string }>(['whoami']);
    expect(me).toMatchObject({ name: 'admin', server: secure.origin });
    const saved = JSON.parse(readFileSync(join(good.config, 'lifeboat', 'credentials.json'), 'utf8'));
    expect(saved.servers[secure.origin].fingerprint).toBe(secure.fingerprint);
    // The refused logins sent no password: the appliance saw one more login, the good one; audit --json agrees.
    const after = await logins();
    expect(after.length).toBe(before.length + 1);
    expect(after[0]!.outcome).toBe('ok');
    const viaCli = await good.json<Array<{ id: number }>>(['audit', '--action', 'auth.login']);
    expect(viaCli.map((e) => e.id)).toEqual(after.map((e) => (e as unknown as { id: number }).id));
  });
});
