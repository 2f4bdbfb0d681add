/**
 * Issue 17's routes without snapshots: policies and restore points over one `lifeboat server` process (AWS is a
 * sandbox, used only to register the account a policy names). A document's wrong fields come back named in
 * problem+json `errors`, unknown keys included; the path's name must be the document's; 404s; ETag / If-Match
 * (412); the permissions of each role (viewers read, restore operators never reach policy editing); holds on
 * unknown points; and the CLI's `policy create --file` printing each wrong field of a YAML file, exit 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  type Answer,
  Api,
  ApplianceProcess,
  Cli,
  oneLineError,
  problemOf,
  stopAll,
  tempDir,
} from './appliance-process.js';

interface Policy {
  id: string;
  name: string;
  document: Record<string, unknown>;
  enabled: boolean;
  version: number;
  nextRunAt: string | null;
  points: number;
}
interface Report {
  action: string;
  dryRun: boolean;
  policy: Policy | null;
  changedFields: string[];
  selected: unknown[];
  added: string[];
  removed: string[];
  wouldDelete: unknown[];
  warnings: Array<{ code: string; message: string }>;
}

let sandbox: RunningSandbox;
let server: ApplianceProcess;
let api: Api;
let admin: string;
const tokens: Record<string, string> = {};
let cli: Cli;
const work = tempDir('policies');

/** A valid policy over the registered account `prod`. */
const documentOf = (name: string, keep = 7) => ({
  name,
  resources: { accounts: ['prod'], regions: ['us-east-1'], tags: { Environment: 'prod' } },
  schedule: { daily: { times: ['02:00'] }, timezone: 'Europe/Berlin' },
  snapshots: { keep },
});

const call = <T = Record<string, unknown>>(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> => api.call<T>(method, path, { token: admin, ...options });

/** The problem's errors as `path: message` lines, to search. */
const errorLines = (p: { errors?: Array<{ path: string; message: string }> }) =>
  (p.errors ?? []).map((e) => `${e.path}: ${e.message}`);

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
  const own = sandbox.accounts[1]!;
  server = await ApplianceProcess.start({
    env: {
      AWS_ACCESS_KEY_ID: own.accessKeyId,
      AWS_SECRET_ACCESS_KEY: own.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: sandbox.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    args: ['--inventory-interval', '0'],
  });
  api = new Api(server.api);
  admin = await api.login('admin', ADMIN_PASSWORD);
  const account = await call('POST', '/accounts', {
    body: {
      name: 'prod',
      accessKeys: {
        accessKeyId: sandbox.accounts[0]!.accessKeyId,
        secretAccessKey: sandbox.accounts[0]!.secretAccessKey,
      },
    },
  });
  expect(account.status, account.text).toBe(201);
  for (const role of ['backup-operator', 'restore-operator', 'viewer']) {
    await api.addUser(admin, role.replace('-operator', ''), role, `${role}-password-1`);
    tokens[role] = await api.login(role.replace('-operator', ''), `${role}-password-1`);
  }
  cli = new Cli(server.origin, { LIFEBOAT_TOKEN: admin });
}, 120_000);

afterAll(async () => {
  await stopAll();
  await sandbox?.close();
});

describe('policy documents: validation names each wrong field', () => {
  it('a document with wrong fields and an unknown key: 400 VALIDATION_FAILED, each field in errors[], nothing stored', async () => {
    const r = await call('POST', '/policies', {
      body: {
        name: 'broken',
        resources: { accounts: ['prod'], regions: ['nowhere'], tags: { Environment: 'prod' } },
        schedule: { daily: { times: ['25:00'] } },
        snapshots: { keep: 0 },
        surprise: true,
      },
    });
    const p = problemOf(r, 400, 'VALIDATION_FAILED');
    const lines = errorLines(p);
    expect(lines.length, lines.join('\n')).toBeGreaterThanOrEqual(4);
    for (const e of p.errors!) {
      expect(e.path, JSON.stringify(e)).toEqual(expect.any(String));
      expect(e.message, JSON.stringify(e)).toEqual(expect.any(String));
    }
    expect(
      lines.some((l) => l.includes('surprise')),
      lines.join('\n'),
    ).toBe(true);
    expect(
      lines.some((l) => l.startsWith('snapshots.keep')),
      lines.join('\n'),
    ).toBe(true);
    expect(
      lines.some((l) => l.startsWith('resources.regions')),
      lines.join('\n'),
    ).toBe(true);
    expect(
      lines.some((l) => l.startsWith('schedule')),
      lines.join('\n'),
    ).toBe(true);
    problemOf(await call('GET', '/policies/broken'), 404, 'NOT_FOUND');
  });

  it('unknown keys anywhere are refused, named with their place', async () => {
    const doc = documentOf('typo') as Record<string, unknown>;
    doc.snapshots = { keep: 3, keepDay: 5 };
    const p = problemOf(await call('PUT', '/policies/typo', { body: doc }), 400, 'VALIDATION_FAILED');
    const lines = errorLines(p);
    expect(
      lines.some((l) => l.startsWith('snapshots') && l.includes('keepDay')),
      lines.join('\n'),
    ).toBe(true);
    problemOf(await call('GET', '/policies/typo'), 404, 'NOT_FOUND');
  });

  it('a body that is not an object: 400 at the HTTP layer', async () => {
    problemOf(await call('POST', '/policies', { body: ['name'] }), 400, 'VALIDATION_FAILED');
    problemOf(await call('PUT', '/policies/x', { body: 'x' }), 400, 'VALIDATION_FAILED');
  });

  it("PUT: the path's name must be the document's (400, errors name the field); nothing is created", async () => {
    const p = problemOf(
      await call('PUT', '/policies/other', { body: documentOf('daily') }),
      400,
      'VALIDATION_FAILED',
    );
    expect(p.errors?.[0]?.path).toBe('name');
    expect(p.detail).toContain('other');
    problemOf(await call('GET', '/policies/other'), 404, 'NOT_FOUND');
    problemOf(await call('GET', '/policies/daily'), 404, 'NOT_FOUND');
  });

  it('bad queries: 400', async () => {
    for (const path of [
      '/policies?limit=0',
      '/policies?cursor=nope',
      '/policies?surprise=1',
      '/restore-points?orphaned=maybe',
      '/restore-points?cursor=nope',
      '/restore-points?instance=i-1&color=red',
    ]) {
      problemOf(await call('GET', path), 400, 'VALIDATION_FAILED');
    }
    problemOf(
      await call('PUT', '/policies/x?dryRun=perhaps', { body: documentOf('x') }),
      400,
      'VALIDATION_FAILED',
    );
  });
});

describe('create, read, apply, enable, disable, remove', () => {
  it('POST creates (201, ETag, Location); again: 409; dryRun: 200 and nothing stored', async () => {
    const dry = await call<Report>('POST', '/policies?dryRun=true', { body: documentOf('daily') });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.action).toBe('create');
    problemOf(await call('GET', '/policies/daily'), 404, 'NOT_FOUND');

    const r = await call<Report>('POST', '/policies', { body: documentOf('daily') });
    expect(r.status, r.text).toBe(201);
    expect(r.body.action).toBe('create');
    expect(r.body.dryRun).toBe(false);
    expect(r.body.policy?.name).toBe('daily');
    expect(r.headers.get('etag')).toBe(`"${r.body.policy!.version}"`);
    expect(r.headers.get('location')).toBe('/api/v1/policies/daily');
    expect(Array.isArray(r.body.warnings)).toBe(true);

    problemOf(await call('POST', '/policies', { body: documentOf('daily') }), 409, 'CONFLICT');
    const dryConflict = await call('POST', '/policies?dryRun=true', { body: documentOf('daily') });
    problemOf(dryConflict, 409, 'CONFLICT');
  });

  it('GET lists by name and shows one with its ETag', async () => {
    const second = await call<Report>('PUT', '/policies/a-first', { body: documentOf('a-first') });
    expect(second.status, second.text).toBe(201);
    const list = await call<{ items: Policy[]; nextCursor: string | null }>('GET', '/policies?limit=1');
    expect(list.status, list.text).toBe(200);
    expect(list.body.items.map((p) => p.name)).toEqual(['a-first']);
    expect(list.body.nextCursor).toEqual(expect.any(String));
    const next = await call<{ items: Policy[]; nextCursor: string | null }>(
      'GET',
      `/policies?limit=1&cursor=${list.body.nextCursor}`,
    );
    expect(next.body.items.map((p) => p.name)).toEqual(['daily']);
    expect(next.body.nextCursor).toBeNull();

    const one = await call<Policy>('GET', '/policies/daily');
    expect(one.status).toBe(200);
    expect(one.headers.get('etag')).toBe(`"${one.body.version}"`);
    expect(one.body.document).toMatchObject({ name: 'daily', snapshots: { keep: 7 } });
    expect(one.body.enabled).toBe(true);
  });

  it('PUT with If-Match: applied with the current version, 412 with an older one; dryRun changes nothing', async () => {
    const before = await call<Policy>('GET', '/policies/daily');
    const etag = before.headers.get('etag')!;

    const dry = await call<Report>('PUT', '/policies/daily?dryRun=true', { body: documentOf('daily', 3) });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body).toMatchObject({ action: 'update', dryRun: true });
    expect(dry.body.changedFields.join(' ')).toContain('snapshots');
    expect((await call<Policy>('GET', '/policies/daily')).body.version).toBe(before.body.version);

    const applied = await call<Report>('PUT', '/policies/daily', {
      body: documentOf('daily', 3),
      headers: { 'if-match': etag },
    });
    expect(applied.status, applied.text).toBe(200);
    expect(applied.body.action).toBe('update');
    expect(applied.body.policy!.version).toBeGreaterThan(before.body.version);
    expect(applied.headers.get('etag')).toBe(`"${applied.body.policy!.version}"`);

    const again = await call<Report>('PUT', '/policies/daily', { body: documentOf('daily', 3) });
    expect(again.status, again.text).toBe(200);
    expect(again.body.action).toBe('unchanged');

    const stale = { 'if-match': etag };
    problemOf(
      await call('PUT', '/policies/daily', { body: documentOf('daily', 5), headers: stale }),
      412,
      'PRECONDITION_FAILED',
    );
    problemOf(await call('POST', '/policies/daily/disable', { headers: stale }), 412, 'PRECONDITION_FAILED');
    problemOf(await call('DELETE', '/policies/daily', { headers: stale }), 412, 'PRECONDITION_FAILED');
    problemOf(
      await call('DELETE', '/policies/daily', { headers: { 'if-match': 'garbage' } }),
      412,
      'PRECONDITION_FAILED',
    );
    expect((await call<Policy>('GET', '/policies/daily')).body.document).toMatchObject({
      snapshots: { keep: 3 },
    });
  });

  it('disable and enable answer the policy with its new ETag', async () => {
    const off = await call<Policy>('POST', '/policies/daily/disable');
    expect(off.status, off.text).toBe(200);
    expect(off.body.enabled).toBe(false);
    expect(off.body.nextRunAt).toBeNull();
    expect(off.headers.get('etag')).toBe(`"${off.body.version}"`);
    const on = await call<Policy>('POST', '/policies/daily/enable', {
      headers: { 'if-match': off.headers.get('etag')! },
    });
    expect(on.status, on.text).toBe(200);
    expect(on.body.enabled).toBe(true);
  });

  it('DELETE removes (200, no session without deleteSnapshots); then 404', async () => {
    const r = await call<{ sessionId: string | null }>('DELETE', '/policies/a-first');
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ sessionId: null });
    problemOf(await call('GET', '/policies/a-first'), 404, 'NOT_FOUND');
  });
});

describe('404s', () => {
  it('unknown policies, restore points and sessions', async () => {
    const missing: Array<[string, string, unknown?]> = [
      ['GET', '/policies/nope'],
      ['POST', '/policies/nope/enable'],
      ['POST', '/policies/nope/disable'],
      ['POST', '/policies/nope/run'],
      ['DELETE', '/policies/nope'],
      ['GET', '/restore-points/nope'],
      ['POST', '/restore-points/nope/hold', { reason: 'audit' }],
      ['DELETE', '/restore-points/nope/hold'],
      ['GET', '/sessions/nope/aws-calls'],
    ];
    for (const [method, path, body] of missing) {
      problemOf(await call(method, path, body === undefined ? {} : { body }), 404, 'NOT_FOUND');
    }
    // backup operators may hold: the point is what is missing.
    problemOf(
      await call('POST', '/restore-points/nope/hold', {
        token: tokens['backup-operator'],
        body: { reason: 'audit' },
      }),
      404,
      'NOT_FOUND',
    );
  });

  it('a hold needs a reason and nothing else', async () => {
    problemOf(await call('POST', '/restore-points/nope/hold', { body: {} }), 400, 'VALIDATION_FAILED');
    problemOf(
      await call('POST', '/restore-points/nope/hold', { body: { reason: '' } }),
      400,
      'VALIDATION_FAILED',
    );
    const p = problemOf(
      await call('POST', '/restore-points/nope/hold', { body: { reason: 'x', until: 'never' } }),
      400,
      'VALIDATION_FAILED',
    );
    expect(p.errors).toContainEqual({ path: 'body/until', message: 'is not a known field' });
  });

  it('no restore points yet: an empty timeline', async () => {
    const r = await call<{ items: unknown[]; nextCursor: string | null }>(
      'GET',
      '/restore-points?orphaned=true',
    );
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ items: [], nextCursor: null });
  });
});

describe('permissions', () => {
  const writes = (): Array<[string, string, unknown?]> => [
    ['POST', '/policies', documentOf('by-someone')],
    ['PUT', '/policies/daily', documentOf('daily')],
    ['POST', '/policies/daily/enable'],
    ['POST', '/policies/daily/disable'],
    ['POST', '/policies/daily/run'],
    ['DELETE', '/policies/daily'],
    ['POST', '/restore-points/nope/hold', { reason: 'audit' }],
    ['DELETE', '/restore-points/nope/hold'],
    ['POST', '/rescan', {}],
    ['POST', '/janitor', {}],
  ];

  it('viewers read policies and restore points but change nothing (403)', async () => {
    const token = tokens.viewer;
    expect((await call('GET', '/policies', { token })).status).toBe(200);
    expect((await call('GET', '/policies/daily', { token })).status).toBe(200);
    expect((await call('GET', '/restore-points', { token })).status).toBe(200);
    for (const [method, path, body] of writes()) {
      const r = await call(method, path, { token, ...(body !== undefined && { body }) });
      problemOf(r, 403, 'FORBIDDEN');
    }
  });

  it('restore operators see restore points but cannot reach policies (403), nor hold', async () => {
    const token = tokens['restore-operator'];
    expect((await call('GET', '/restore-points', { token })).status).toBe(200);
    problemOf(await call('GET', '/policies', { token }), 403, 'FORBIDDEN');
    problemOf(await call('GET', '/policies/daily', { token }), 403, 'FORBIDDEN');
    for (const [method, path, body] of writes()) {
      const r = await call(method, path, { token, ...(body !== undefined && { body }) });
      problemOf(r, 403, 'FORBIDDEN');
    }
    // Still there, unchanged.
    expect((await call<Policy>('GET', '/policies/daily')).body.enabled).toBe(true);
    problemOf(await call('GET', '/policies/by-someone'), 404, 'NOT_FOUND');
  });

  it('backup operators edit policies', async () => {
    const token = tokens['backup-operator'];
    const r = await call<Report>('PUT', '/policies/ops', { token, body: documentOf('ops') });
    expect(r.status, r.text).toBe(201);
    expect((await call('DELETE', '/policies/ops', { token })).status).toBe(200);
  });

  it('the OpenAPI description declares each new route with its permission', async () => {
    const spec = await call<{ paths: Record<string, Record<string, { 'x-permission'?: string }>> }>(
      'GET',
      '/openapi.json',
    );
    const permission = (method: string, path: string) => spec.body.paths[path]?.[method]?.['x-permission'];
    expect(permission('get', '/policies')).toBe('policies.read');
    expect(permission('put', '/policies/{name}')).toBe('policies.write');
    expect(permission('post', '/policies/{name}/run')).toBe('sessions.write');
    expect(permission('get', '/restore-points')).toBe('points.read');
    expect(permission('post', '/restore-points/{id}/hold')).toBe('points.write');
    expect(permission('delete', '/restore-points/{id}/hold')).toBe('points.write');
    expect(permission('post', '/rescan')).toBe('policies.write');
    expect(permission('post', '/janitor')).toBe('policies.write');
    expect(permission('get', '/sessions/{id}/aws-calls')).toBe('sessions.read');
  });
});

describe('the CLI', () => {
  it('policy create --file with wrong fields in YAML: each field on stderr, one error line, exit 2', async () => {
    const file = join(work, 'bad.yaml');
    writeFileSync(
      file,
      [
        'name: bad-yaml',
        'resources:',
        '  accounts: [prod]',
        '  regions: [us-east-1, atlantis]',
        '  tags: {Environment: prod}',
        'schedule: {daily: {times: ["02:00"]}}',
        'snapshots: {keep: -1}',
        'retention: forever',
        '',
      ].join('\n'),
    );
    const r = await cli.run(['policy', 'create', '--file', file]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(oneLineError(r.stderr)).toMatch(/not valid/);
    expect(r.stderr).toMatch(/^ {2}snapshots\.keep: /m);
    expect(r.stderr).toMatch(/^ {2}resources\.regions.*atlantis/m);
    expect(r.stderr).toMatch(/retention/);
    problemOf(await call('GET', '/policies/bad-yaml'), 404, 'NOT_FOUND');
  });

  it('a file that is not YAML: its line, exit 2; a missing file: exit 2', async () => {
    const file = join(work, 'broken.yaml');
    writeFileSync(file, 'name: x\nresources: {accounts: [prod\nsnapshots: {keep: 1}\n');
    const r = await cli.run(['policy', 'create', '--file', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLineError(r.stderr)).toMatch(/line \d+/);
    const missing = await cli.run(['policy', 'apply', '--file', join(work, 'none.yaml')]);
    expect(missing.code, missing.stderr).toBe(2);
    oneLineError(missing.stderr);
  });

  it('apply --dry-run, show --yaml, list, timeline, hold on an unknown point (exit 5)', async () => {
    const file = join(work, 'daily.yaml');
    writeFileSync(
      file,
      [
        'name: daily',
        'resources: {accounts: [prod], regions: [us-east-1], tags: {Environment: prod}}',
        'schedule: {daily: {times: ["02:00"]}, timezone: Europe/Berlin}',
        'snapshots: {keep: 2}',
        '',
      ].join('\n'),
    );
    const dry = await cli.ok(['policy', 'apply', '--file', file, '--dry-run']);
    expect(dry.stdout).toMatch(/policy daily: would be updated \(dry run/);
    expect(dry.stdout).toMatch(/changed: .*snapshots/);
    expect((await call<Policy>('GET', '/policies/daily')).body.document).toMatchObject({
      snapshots: { keep: 3 },
    });

    const shown = await cli.ok(['policy', 'show', 'daily', '--yaml']);
    expect(shown.stdout).toMatch(/^name: daily$/m);
    const list = await cli.json<Policy[]>(['policy', 'list']);
    expect(list.map((p) => p.name)).toContain('daily');
    expect((await cli.ok(['timeline'])).stdout).toMatch(/no restore points/);

    const hold = await cli.run(['hold', 'nope', '--reason', 'audit']);
    expect(hold.code, hold.stderr).toBe(5);
    expect(oneLineError(hold.stderr)).toMatch(/NOT_FOUND/);
    expect((await cli.run(['release', 'nope'])).code).toBe(5);
  });

  it('each new command says in --help that it needs the appliance', async () => {
    for (const args of [
      ['policy', 'create'],
      ['policy', 'run'],
      ['timeline'],
      ['hold'],
      ['rescan'],
      ['janitor'],
      ['session', 'calls'],
    ]) {
      const r = await cli.ok([...args, '--help']);
      expect(r.stdout, args.join(' ')).toMatch(/Needs the appliance/);
    }
    expect((await cli.ok(['timeline', '--help'])).stdout).toMatch(/lifeboat points/);
  });
});
