/**
 * Units of the appliance client: status and problem+json to ApplianceError (message, code, exit code), checked
 * in-process against the fake appliance so that they hold before errors.ts maps ApplianceError; the SSE parser;
 * fingerprints, URLs, tags and --since.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceClient, normalizeServer, requireSecureTransport } from '../src/appliance/client.js';
import { ApplianceError, errorFromResponse, exitCodeForStatus } from '../src/appliance/errors.js';
import { SseParser } from '../src/appliance/sse.js';
import { formatTime, relativeTime } from '../src/appliance/table.js';
import { normalizeFingerprint } from '../src/appliance/tls.js';
import { matches, parseSince } from '../src/commands/audit.js';
import { parseTags } from '../src/commands/users.js';
import { UsageError } from '../src/errors.js';
import { FakeAppliance, makeCertificate, type TlsMaterial } from './appliance-fake.js';
import { removeDir, tempDir } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<ApplianceError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplianceError) return err;
    throw err;
  }
  throw new Error('expected an ApplianceError');
}

describe('exit codes', () => {
  it('map statuses as README says', () => {
    const table: Array<[number, number]> = [
      [400, 2],
      [401, 4],
      [403, 4],
      [404, 5],
      [409, 9],
      [412, 9],
      [413, 2],
      [415, 2],
      [422, 2],
      [429, 6],
      [418, 1],
      [500, 1],
      [503, 1],
    ];
    for (const [status, code] of table) expect([status, exitCodeForStatus(status)]).toEqual([status, code]);
  });

  it('problem+json: the detail is the message, the code is kept, hints added for 401 and 429', () => {
    const e = errorFromResponse(
      412,
      {
        status: 412,
        code: 'PRECONDITION_FAILED',
        title: 'Precondition failed',
        detail: 'user alice changed',
      },
      {},
    );
    expect(e).toMatchObject({
      message: 'user alice changed',
      code: 'PRECONDITION_FAILED',
      status: 412,
      exitCode: 9,
    });
    expect(errorFromResponse(401, { code: 'SESSION_EXPIRED', detail: 'the login expired' }, {}).message).toBe(
      'the login expired: run `lifeboat login`',
    );
    const t = errorFromResponse(
      429,
      { code: 'TOO_MANY_ATTEMPTS', detail: 'slow down' },
      { 'retry-after': '12' },
    );
    expect(t).toMatchObject({ message: 'slow down (retry in 12 s)', exitCode: 6 });
    const v = errorFromResponse(
      400,
      {
        code: 'VALIDATION_FAILED',
        detail: 'invalid body',
        errors: [{ path: '/role', message: 'must be a role' }],
      },
      {},
    );
    expect(v).toMatchObject({ message: 'invalid body (/role: must be a role)', exitCode: 2 });
    expect(errorFromResponse(502, undefined, {})).toMatchObject({
      message: 'the appliance answered HTTP 502',
      code: 'HTTP_ERROR',
      exitCode: 1,
    });
  });
});

describe('client against the fake appliance', () => {
  let fake: FakeAppliance;
  let admin: ApplianceClient;
  let viewer: ApplianceClient;
  beforeAll(async () => {
    fake = await new FakeAppliance().start();
    admin = new ApplianceClient(fake.url, { token: fake.issueToken('admin') });
    viewer = new ApplianceClient(fake.url, { token: fake.issueToken('viewer') });
  });
  afterAll(() => fake.stop());

  it('every failure is an ApplianceError with its exit code', async () => {
    const anonymous = new ApplianceClient(fake.url);
    expect(await failure(anonymous.get('/auth/whoami'))).toMatchObject({
      code: 'UNAUTHENTICATED',
      exitCode: 4,
    });
    expect(await failure(viewer.get('/users'))).toMatchObject({
      code: 'FORBIDDEN',
      status: 403,
      exitCode: 4,
    });
    expect(await failure(admin.get('/users/nobody'))).toMatchObject({ code: 'NOT_FOUND', exitCode: 5 });
    expect(
      await failure(admin.post('/users', { name: 'viewer', role: 'viewer', password: 'x' })),
    ).toMatchObject({
      code: 'CONFLICT',
      exitCode: 9,
    });
    expect(
      await failure(admin.patch('/users/viewer', { role: 'viewer' }, { headers: { 'if-match': '"99"' } })),
    ).toMatchObject({ code: 'PRECONDITION_FAILED', status: 412, exitCode: 9 });
    expect(
      await failure(admin.post('/users', { name: 'Bad Name', role: 'viewer', password: 'x' })),
    ).toMatchObject({
      code: 'VALIDATION_FAILED',
      exitCode: 2,
    });
    expect(await failure(anonymous.post('/auth/login', { user: 'throttled', password: 'x' }))).toMatchObject({
      code: 'TOO_MANY_ATTEMPTS',
      exitCode: 6,
    });
    expect(await failure(admin.get('/users/boom'))).toMatchObject({ code: 'INTERNAL', exitCode: 1 });
  });

  it('GET returns the ETag; lists follow cursors', async () => {
    const a = await admin.get<{ version: number }>('/users/admin');
    expect(a.etag).toBe(`"${a.body.version}"`);
    for (const n of ['u1', 'u2', 'u3']) fake.addUser(n, 'viewer', 'pw');
    const all = await admin.list<{ name: string }>('/users');
    expect(all.map((u) => u.name)).toEqual(['admin', 'u1', 'u2', 'u3', 'viewer']);
    expect((await admin.list('/users', {}, 3)).length).toBe(3);
  });

  it('an unreachable appliance or a timeout is exit 10', async () => {
    const port = await freePort();
    const down = new ApplianceClient(`http://127.0.0.1:${port}`, { token: 't' });
    const e = await failure(down.get('/auth/whoami'));
    expect(e).toMatchObject({ code: 'UNREACHABLE', exitCode: 10 });
    expect(e.message).toContain(`cannot reach the appliance at http://127.0.0.1:${port}: ECONNREFUSED`);
    // A server that accepts and never answers.
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const addr = silent.address() as { port: number };
    const slow = new ApplianceClient(`http://127.0.0.1:${addr.port}`, { token: 't', timeoutMs: 300 });
    expect(await failure(slow.get('/auth/whoami'))).toMatchObject({ code: 'TIMEOUT', exitCode: 10 });
    silent.close();
  });
});

describe('pinning', () => {
  let dir: string;
  let a: TlsMaterial;
  let b: TlsMaterial;
  let fake: FakeAppliance;
  beforeAll(async () => {
    dir = tempDir('appliance-unit');
    a = makeCertificate(dir, 'a');
    b = makeCertificate(dir, 'b');
    fake = await new FakeAppliance(a).start();
  });
  afterAll(async () => {
    await fake.stop();
    removeDir(dir);
  });

  it('the pinned certificate passes, another is CERTIFICATE_CHANGED exit 10 before any request', async () => {
    const token = fake.issueToken('admin');
    const ok = new ApplianceClient(fake.url, { token, fingerprint: a.fingerprint.toLowerCase() });
    expect((await ok.get<{ name: string }>('/auth/whoami')).body.name).toBe('admin');
    const before = fake.requests.length;
    const pinnedToB = new ApplianceClient(fake.url, { token, fingerprint: b.fingerprint });
    const e = await failure(pinnedToB.get('/auth/whoami'));
    expect(e).toMatchObject({ code: 'CERTIFICATE_CHANGED', exitCode: 10 });
    expect(e.message).toContain(`saved SHA-256 ${b.fingerprint}, now ${a.fingerprint}`);
    expect(await failure(pinnedToB.post('/users', { name: 'x' }))).toMatchObject({
      code: 'CERTIFICATE_CHANGED',
    });
    expect(fake.requests.length).toBe(before);
    expect(() => new ApplianceClient(fake.url, { token })).toThrow(/no pinned certificate/);
  });
});

describe('parsing', () => {
  it('SSE: fields, multi-line data, comments, CRLF, chunks split anywhere', () => {
    const text =
      ': comment\r\nid: 1\r\nevent: audit\r\ndata: {"a":\r\ndata: 1}\r\n\r\n' +
      'data: plain\n\nid: 7\nevent: user.changed\ndata:x\nretry: 2500\n\nid\n\n';
    const events = [];
    const p = new SseParser();
    for (let i = 0; i < text.length; i += 3) events.push(...p.push(text.slice(i, i + 3)));
    expect(events).toEqual([
      { id: '1', event: 'audit', data: '{"a":\n1}' },
      { id: '1', event: 'message', data: 'plain' },
      { id: '7', event: 'user.changed', data: 'x' },
    ]);
    expect(p.retryMs).toBe(2500);
    expect(p.lastEventId).toBe('');
  });

  it('fingerprints in any spelling', () => {
    const hex = 'ab'.repeat(32);
    const want = Array(32).fill('AB').join(':');
    expect(normalizeFingerprint(hex)).toBe(want);
    expect(normalizeFingerprint(want.toLowerCase())).toBe(want);
    expect(normalizeFingerprint(`sha256 Fingerprint=${want}`)).toBe(want);
    expect(() => normalizeFingerprint('abcd')).toThrow(UsageError);
    expect(() => normalizeFingerprint('zz'.repeat(32))).toThrow(UsageError);
  });

  it('server URLs; plain HTTP only on loopback', () => {
    expect(normalizeServer('https://h.example:7420/api/v1/')).toBe('https://h.example:7420');
    expect(normalizeServer('127.0.0.1:7420')).toBe('http://127.0.0.1:7420');
    expect(normalizeServer('https://h.example/lifeboat/')).toBe('https://h.example/lifeboat');
    expect(() => normalizeServer('ftp://h')).toThrow(UsageError);
    expect(() => normalizeServer('https://u:p@h')).toThrow(UsageError);
    for (const ok of [
      'http://127.0.0.1:7420',
      'http://localhost:1',
      'http://[::1]:7420',
      'https://h.example',
    ])
      expect(() => requireSecureTransport(ok)).not.toThrow();
    expect(() => requireSecureTransport('http://10.0.0.5:7420')).toThrow(/refusing plain HTTP/);
  });

  it('restore tags, --since, audit filters, times', () => {
    expect(parseTags(['env=prod', 'k=a=b', 'empty='])).toEqual({ env: 'prod', k: 'a=b', empty: '' });
    expect(() => parseTags(['=x'])).toThrow(UsageError);
    expect(() => parseTags(['a=1', 'a=2'])).toThrow(/twice/);
    const now = Date.parse('2025-06-02T00:00:00Z');
    expect(parseSince('12h', now)).toBe('2025-06-01T12:00:00.000Z');
    expect(parseSince('2025-06-01T10:00:00+02:00')).toBe('2025-06-01T08:00:00.000Z');
    expect(() => parseSince('soon')).toThrow(UsageError);
    const e = { id: 1, at: '2025-06-01T12:00:00Z', actor: 'alice', action: 'user.create' } as Parameters<
      typeof matches
    >[0];
    expect(matches(e, { action: 'user.' })).toBe(true);
    expect(matches(e, { action: 'user' })).toBe(false);
    expect(matches(e, { actor: 'bob' })).toBe(false);
    expect(matches(e, { since: '2025-06-01T12:00:01Z' })).toBe(false);
    expect(formatTime('2025-06-01T12:00:03.456Z')).toBe('2025-06-01 12:00:03');
    expect(relativeTime('2025-06-01T11:55:00Z', Date.parse('2025-06-01T12:00:00Z'))).toBe('5 min ago');
    expect(relativeTime('2025-06-02T00:00:00Z', Date.parse('2025-06-01T12:00:00Z'))).toBe('in 12 h');
  });
});

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}
