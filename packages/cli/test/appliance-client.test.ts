/**
 * The CLI as a client of the appliance (issue 15), against a fake appliance over plain HTTP on loopback: what the
 * CLI sends (Authorization, If-Match, Idempotency-Key, passwords only in bodies), how problem+json answers become
 * exit codes and one-line errors, the credentials file, LIFEBOAT_TOKEN, paging, --json shapes, and audit --follow.
 */
import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applianceExit, Cli, expectApplianceFailure, FakeAppliance } from './appliance-fake.js';
import { BIN, expectOneLineError, ROOT, removeDir, tempDir } from './helpers.js';

let fake: FakeAppliance;
let cli: Cli;
let dir: string;

beforeAll(() => {
  dir = tempDir('appliance-client');
});
afterAll(() => removeDir(dir));

beforeEach(async () => {
  fake = await new FakeAppliance().start();
  cli = new Cli(fake.url);
});
afterEach(async () => {
  await fake.stop();
  removeDir(cli.config);
});

describe('login', () => {
  it('saves the token 0600 in a 0700 folder, prints no secret, and sends the password only in the body', async () => {
    const r = await cli.login();
    expect(r.stdout).toContain(`logged in to ${fake.url} as admin (administrator)`);
    const [login] = fake.sent('POST', '/auth/login');
    expect(JSON.parse(login!.body)).toEqual({ user: 'admin', password: 'admin-secret', mode: 'token' });
    expect(login!.headers['idempotency-key']).toMatch(/^[\x21-\x7e]{1,200}$/);
    expect(login!.headers['content-type']).toBe('application/json');
    expect(statSync(cli.credentialsFile).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(cli.credentialsFile)).mode & 0o777).toBe(0o700);
    const creds = cli.credentials();
    expect(creds.current).toBe(fake.url);
    const saved = creds.servers[fake.url]!;
    expect(saved.user).toBe('admin');
    expect(fake.tokens.get(saved.token!)).toBe('admin');
    expect(Date.parse(saved.expiresAt!)).toBeGreaterThan(Date.now());
    expect(JSON.stringify(creds)).not.toContain('admin-secret');
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain(saved.token!);
      expect(out).not.toContain('admin-secret');
    }
  });

  it('reads the password from --login-password-file; --password-file stays the repository password', async () => {
    const file = join(dir, 'login-password');
    writeFileSync(file, 'viewer-secret\nignored\n');
    const repoFile = join(dir, 'repo-password');
    writeFileSync(repoFile, 'not-this-one\n');
    await cli.ok(['--password-file', repoFile, 'login', '--user', 'viewer', '--login-password-file', file], {
      LIFEBOAT_PASSWORD: 'nor-this-one',
    });
    expect(JSON.parse(fake.sent('POST', '/auth/login')[0]!.body).password).toBe('viewer-secret');
  });

  it('takes no password from the command line, and asks for one only at a terminal', async () => {
    const r = await cli.run(['login', '--password', 'admin-secret']);
    expect(r.code).toBe(2);
    expect(fake.requests).toHaveLength(0);
    const none = await cli.run(['login']);
    expect(none.code).toBe(2);
    expectOneLineError(none.stderr);
    expect(none.stderr).toContain('LIFEBOAT_LOGIN_PASSWORD');
    expect(none.stderr).toContain('--login-password-file');
    expect(fake.requests).toHaveLength(0);
  });

  it('--json prints the user, role, server and expiry, never the token', async () => {
    const out = await cli.json<Record<string, unknown>>(['login', '--user', 'viewer'], {
      LIFEBOAT_LOGIN_PASSWORD: 'viewer-secret',
    });
    expect(Object.keys(out).sort()).toEqual(['expiresAt', 'role', 'server', 'user']);
    expect(out).toMatchObject({ server: fake.url, user: 'viewer', role: 'viewer' });
  });

  it('a wrong password exits 4; a throttled login exits 6 and says when to retry', async () => {
    const wrong = await cli.run(['login'], { LIFEBOAT_LOGIN_PASSWORD: 'nope' });
    expectApplianceFailure(wrong, 4, /wrong user name or password/);
    const throttled = await cli.run(['login', '--user', 'throttled'], { LIFEBOAT_LOGIN_PASSWORD: 'x' });
    expectApplianceFailure(throttled, 6, /too many failed logins \(retry in 30 s\)/);
  });

  it('--server wins over LIFEBOAT_SERVER, and later commands use the server of the last login', async () => {
    const other = await new FakeAppliance().start();
    try {
      await cli.login('admin', 'admin-secret', ['--server', `${other.url}/api/v1/`]);
      expect(other.sent('POST', '/auth/login')).toHaveLength(1);
      expect(fake.requests).toHaveLength(0);
      expect(cli.credentials().current).toBe(other.url);
      const me = await cli.json<{ server: string }>(['whoami'], { LIFEBOAT_SERVER: undefined });
      expect(me.server).toBe(other.url);
      expect(other.sent('GET', '/auth/whoami')).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });
});

describe('authenticated requests', () => {
  it('send the saved token as a bearer; LIFEBOAT_TOKEN overrides it', async () => {
    await cli.login();
    const saved = cli.credentials().servers[fake.url]!.token!;
    const me = await cli.json<Record<string, unknown>>(['whoami']);
    expect(me).toMatchObject({ server: fake.url, name: 'admin', role: 'administrator', loginKind: 'token' });
    expect(fake.sent('GET', '/auth/whoami')[0]!.headers.authorization).toBe(`Bearer ${saved}`);
    const other = fake.issueToken('viewer');
    const asViewer = await cli.json<{ name: string }>(['whoami'], { LIFEBOAT_TOKEN: other });
    expect(asViewer.name).toBe('viewer');
    expect(fake.sent('GET', '/auth/whoami')[1]!.headers.authorization).toBe(`Bearer ${other}`);
  });

  it('work with LIFEBOAT_TOKEN and no saved login at all', async () => {
    const token = fake.issueToken('admin');
    const users = await cli.json<Array<{ name: string }>>(['user', 'list'], { LIFEBOAT_TOKEN: token });
    expect(users.map((u) => u.name)).toEqual(['admin', 'viewer']);
  });

  it('without a login exit 4 before sending anything', async () => {
    const r = await cli.run(['user', 'list']);
    expectApplianceFailure(r, 4, /not logged in to .*run `lifeboat login`/);
    expect(fake.requests).toHaveLength(0);
  });

  it('a token the appliance refuses exits 4 and says to log in', async () => {
    const r = await cli.run(['whoami'], { LIFEBOAT_TOKEN: 'revoked' });
    expectApplianceFailure(r, 4, /no valid login token: run `lifeboat login`/);
  });

  it('a role without the permission exits 4', async () => {
    const r = await cli.run(['user', 'list'], { LIFEBOAT_TOKEN: fake.issueToken('viewer') });
    expectApplianceFailure(r, 4, /the role viewer may not do this/);
  });

  it('an unreachable appliance exits 10 and names the URL', async () => {
    const url = fake.url;
    await fake.stop();
    const r = await cli.run(['whoami'], { LIFEBOAT_TOKEN: 'x' });
    expectApplianceFailure(
      r,
      10,
      new RegExp(`cannot reach the appliance at ${url}: ECONNREFUSED.*LIFEBOAT_SERVER`),
    );
    fake = await new FakeAppliance().start(); // for afterEach
  });

  it('refuses plain HTTP beyond loopback before connecting', async () => {
    const r = await cli.run(['login'], {
      LIFEBOAT_SERVER: 'http://appliance.invalid:7420',
      LIFEBOAT_LOGIN_PASSWORD: 'x',
    });
    expectApplianceFailure(r, 2, /refusing plain HTTP/);
  });

  it('an internal error exits 1 with the detail on one line', async () => {
    const r = await cli.run(['user', 'show', 'boom'], { LIFEBOAT_TOKEN: fake.issueToken('admin') });
    expectApplianceFailure(r, 1, /internal error \(log line 4f2a\)/);
  });
});

describe('user', () => {
  let env: Record<string, string>;
  beforeEach(async () => {
    await cli.login();
    env = {};
  });

  it('list follows nextCursor to the end, or stops at --limit; tables by default', async () => {
    for (const n of ['carol', 'dave', 'erin']) fake.addUser(n, 'viewer', 'pw');
    const all = await cli.json<Array<Record<string, unknown>>>(['user', 'list']);
    expect(all.map((u) => u.name)).toEqual(['admin', 'carol', 'dave', 'erin', 'viewer']);
    expect(Object.keys(all[0]!).sort()).toEqual(
      [
        'createdAt',
        'disabled',
        'id',
        'name',
        'passwordChangedAt',
        'restoreTags',
        'role',
        'updatedAt',
        'version',
      ].sort(),
    );
    expect(fake.sent('GET', '/users').length).toBe(3);
    const three = await cli.json<unknown[]>(['user', 'list', '--limit', '3']);
    expect(three).toHaveLength(3);
    const table = await cli.ok(['user', 'list']);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^name\s+role\s+status\s+restore tags\s+updated$/);
    expect(lines[1]).toMatch(/^admin\s+administrator\s+enabled\s+-\s+\d+ s ago$/);
    expect(lines).toHaveLength(6);
  });

  it('add sends name, role, tags and the new password in the body with an Idempotency-Key', async () => {
    const u = await cli.json<Record<string, unknown>>(
      [
        'user',
        'add',
        'alice',
        '--role',
        'restore-operator',
        '--restore-tag',
        'env=prod',
        '--restore-tag',
        'team=a',
      ],
      { LIFEBOAT_NEW_PASSWORD: 'alice-secret' },
    );
    expect(u).toMatchObject({
      name: 'alice',
      role: 'restore-operator',
      restoreTags: { env: 'prod', team: 'a' },
    });
    const [post] = fake.sent('POST', '/users');
    expect(JSON.parse(post!.body)).toEqual({
      name: 'alice',
      role: 'restore-operator',
      password: 'alice-secret',
      restoreTags: { env: 'prod', team: 'a' },
    });
    expect(post!.headers['idempotency-key']).toBeTruthy();
    expect(post!.headers['idempotency-key']).not.toBe(
      fake.sent('POST', '/auth/login')[0]!.headers['idempotency-key'],
    );
    expect(post!.headers.authorization).toMatch(/^Bearer /);
    const text = await cli.ok(['user', 'add', 'bob', '--role', 'viewer'], {
      LIFEBOAT_NEW_PASSWORD: 'bob-secret',
    });
    expect(text.stdout).toBe('added user bob (viewer)\n');
  });

  it('add retries once with the same Idempotency-Key after a dropped connection', async () => {
    fake.dropPosts = 1;
    const r = await cli.ok(['user', 'add', 'alice', '--role', 'viewer'], { LIFEBOAT_NEW_PASSWORD: 'pw' });
    expect(r.stdout).toContain('added user alice');
    const posts = fake.sent('POST', '/users');
    expect(posts).toHaveLength(2);
    expect(posts[1]!.headers['idempotency-key']).toBe(posts[0]!.headers['idempotency-key']);
    expect(posts[1]!.body).toBe(posts[0]!.body);
  });

  it('add: a taken name exits 9, an invalid one 2, a bad role or tag 2 without a request', async () => {
    const taken = await cli.run(['user', 'add', 'viewer', '--role', 'viewer'], {
      LIFEBOAT_NEW_PASSWORD: 'pw',
    });
    expectApplianceFailure(taken, 9, /the user viewer exists already/);
    const invalid = await cli.run(['user', 'add', 'Not Valid', '--role', 'viewer'], {
      LIFEBOAT_NEW_PASSWORD: 'pw',
    });
    expectApplianceFailure(invalid, 2, /is not a valid user name/);
    const before = fake.requests.length;
    const role = await cli.run(['user', 'add', 'x', '--role', 'root'], { LIFEBOAT_NEW_PASSWORD: 'pw' });
    expect(role.code).toBe(2);
    const tag = await cli.run(['user', 'add', 'x', '--role', 'viewer', '--restore-tag', 'novalue'], {
      LIFEBOAT_NEW_PASSWORD: 'pw',
    });
    expect(tag.code).toBe(2);
    expect(tag.stderr).toContain('expected KEY=VALUE');
    const noPassword = await cli.run(['user', 'add', 'x', '--role', 'viewer']);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toContain('LIFEBOAT_NEW_PASSWORD');
    expect(fake.requests.length).toBe(before);
  });

  it('show prints the user, 404 exits 5', async () => {
    const shown = await cli.ok(['user', 'show', 'viewer']);
    expect(shown.stdout).toMatch(/^name:\s+viewer$/m);
    expect(shown.stdout).toMatch(/^restore tags:\s+- \(unlimited\)$/m);
    const missing = await cli.run(['user', 'show', 'nobody']);
    expectApplianceFailure(missing, 5, /no user nobody/);
  });

  it('set reads the ETag and sends it as If-Match with only the changes', async () => {
    const u = await cli.json<Record<string, unknown>>([
      'user',
      'set',
      'viewer',
      '--role',
      'restore-operator',
      '--restore-tag',
      'env=prod',
      '--disable',
    ]);
    expect(u).toMatchObject({
      role: 'restore-operator',
      restoreTags: { env: 'prod' },
      disabled: true,
      version: 2,
    });
    const [patch] = fake.sent('PATCH', '/users/viewer');
    expect(patch!.headers['if-match']).toBe('"1"');
    expect(JSON.parse(patch!.body)).toEqual({
      role: 'restore-operator',
      restoreTags: { env: 'prod' },
      disabled: true,
    });
    await cli.ok(['user', 'set', 'viewer', '--no-restore-tags', '--enable']);
    const second = fake.sent('PATCH', '/users/viewer')[1]!;
    expect(second.headers['if-match']).toBe('"2"');
    expect(JSON.parse(second.body)).toEqual({ restoreTags: null, disabled: false });
    const nothing = await cli.run(['user', 'set', 'viewer']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing to change');
  });

  it('set: a change in between exits 9 (412) with the detail; the last administrator exits 9 (409)', async () => {
    fake.bumpAfterGet = true;
    const stale = await cli.run(['user', 'set', 'viewer', '--role', 'administrator']);
    expectApplianceFailure(
      stale,
      9,
      /user viewer changed since you read it \(version 2, you sent 1\): read it again/,
    );
    fake.bumpAfterGet = false;
    const last = await cli.run(['user', 'set', 'admin', '--role', 'viewer']);
    expectApplianceFailure(last, 9, /admin is the last enabled administrator/);
  });

  it('remove sends If-Match; the last administrator exits 9', async () => {
    const r = await cli.ok(['user', 'remove', 'viewer']);
    expect(r.stdout).toBe('removed user viewer\n');
    expect(fake.sent('DELETE', '/users/viewer')[0]!.headers['if-match']).toBe('"1"');
    expect(fake.users.has('viewer')).toBe(false);
    const last = await cli.run(['user', 'remove', 'admin']);
    expectApplianceFailure(last, 9, /last enabled administrator/);
    expect(await cli.json(['user', 'remove', 'nobody']).catch((e: Error) => e.message)).toMatch(
      new RegExp(`exited ${applianceExit(5)}`),
    );
  });

  it("passwd changes one's own password with the current one, then the saved login is gone", async () => {
    const r = await cli.ok(['user', 'passwd'], {
      LIFEBOAT_LOGIN_PASSWORD: 'admin-secret',
      LIFEBOAT_NEW_PASSWORD: 'new-admin-secret',
    });
    expect(r.stdout).toContain('every login of admin was revoked');
    expect(r.stdout).toContain('lifeboat login');
    const [put] = fake.sent('PUT', '/users/admin/password');
    expect(JSON.parse(put!.body)).toEqual({ password: 'new-admin-secret', currentPassword: 'admin-secret' });
    expect(cli.credentials().servers[fake.url]!.token).toBeUndefined();
    const after = await cli.run(['whoami']);
    expectApplianceFailure(after, 4, /not logged in/);
    await cli.login('admin', 'new-admin-secret');
  });

  it("passwd NAME sets another user's password without a current one", async () => {
    await cli.ok(['user', 'passwd', 'viewer'], { LIFEBOAT_NEW_PASSWORD: 'v2', ...env });
    expect(JSON.parse(fake.sent('PUT', '/users/viewer/password')[0]!.body)).toEqual({ password: 'v2' });
    expect(cli.credentials().servers[fake.url]!.token).toBeTruthy();
  });

  it('passwd with a wrong current password exits 4', async () => {
    const r = await cli.run(['user', 'passwd'], {
      LIFEBOAT_LOGIN_PASSWORD: 'wrong',
      LIFEBOAT_NEW_PASSWORD: 'x',
    });
    expectApplianceFailure(r, 4, /current password is wrong/);
  });
});

describe('logout', () => {
  it('ends the login on the appliance and forgets the token', async () => {
    await cli.login();
    const token = cli.credentials().servers[fake.url]!.token!;
    const r = await cli.ok(['logout']);
    expect(r.stdout).toBe(`logged out of ${fake.url}\n`);
    expect(fake.sent('POST', '/auth/logout')[0]!.headers.authorization).toBe(`Bearer ${token}`);
    expect(fake.tokens.has(token)).toBe(false);
    expect(cli.credentials().servers[fake.url]!.token).toBeUndefined();
    await cli.login();
    await cli.ok(['logout', '--all']);
    expect(JSON.parse(fake.sent('POST', '/auth/logout')[1]!.body)).toEqual({ all: true });
  });

  it('forgets a token the appliance no longer knows', async () => {
    await cli.login();
    fake.tokens.clear();
    await cli.ok(['logout']);
    expect(cli.credentials().servers[fake.url]!.token).toBeUndefined();
  });
});

describe('audit', () => {
  const entry = (id: number, actor: string, action: string) => ({
    id,
    at: new Date(Date.UTC(2025, 5, 1, 12, 0, id)).toISOString(),
    actor,
    address: '127.0.0.1',
    action,
    target: `user/${actor}`,
    outcome: 'ok',
    reason: null,
    details: {},
  });

  it('lists newest first with filters passed as query parameters, following cursors up to --limit', async () => {
    for (let i = 5; i >= 1; i--)
      fake.audit.push(entry(i, i % 2 ? 'admin' : 'bob', i % 2 ? 'user.create' : 'auth.login'));
    const token = fake.issueToken('admin');
    const all = await cli.json<Array<{ id: number }>>(['audit'], { LIFEBOAT_TOKEN: token });
    expect(all.map((e) => e.id)).toEqual([5, 4, 3, 2, 1]);
    const limited = await cli.json<Array<{ id: number }>>(['audit', '--limit', '3'], {
      LIFEBOAT_TOKEN: token,
    });
    expect(limited.map((e) => e.id)).toEqual([5, 4, 3]);
    await cli.ok(['audit', '--actor', 'admin', '--action', 'user.', '--since', '2025-06-01T12:00:00Z'], {
      LIFEBOAT_TOKEN: token,
    });
    const q = new URL(fake.sent('GET', '/audit').at(-1)!.url, 'http://x').searchParams;
    expect(q.get('actor')).toBe('admin');
    expect(q.get('action')).toBe('user.');
    expect(q.get('since')).toBe('2025-06-01T12:00:00.000Z');
    const table = await cli.ok(['audit', '--limit', '2'], { LIFEBOAT_TOKEN: token });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^time \(UTC\)\s+actor\s+action\s+target\s+outcome\s+reason$/);
    expect(lines[1]).toMatch(/^2025-06-01 12:00:05\s+admin\s+user\.create\s+user\/admin\s+ok$/);
    const bad = await cli.run(['audit', '--since', 'yesterday-ish'], { LIFEBOAT_TOKEN: token });
    expect(bad.code).toBe(2);
  });

  it('--follow prints audit events, reconnects with Last-Event-ID, and stops on SIGINT with exit 0', async () => {
    fake.audit.push(entry(1, 'admin', 'auth.login'));
    fake.onEvents = (res, n) => {
      if (n === 0) {
        res.write(`id: 10\nevent: audit\ndata: ${JSON.stringify(entry(2, 'admin', 'user.create'))}\n\n`);
        res.write('id: 11\nevent: user.changed\ndata: {"name":"alice"}\n\n');
        // the listed entry again (delivered twice): printed once
        res.write(`id: 12\nevent: audit\ndata: ${JSON.stringify(entry(1, 'admin', 'auth.login'))}\n\n`);
        setTimeout(() => res.socket?.destroy(), 50);
      } else {
        res.write(`id: 13\nevent: audit\ndata: ${JSON.stringify(entry(3, 'bob', 'user.remove'))}\n\n`);
      }
    };
    const child = spawn(process.execPath, [BIN, '--json', 'audit', '--follow'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: cli.config,
        XDG_CONFIG_HOME: cli.config,
        LIFEBOAT_SERVER: fake.url,
        LIFEBOAT_TOKEN: fake.issueToken('admin'),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const deadline = Date.now() + 20_000;
    while (stdout.trimEnd().split('\n').filter(Boolean).length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const ids = stdout
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids).toEqual([1, 2, 3]);
    expect(fake.eventConnections).toEqual([undefined, '12']);
    expect(fake.sent('GET', '/events')[0]!.headers.accept).toBe('text/event-stream');
    expect(stderr).toContain('reconnecting');
  });
});
