/**
 * Issue 15, end to end over one `lifeboat server` process: the OpenAPI description against the routes fastify
 * serves, every operation walked with every role and without a token, bad input of every kind (4xx problem+json,
 * never a 500), lost updates (412), Idempotency-Key replays, and the last administrator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance, can, PERMISSIONS, type Permission, ROLE_PERMISSIONS, SYSTEM } from '@lifeboat/appliance';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  type Answer,
  Api,
  ApplianceProcess,
  problemOf,
  stopAll,
} from './appliance-process.js';

type Role = keyof typeof ROLE_PERMISSIONS;
const ROLES = Object.keys(ROLE_PERMISSIONS) as Role[];
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

interface Operation {
  method: string;
  path: string;
  permission: string;
  hasBody: boolean;
}

let server: ApplianceProcess;
let api: Api;
let admin: string;
let openapi: {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Record<string, unknown>>>;
};
let operations: Operation[];
/** A session that ended, made before the server started (a session's routes need one that exists). */
let sessionId: string;
/** A restore point, put in the catalog before the server started (no snapshot behind it: the walk only reads it). */
const pointId = 'walk-point';

/** A data folder holding one finished session and one restore point, so that the walk finds an existing {id}. */
async function dataWithSession(): Promise<string> {
  const data = join(mkdtempSync(join(tmpdir(), 'lifeboat-api-walk-')), 'data');
  const appliance = await Appliance.open({
    dataDir: data,
    taskKinds: [{ kind: 'walk', run: async () => {} }],
  });
  try {
    await appliance.jobs.start();
    const session = await appliance.jobs.startSession(SYSTEM, { kind: 'walk', tasks: [{}] });
    await appliance.jobs.whenEnded(session.id);
    sessionId = session.id;
    await appliance.catalog.points.insert({
      id: pointId,
      policyId: null,
      policyName: null,
      accountId: null,
      awsAccountId: '111111111111',
      region: 'us-east-1',
      instanceId: 'i-0123456789abcdef0',
      sessionId: null,
      taskId: null,
      createdAt: new Date().toISOString(),
      state: 'available',
      configuration: null,
      overflow: null,
    });
  } finally {
    await appliance.close();
  }
  return data;
}

beforeAll(async () => {
  server = await ApplianceProcess.start({ data: await dataWithSession(), env: await walkAws() });
  api = new Api(server.api);
  admin = await api.login('admin', ADMIN_PASSWORD);
  const r = await api.call<typeof openapi>('GET', '/openapi.json', { token: admin });
  expect(r.status).toBe(200);
  openapi = r.body;
  operations = [];
  for (const [path, ops] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!(METHODS as readonly string[]).includes(method)) continue;
      operations.push({
        method: method.toUpperCase(),
        path,
        permission: String(op['x-permission']),
        hasBody: op.requestBody !== undefined,
      });
    }
  }
});

afterAll(async () => {
  await stopAll();
  await sandbox?.close();
});

/** AWS for the account routes: a sandbox, whose first account's keys register accounts that work. */
let sandbox: RunningSandbox;
async function walkAws(): Promise<Record<string, string>> {
  sandbox = await startSandbox({ fast: true });
  const own = sandbox.accounts[1]!;
  return {
    AWS_ACCESS_KEY_ID: own.accessKeyId,
    AWS_SECRET_ACCESS_KEY: own.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: sandbox.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LIFEBOAT_INVENTORY_INTERVAL: '0',
  };
}
const accountKeys = () => ({
  accessKeyId: sandbox.accounts[0]!.accessKeyId,
  secretAccessKey: sandbox.accounts[0]!.secretAccessKey,
});

/** What fastify itself serves: `printRoutes` of an API built in this process on a scratch data folder. */
async function fastifyRoutes(): Promise<Set<string>> {
  const { buildApi } = await import('@lifeboat/api');
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-api-routes-'));
  const appliance = await Appliance.open({ dataDir: dir });
  try {
    const app = await buildApi({ appliance, log: () => {} });
    const tree = app.printRoutes({ commonPrefix: false });
    await app.close();
    const routes = new Set<string>();
    const stack: string[] = [];
    for (const line of tree.split('\n')) {
      const m = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)/.exec(line);
      if (!m) continue;
      const depth = m[1]!.length / 4;
      stack.length = depth;
      stack.push(m[2]!);
      const path = stack.join('').replace(/:(\w+)/g, '{$1}');
      for (const method of m[3]!.split(', ')) routes.add(`${method} ${path}`);
    }
    return routes;
  } finally {
    await appliance.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the OpenAPI description', () => {
  it('is OpenAPI 3.1 served under /api/v1, and every operation declares a known x-permission', () => {
    expect(openapi.openapi).toBe('3.1.0');
    expect(openapi.servers).toEqual([{ url: '/api/v1' }]);
    expect(operations.length).toBeGreaterThanOrEqual(12);
    for (const op of operations) {
      expect([...PERMISSIONS, 'none'], `${op.method} ${op.path}`).toContain(op.permission);
    }
    const open = operations.filter((o) => o.permission === 'none').map((o) => `${o.method} ${o.path}`);
    expect(open.sort()).toEqual(['GET /health', 'POST /auth/login']);
  });

  it('describes exactly the routes fastify serves (HEAD aside, which GET implies)', async () => {
    const served = await fastifyRoutes();
    const described = new Set(operations.map((o) => `${o.method} /api/v1${o.path}`));
    const servedNoHead = new Set([...served].filter((r) => !r.startsWith('HEAD ')));
    expect([...servedNoHead].sort()).toEqual([...described].sort());
    for (const head of [...served].filter((r) => r.startsWith('HEAD '))) {
      expect(described).toContain(head.replace(/^HEAD/, 'GET'));
    }
  });

  it('answers a method or path it does not describe with 404 problem+json', async () => {
    for (const path of Object.keys(openapi.paths)) {
      for (const method of METHODS) {
        if (openapi.paths[path]![method]) continue;
        const concrete = path.replace('{name}', 'admin');
        const r = await api.call(method.toUpperCase(), concrete, {
          token: admin,
          ...(method !== 'get' && { body: {} }),
        });
        problemOf(r, 404, 'NOT_FOUND');
      }
    }
    for (const path of ['/nothing', '/users/admin/nothing', '/../health', '/USERS', '/api/v1/health']) {
      problemOf(await api.call('GET', path, { token: admin }), 404, 'NOT_FOUND');
      problemOf(await api.call('GET', path), 404, 'NOT_FOUND');
    }
    const outside = await new Api(server.origin).call('GET', '/health');
    problemOf(outside, 404, 'NOT_FOUND');
  });

  it('health is the only GET without authentication', async () => {
    const health = await api.call('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', version: expect.any(String) });
    for (const op of operations.filter((o) => o.method === 'GET' && o.path !== '/health')) {
      const path = op.path.replace('{name}', 'admin');
      problemOf(await api.call('GET', path), 401, 'UNAUTHENTICATED');
      problemOf(await api.call('GET', path, { token: 'lb_not-a-token' }), 401, 'UNAUTHENTICATED');
    }
  });
});

describe('every operation with every role', () => {
  const password = (role: string) => `${role}-password-1`;
  const tokens = new Map<Role | 'none', string | undefined>();
  let seq = 0;

  beforeAll(async () => {
    // A walker of each role, administrators included (its password change must not end the others' admin login).
    for (const role of ROLES) await api.addUser(admin, `walk-${role}`, role, password(role));
    await api.addUser(admin, 'walk-target', 'viewer');
    const acct = await api.call('POST', '/accounts', {
      token: admin,
      body: { name: 'walk-target', accessKeys: accountKeys() },
    });
    expect(acct.status, acct.text).toBe(201);
    const policy = await api.call('PUT', '/policies/walk-target', {
      token: admin,
      body: policyDoc('walk-target'),
    });
    expect(policy.status, policy.text).toBe(201);
    tokens.set('none', undefined);
    for (const role of ROLES) tokens.set(role, await relogin(role));
  });

  const nameOf = (role: Role) => `walk-${role}`;
  /** A policy over the account walk-target that selects nothing (no instance carries the tag). */
  const policyDoc = (name: string) => ({
    name,
    resources: { accounts: ['walk-target'], regions: ['us-east-1'], tags: { Walk: 'nothing' } },
    snapshots: { keep: 1 },
  });
  /** A new policy (made as an administrator) when `role` may use it, else the one that exists. */
  async function policyFor(role: Role | 'none', permission: Permission): Promise<string> {
    if (role === 'none' || !can(role, permission)) return 'walk-target';
    const name = `walk-policy-${seq++}`;
    await api.call('PUT', `/policies/${name}`, { token: admin, body: policyDoc(name) });
    return name;
  }
  const relogin = (role: Role) => api.login(nameOf(role), password(role));

  /** The request for an operation made by `role`: a valid body, and a user name that exists. */
  async function requestFor(op: Operation, role: Role | 'none') {
    const key = `${op.method} ${op.path}`;
    const self = role === 'none' ? 'walk-target' : nameOf(role);
    const own = role === 'none' ? 'walk-target-password' : password(role);
    switch (key) {
      case 'POST /auth/login':
        return { path: op.path, body: { user: self, password: own } };
      case 'POST /auth/logout':
        return { path: op.path, body: {} };
      case 'POST /users':
        return {
          path: op.path,
          body: { name: `walk-new-${seq++}`, role: 'viewer', password: 'walk-new-password' },
        };
      case 'PATCH /users/{name}':
        return { path: '/users/walk-target', body: { disabled: false } };
      case 'PUT /users/{name}/password':
        return { path: `/users/${self}/password`, body: { password: own, currentPassword: own } };
      case 'DELETE /users/{name}': {
        // Something to remove when allowed; an existing user either way.
        const name = `walk-gone-${seq++}`;
        if (role !== 'none' && can(role, 'users.write')) await api.addUser(admin, name, 'viewer');
        return { path: `/users/${role !== 'none' && can(role, 'users.write') ? name : 'walk-target'}` };
      }
      case 'POST /accounts':
        return { path: op.path, body: { name: `walk-acct-${seq++}`, accessKeys: accountKeys() } };
      case 'POST /inventory/refresh':
        return { path: op.path, body: {} };
      case 'DELETE /accounts/{name}': {
        const name = `walk-gone-acct-${seq++}`;
        const allowed = role !== 'none' && can(role, 'accounts.write');
        if (allowed) {
          await api.call('POST', '/accounts', { token: admin, body: { name, accessKeys: accountKeys() } });
        }
        return { path: `/accounts/${allowed ? name : 'walk-target'}` };
      }
      case 'POST /policies':
        return { path: op.path, body: policyDoc(`walk-new-policy-${seq++}`) };
      case 'PUT /policies/{name}':
        return { path: '/policies/walk-target', body: policyDoc('walk-target') };
      case 'POST /policies/{name}/run':
        // A policy of its own each time: a policy's run is refused (409) while its previous one runs.
        return { path: `/policies/${await policyFor(role, 'sessions.write')}/run` };
      case 'DELETE /policies/{name}':
        return { path: `/policies/${await policyFor(role, 'policies.write')}` };
      case 'POST /restore-points/{id}/hold':
        return { path: `/restore-points/${pointId}/hold`, body: { reason: 'walk' } };
      case 'DELETE /restore-points/{id}/hold':
        // Something to release when allowed.
        if (role !== 'none' && can(role, 'points.write')) {
          await api.call('POST', `/restore-points/${pointId}/hold`, {
            token: admin,
            body: { reason: 'walk' },
          });
        }
        return { path: `/restore-points/${pointId}/hold` };
      case 'POST /rescan':
      case 'POST /janitor':
        return { path: op.path, body: {} };
      default:
        if (op.hasBody) throw new Error(`no body for ${key}: add one to this test`);
        return {
          path: op.path
            .replace('{name}', 'walk-target')
            .replace('/restore-points/{id}', `/restore-points/${pointId}`)
            .replace('{id}', sessionId),
        };
    }
  }

  async function send(op: Operation, role: Role | 'none'): Promise<Answer> {
    const req = await requestFor(op, role);
    const token = tokens.get(role);
    if (op.method === 'GET' && op.path === '/events') {
      const controller = new AbortController();
      const res = await fetch(`${server.api}${req.path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: controller.signal,
      });
      const text = res.status === 200 ? '' : await res.text();
      controller.abort();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : text, text };
    }
    return api.call(op.method, req.path, { token, ...('body' in req && { body: req.body }) });
  }

  it('no token: 401 except the public routes; a role without the permission: 403 FORBIDDEN; with it: served', async () => {
    const seen: string[] = [];
    for (const op of operations) {
      for (const role of ['none', ...ROLES] as const) {
        const r = await send(op, role);
        const where = `${role} ${op.method} ${op.path}: ${r.status} ${r.text.slice(0, 200)}`;
        seen.push(`${op.method} ${op.path} ${role} ${r.status}`);
        expect(r.status, where).toBeLessThan(500);
        if (op.permission === 'none') {
          expect([401, 403], where).not.toContain(r.status);
          expect(r.status, where).toBeLessThan(300);
        } else if (role === 'none') {
          problemOf(r, 401, 'UNAUTHENTICATED');
        } else if (!can(role, op.permission as Permission)) {
          problemOf(r, 403, 'FORBIDDEN');
        } else {
          expect([401, 403], where).not.toContain(r.status);
          expect(r.status, where).toBeLessThan(300);
        }
        // Logout and a password change end the login: sign in again for the next operation.
        if (role !== 'none' && r.status === 204 && /logout|password/.test(op.path)) {
          tokens.set(role, await relogin(role));
        }
      }
    }
    expect(seen.length).toBe(operations.length * (ROLES.length + 1));
  });

  it('whoami lists exactly the permissions of ROLE_PERMISSIONS', async () => {
    for (const role of ROLES) {
      const me = await api.call<{ role: string; permissions: string[] }>('GET', '/auth/whoami', {
        token: tokens.get(role),
      });
      expect(me.body.role).toBe(role);
      expect(me.body.permissions.sort()).toEqual([...ROLE_PERMISSIONS[role]].sort());
    }
  });
});

describe('bad input: 4xx problem+json with a code, never a 500', () => {
  const bodyRoutes = () =>
    operations
      .filter((o) => o.hasBody)
      .map((o) => ({
        ...o,
        path: o.path.replace('{name}', 'admin'),
        token: o.permission === 'none' ? undefined : admin,
      }));

  it('malformed JSON 400, unknown field 400, wrong type 400, over 1 MiB 413, not JSON 415 on every route with a body', async () => {
    const big = JSON.stringify({ password: 'x'.repeat(1024 * 1024 + 1) });
    for (const op of bodyRoutes()) {
      const where = `${op.method} ${op.path}`;
      const call = (o: Parameters<Api['call']>[2]) => api.call(op.method, op.path, { token: op.token, ...o });
      problemOf(await call({ raw: '{"user": "admin",' }), 400, 'MALFORMED_JSON');
      problemOf(await call({ raw: "{'single': 'quotes'}" }), 400, 'MALFORMED_JSON');
      const unknown = problemOf(await call({ body: { surprise: true } }), 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(unknown.errors), where).toMatch(/surprise|required/);
      problemOf(
        await call({ body: { password: 12345678, user: ['admin'], name: 7, all: 'yes', role: 1 } }),
        400,
        'VALIDATION_FAILED',
      );
      problemOf(await call({ raw: '[]' }), 400, 'VALIDATION_FAILED');
      problemOf(await call({ raw: '"text"' }), 400, 'VALIDATION_FAILED');
      problemOf(await call({ raw: big }), 413, 'PAYLOAD_TOO_LARGE');
      problemOf(
        await call({ raw: 'user=admin', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      problemOf(
        await call({ raw: 'admin', headers: { 'content-type': 'text/plain' } }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      problemOf(
        await call({ raw: '<user/>', headers: { 'content-type': 'application/xml' } }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      problemOf(await call({ raw: '{"__proto__": {"admin": true}}' }), 400);
      problemOf(await call({ raw: '{"constructor": {"prototype": {"admin": true}}}' }), 400);
    }
  });

  it('unknown fields and wrong types in the documented shapes are named in errors[]', async () => {
    const unknown = problemOf(
      await api.call('POST', '/users', {
        token: admin,
        body: { name: 'fieldy', role: 'viewer', password: 'fieldy-password', isAdmin: true },
      }),
      400,
      'VALIDATION_FAILED',
    );
    expect(unknown.errors).toContainEqual({ path: 'body/isAdmin', message: 'is not a known field' });
    const wrong = problemOf(
      await api.call('POST', '/users', {
        token: admin,
        body: { name: 'typo', role: 'superuser', password: 'p'.repeat(9) },
      }),
      400,
      'VALIDATION_FAILED',
    );
    expect(wrong.errors?.[0]?.path).toBe('body/role');
    const number = problemOf(
      await api.call('PATCH', '/users/admin', { token: admin, body: { disabled: 'false' } }),
      400,
      'VALIDATION_FAILED',
    );
    expect(number.errors?.[0]?.path).toBe('body/disabled');
    // Nothing of the refused requests was created.
    problemOf(await api.call('GET', '/users/fieldy', { token: admin }), 404, 'NOT_FOUND');
  });

  it('bad queries, paths and headers: 400; a body over 1 MiB without Content-Length: 413', async () => {
    const bad: Array<[string, string, Record<string, string>?]> = [
      ['GET', '/users?limit=0'],
      ['GET', '/users?limit=501'],
      ['GET', '/users?limit=ten'],
      ['GET', '/users?cursor=not-a-cursor'],
      ['GET', '/users?surprise=1'],
      ['GET', '/audit?since=yesterday'],
      ['GET', '/audit?limit=-1'],
      ['GET', `/users/${'a'.repeat(65)}`],
      ['GET', '/users/%ff'],
      ['GET', '/events?lastEventId=abc'],
      ['GET', '/events', { 'last-event-id': 'abc' }],
      ['POST', '/users', { 'idempotency-key': 'é' }],
    ];
    for (const [method, path, headers] of bad) {
      const r = await api.call(method, path, {
        token: admin,
        headers: headers ?? {},
        ...(method === 'POST' && { body: { name: 'idem', role: 'viewer', password: 'idem-password' } }),
      });
      problemOf(r, 400, 'VALIDATION_FAILED');
    }
    // Chunked (no Content-Length), a chunk at a time: the server answers 413 once past 1 MiB and closes. Bytes it
    // never read make its kernel reset the connection, which can reach the client before the answer does (EPIPE,
    // ECONNRESET): a race of TCP, not of the API. So: up to five uploads, and one must be answered 413.
    const upload = () =>
      new Promise<{ status: number; text: string } | 'reset'>((done, fail) => {
        let answered = false;
        const req = httpRequest(
          `${server.api}/users`,
          {
            method: 'POST',
            headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          },
          (res) => {
            answered = true;
            let text = '';
            res.setEncoding('utf8').on('data', (t: string) => (text += t));
            res.on('end', () => done({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => {
          setTimeout(() => {
            if (answered) return;
            if (err.code === 'EPIPE' || err.code === 'ECONNRESET') done('reset');
            else fail(err);
          }, 500);
        });
        const chunk = Buffer.alloc(100_000, 0x20);
        let sent = 0;
        const next = () => {
          if (answered || req.destroyed) return;
          if (sent++ === 12) {
            req.end();
            return;
          }
          if (req.write(chunk)) setImmediate(next);
          else req.once('drain', next);
        };
        next();
      });
    let answer: { status: number; text: string } | 'reset' = 'reset';
    for (let i = 0; i < 5 && answer === 'reset'; i++) answer = await upload();
    if (answer === 'reset') throw new Error('five uploads over 1 MiB were all reset before the 413 arrived');
    expect(answer.status).toBe(413);
    expect((JSON.parse(answer.text) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a Content-Length that lies, and a GET with a body, are refused without a 500', async () => {
    const raw = (method: string, headers: Record<string, string | number>, body: string) =>
      new Promise<{ status: number; text: string }>((done, fail) => {
        const req = httpRequest(
          `${server.api}/users`,
          { method, headers: { authorization: `Bearer ${admin}`, ...headers } },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (s: string) => (text += s));
            res.on('end', () => done({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', fail);
        req.end(body);
      });
    const getWithBody = await raw(
      'GET',
      { 'content-type': 'application/json', 'content-length': 5 },
      '{bad}',
    );
    expect(getWithBody.status).toBeLessThan(500);
    const short = await raw('POST', { 'content-type': 'application/json', 'content-length': 2 }, '{"na');
    expect(short.status).toBeGreaterThanOrEqual(400);
    expect(short.status).toBeLessThan(500);
  });
});

describe('lost updates, idempotency, the last administrator', () => {
  it('PATCH with a stale ETag is 412 PRECONDITION_FAILED and changes nothing; DELETE and PUT password too', async () => {
    await api.addUser(admin, 'etag-user', 'viewer');
    const read = await api.call<{ version: number; role: string }>('GET', '/users/etag-user', {
      token: admin,
    });
    const etag = read.headers.get('etag')!;
    expect(etag).toBe(`"${read.body.version}"`);
    const first = await api.call<{ version: number; role: string }>('PATCH', '/users/etag-user', {
      token: admin,
      body: { role: 'backup-operator' },
      headers: { 'if-match': etag },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe(`"${read.body.version + 1}"`);
    const lost = await api.call('PATCH', '/users/etag-user', {
      token: admin,
      body: { role: 'viewer', disabled: true },
      headers: { 'if-match': etag },
    });
    problemOf(lost, 412, 'PRECONDITION_FAILED');
    const after = await api.call<{ version: number; role: string; disabled: boolean }>(
      'GET',
      '/users/etag-user',
      {
        token: admin,
      },
    );
    expect(after.body).toMatchObject({
      version: read.body.version + 1,
      role: 'backup-operator',
      disabled: false,
    });
    problemOf(
      await api.call('PATCH', '/users/etag-user', {
        token: admin,
        body: { disabled: true },
        headers: { 'if-match': 'garbage' },
      }),
      412,
      'PRECONDITION_FAILED',
    );
    problemOf(
      await api.call('PUT', '/users/etag-user/password', {
        token: admin,
        body: { password: 'another-password' },
        headers: { 'if-match': etag },
      }),
      412,
      'PRECONDITION_FAILED',
    );
    problemOf(
      await api.call('DELETE', '/users/etag-user', { token: admin, headers: { 'if-match': etag } }),
      412,
      'PRECONDITION_FAILED',
    );
    expect((await api.call('GET', '/users/etag-user', { token: admin })).status).toBe(200);
    const current = first.headers.get('etag')!;
    expect(
      (await api.call('DELETE', '/users/etag-user', { token: admin, headers: { 'if-match': current } }))
        .status,
    ).toBe(204);
    problemOf(await api.call('GET', '/users/etag-user', { token: admin }), 404, 'NOT_FOUND');
  });

  it('an Idempotency-Key replays the same 201 and creates one user; the same key with another body is 422', async () => {
    const body = { name: 'idem-user', role: 'viewer', password: 'idem-password' };
    const headers = { 'idempotency-key': 'create-idem-user-1' };
    const first = await api.call('POST', '/users', { token: admin, body, headers });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await api.call('POST', '/users', { token: admin, body, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(first.text);
    const list = await api.call<{ items: Array<{ name: string }> }>('GET', '/users?limit=500', {
      token: admin,
    });
    expect(list.body.items.filter((u) => u.name === 'idem-user')).toHaveLength(1);
    const created = await api.call<{ items: unknown[] }>('GET', '/audit?action=user.create&limit=500', {
      token: admin,
    });
    expect(JSON.stringify(created.body.items).match(/"user\/idem-user"/g)).toHaveLength(1);
    problemOf(
      await api.call('POST', '/users', { token: admin, body: { ...body, role: 'backup-operator' }, headers }),
      422,
      'IDEMPOTENCY_KEY_REUSED',
    );
    // Keys are per user: another administrator's same key is a new request (409: the name is taken).
    await api.addUser(admin, 'idem-admin', 'administrator', 'idem-admin-password');
    const other = await api.login('idem-admin', 'idem-admin-password');
    problemOf(await api.call('POST', '/users', { token: other, body, headers }), 409, 'CONFLICT');
    expect((await api.call('DELETE', '/users/idem-admin', { token: admin })).status).toBe(204);
  });

  it('the last enabled administrator cannot be demoted, disabled or removed (409 LAST_ADMINISTRATOR)', async () => {
    const admins = await api.call<{ items: Array<{ name: string; role: string; disabled: boolean }> }>(
      'GET',
      '/users?limit=500',
      { token: admin },
    );
    // Disable every other administrator (the walk made one), so that admin is the last one enabled.
    for (const u of admins.body.items) {
      if (u.role === 'administrator' && u.name !== 'admin' && !u.disabled) {
        expect(
          (await api.call('PATCH', `/users/${u.name}`, { token: admin, body: { disabled: true } })).status,
        ).toBe(200);
      }
    }
    const before = await api.call<{ version: number }>('GET', '/users/admin', { token: admin });
    problemOf(
      await api.call('PATCH', '/users/admin', { token: admin, body: { role: 'viewer' } }),
      409,
      'LAST_ADMINISTRATOR',
    );
    problemOf(
      await api.call('PATCH', '/users/admin', { token: admin, body: { disabled: true } }),
      409,
      'LAST_ADMINISTRATOR',
    );
    problemOf(await api.call('DELETE', '/users/admin', { token: admin }), 409, 'LAST_ADMINISTRATOR');
    const after = await api.call<{ version: number; role: string; disabled: boolean }>(
      'GET',
      '/users/admin',
      {
        token: admin,
      },
    );
    expect(after.body).toMatchObject({
      version: before.body.version,
      role: 'administrator',
      disabled: false,
    });
    // With a second administrator, one of them may go; a disabled administrator does not count.
    await api.addUser(admin, 'second-admin', 'administrator');
    expect(
      (await api.call('PATCH', '/users/second-admin', { token: admin, body: { disabled: true } })).status,
    ).toBe(200);
    problemOf(
      await api.call('PATCH', '/users/admin', { token: admin, body: { role: 'viewer' } }),
      409,
      'LAST_ADMINISTRATOR',
    );
    expect(
      (await api.call('PATCH', '/users/second-admin', { token: admin, body: { disabled: false } })).status,
    ).toBe(200);
    expect((await api.call('DELETE', '/users/second-admin', { token: admin })).status).toBe(204);
  });
});

describe('concurrent requests', () => {
  const codes = (answers: Answer[]) =>
    answers
      .map(
        (r) =>
          `${r.status}${(r.body as { code?: string })?.code ? ` ${(r.body as { code: string }).code}` : ''}`,
      )
      .sort();

  it('one winner each: the same new name (409), the same Idempotency-Key (409 in progress), the same If-Match (412)', async () => {
    const body = { name: 'racer', role: 'viewer', password: 'racer-password' };
    expect(
      codes(await Promise.all([1, 2, 3].map(() => api.call('POST', '/users', { token: admin, body })))),
    ).toEqual(['201', '409 CONFLICT', '409 CONFLICT']);
    const keyed = await Promise.all(
      [1, 2, 3].map(() =>
        api.call('POST', '/users', {
          token: admin,
          body: { ...body, name: 'racer-keyed' },
          headers: { 'idempotency-key': 'race-1' },
        }),
      ),
    );
    expect(keyed.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of keyed.filter((r) => r.status !== 201)) {
      // Still running when the copy came, or already kept and replayed.
      if (r.status === 409) problemOf(r, 409, 'IDEMPOTENCY_IN_PROGRESS');
      else expect(r.headers.get('idempotent-replayed')).toBe('true');
    }
    const edits = [{ role: 'backup-operator' }, { disabled: true }, { role: 'restore-operator' }];
    const patched = await Promise.all(
      edits.map((b) =>
        api.call('PATCH', '/users/racer', { token: admin, body: b, headers: { 'if-match': '"1"' } }),
      ),
    );
    expect(codes(patched)).toEqual(['200', '412 PRECONDITION_FAILED', '412 PRECONDITION_FAILED']);
    const after = await api.call<{ version: number }>('GET', '/users/racer', { token: admin });
    expect(after.body.version).toBe(2);
  });

  it('two administrators demoting each other at once: one stays (409 LAST_ADMINISTRATOR)', async () => {
    const list = await api.call<{ items: Array<{ name: string; role: string; disabled: boolean }> }>(
      'GET',
      '/users?limit=500',
      { token: admin },
    );
    for (const u of list.body.items) {
      if (u.role === 'administrator' && u.name !== 'admin' && !u.disabled) {
        await api.call('PATCH', `/users/${u.name}`, { token: admin, body: { disabled: true } });
      }
    }
    await api.addUser(admin, 'rival-admin', 'administrator', 'rival-password');
    const rival = await api.login('rival-admin', 'rival-password');
    const answers = await Promise.all([
      api.call('PATCH', '/users/rival-admin', { token: admin, body: { role: 'viewer' } }),
      api.call('PATCH', '/users/admin', { token: rival, body: { role: 'viewer' } }),
    ]);
    // The loser is refused as the last administrator, or as no administrator any more (demoted first): 403.
    expect(codes(answers)[0]).toBe('200');
    expect(['403 FORBIDDEN', '409 LAST_ADMINISTRATOR']).toContain(codes(answers)[1]);
    const after = await api.call<{ items: Array<{ name: string; role: string; disabled: boolean }> }>(
      'GET',
      '/users?limit=500',
      { token: admin },
    );
    expect(after.body.items.filter((u) => u.role === 'administrator' && !u.disabled)).toHaveLength(1);
  });

  it('a flood of logins is capped: the excess is 429 BUSY with Retry-After, never a 500', async () => {
    await api.addUser(admin, 'flooder', 'viewer', 'flooder-password');
    const answers = await Promise.all(
      Array.from({ length: 38 }, () =>
        api.call('POST', '/auth/login', { body: { user: 'flooder', password: 'flooder-password' } }),
      ),
    );
    const busy = answers.filter((r) => r.status === 429);
    expect(answers.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) {
      problemOf(r, 429, 'BUSY');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(answers.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  });
});

describe('lists', () => {
  it('pages with limit and nextCursor: every user once, in name order; audit newest first with filters', async () => {
    const all = await api.call<{ items: Array<{ name: string }>; nextCursor: string | null }>(
      'GET',
      '/users?limit=500',
      { token: admin },
    );
    expect(all.body.nextCursor).toBeNull();
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Answer<{ items: Array<{ name: string }>; nextCursor: string | null }> = await api.call(
        'GET',
        `/users?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { token: admin },
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      names.push(...page.body.items.map((u) => u.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(names).toEqual(all.body.items.map((u) => u.name));
    expect(names).toEqual([...names].sort());

    const audit = await api.call<{ items: Array<{ id: number; action: string; actor: string | null }> }>(
      'GET',
      '/audit?action=user.&limit=500',
      { token: admin },
    );
    expect(audit.body.items.length).toBeGreaterThan(5);
    expect(audit.body.items.every((e) => e.action.startsWith('user.'))).toBe(true);
    const ids = audit.body.items.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const exact = await api.call<{ items: Array<{ action: string }> }>('GET', '/audit?action=user.remove', {
      token: admin,
    });
    expect(exact.body.items.every((e) => e.action === 'user.remove')).toBe(true);
    const future = await api.call<{ items: unknown[] }>('GET', '/audit?since=2999-01-01T00:00:00Z', {
      token: admin,
    });
    expect(future.body.items).toEqual([]);
  });
});
