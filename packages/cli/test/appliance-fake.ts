/**
 * A fake appliance for the CLI's client tests: just enough of docs/api.md (auth, users, audit, events) over HTTP
 * or HTTPS on 127.0.0.1, recording every request so that tests assert what the CLI sends. Not the real server:
 * the end-to-end tests against `lifeboat server` live elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeUser {
  id: string;
  name: string;
  role: string;
  restoreTags: Record<string, string> | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  passwordChangedAt: string;
  version: number;
  password: string;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  fingerprint: string;
}

/** A self-signed certificate for 127.0.0.1 (openssl), with its SHA-256 fingerprint as `AB:CD:…`. */
export function makeCertificate(dir: string, name: string): TlsMaterial {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=lifeboat-test-${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), fingerprint: new X509Certificate(cert).fingerprint256 };
}

const now = () => new Date().toISOString();

export class FakeAppliance {
  readonly requests: Recorded[] = [];
  readonly users = new Map<string, FakeUser>();
  /** token -> user name */
  readonly tokens = new Map<string, string>();
  readonly audit: Array<Record<string, unknown>> = [];
  /** Page size the fake uses whatever the client asks (to exercise paging). */
  pageSize = 2;
  /** Drop the connection of the next N POST /users without answering (after recording them). */
  dropPosts = 0;
  /** Bump a user's version right after a GET of it (a concurrent change: the next If-Match fails). */
  bumpAfterGet = false;
  /** Connections made to /events, with their Last-Event-ID. */
  readonly eventConnections: Array<string | undefined> = [];
  /** Called for each /events connection: write events, end or destroy. */
  onEvents: (res: ServerResponse, n: number, req: IncomingMessage) => void = () => {};
  tlsHandshakes = 0;
  private server!: Server;
  private sockets = new Set<Socket>();
  private tokenCount = 0;
  port = 0;

  constructor(private readonly tls?: TlsMaterial) {
    this.addUser('admin', 'administrator', 'admin-secret');
    this.addUser('viewer', 'viewer', 'viewer-secret');
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  addUser(name: string, role: string, password: string): FakeUser {
    const t = now();
    const u: FakeUser = {
      id: `u-${name}`,
      name,
      role,
      restoreTags: null,
      disabled: false,
      createdAt: t,
      updatedAt: t,
      passwordChangedAt: t,
      version: 1,
      password,
    };
    this.users.set(name, u);
    return u;
  }

  /** A token for a user without a login (as if given by LIFEBOAT_TOKEN). */
  issueToken(name: string): string {
    const token = `tok-${name}-${++this.tokenCount}-${Math.random().toString(36).slice(2)}`;
    this.tokens.set(token, name);
    return token;
  }

  async start(port = 0): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (b: Buffer) => chunks.push(b));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        try {
          this.route(req, res, body);
        } catch (err) {
          this.problem(res, 500, 'INTERNAL', `fake appliance bug: ${(err as Error).message}`);
        }
      });
    };
    this.server = this.tls
      ? createHttpsServer({ cert: this.tls.cert, key: this.tls.key }, handler)
      : createHttpServer(handler);
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', () => this.tlsHandshakes++);
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests of a method and path (query left out). */
  sent(method: string, path: string): Recorded[] {
    return this.requests.filter((r) => r.method === method && r.url.split('?')[0] === `/api/v1${path}`);
  }

  private problem(
    res: ServerResponse,
    status: number,
    code: string,
    detail: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
    res.end(
      JSON.stringify({
        type: `urn:lifeboat:problem:${code.toLowerCase()}`,
        title: code,
        status,
        code,
        detail,
      }),
    );
  }

  private json(
    res: ServerResponse,
    status: number,
    value: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
  }

  private view(u: FakeUser) {
    const { password: _password, ...rest } = u;
    return rest;
  }

  private page<T>(res: ServerResponse, items: T[], url: URL): void {
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 100), this.pageSize);
    const start = Number(url.searchParams.get('cursor') ?? 0);
    const slice = items.slice(start, start + limit);
    const next = start + limit < items.length ? String(start + limit) : null;
    this.json(res, 200, { items: slice, nextCursor: next });
  }

  private route(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const method = req.method ?? 'GET';
    const parsed = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    if (method === 'GET' && path === '/health') return this.json(res, 200, { status: 'ok', version: 'fake' });
    if (method === 'POST' && path === '/auth/login') {
      const u = this.users.get(String(parsed.user));
      if (parsed.user === 'throttled')
        return this.problem(res, 429, 'TOO_MANY_ATTEMPTS', 'too many failed logins', { 'retry-after': '30' });
      if (!u || u.password !== parsed.password || u.disabled)
        return this.problem(res, 401, 'INVALID_CREDENTIALS', 'wrong user name or password');
      const token = this.issueToken(u.name);
      return this.json(res, 200, {
        user: { name: u.name, role: u.role },
        token,
        expiresAt: new Date(Date.now() + 12 * 3600_000).toISOString(),
      });
    }
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const me = token ? this.users.get(this.tokens.get(token) ?? '') : undefined;
    if (!me) return this.problem(res, 401, 'UNAUTHENTICATED', 'no valid login token');
    const admin = me.role === 'administrator';
    const forbid = () => this.problem(res, 403, 'FORBIDDEN', `the role ${me.role} may not do this`);
    if (method === 'POST' && path === '/auth/logout') {
      if (parsed.all) for (const [t, n] of this.tokens) if (n === me.name) this.tokens.delete(t);
      this.tokens.delete(token!);
      res.writeHead(204).end();
      return;
    }
    if (method === 'GET' && path === '/auth/whoami') {
      return this.json(res, 200, {
        name: me.name,
        role: me.role,
        restoreTags: me.restoreTags,
        loginKind: 'token',
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      });
    }
    if (method === 'GET' && path === '/events') {
      const n = this.eventConnections.length;
      this.eventConnections.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(': hello\n\n');
      this.onEvents(res, n, req);
      return;
    }
    if (method === 'GET' && path === '/audit') {
      let items = [...this.audit];
      const actor = url.searchParams.get('actor');
      if (actor) items = items.filter((e) => e.actor === actor);
      return this.page(res, items, url);
    }
    if (path === '/users' && method === 'GET') {
      if (!admin) return forbid();
      return this.page(
        res,
        [...this.users.values()].sort((a, b) => a.name.localeCompare(b.name)).map((u) => this.view(u)),
        url,
      );
    }
    if (path === '/users' && method === 'POST') {
      if (this.dropPosts > 0) {
        this.dropPosts--;
        req.socket.destroy();
        return;
      }
      if (!admin) return forbid();
      const name = String(parsed.name);
      if (!/^[a-z][a-z0-9._-]*$/.test(name))
        return this.problem(res, 400, 'VALIDATION_FAILED', `"${name}" is not a valid user name`);
      const replay = this.requests.filter(
        (r) => r.method === 'POST' && r.headers['idempotency-key'] === req.headers['idempotency-key'],
      );
      if (this.users.has(name)) {
        if (replay.length > 1)
          return this.json(res, 201, this.view(this.users.get(name)!), { 'idempotent-replayed': 'true' });
        return this.problem(res, 409, 'CONFLICT', `the user ${name} exists already`);
      }
      const u = this.addUser(name, String(parsed.role), String(parsed.password));
      if (parsed.restoreTags) u.restoreTags = parsed.restoreTags as Record<string, string>;
      return this.json(res, 201, this.view(u), { etag: `"${u.version}"` });
    }
    const m = /^\/users\/([^/]+)(\/password)?$/.exec(path);
    if (m) {
      const name = decodeURIComponent(m[1]!);
      if (name === 'boom') return this.problem(res, 500, 'INTERNAL', 'internal error (log line 4f2a)');
      const u = this.users.get(name);
      const isSelf = u?.name === me.name;
      if (m[2] && method === 'PUT') {
        if (!isSelf && !admin) return forbid();
        if (!u) return this.problem(res, 404, 'NOT_FOUND', `no user ${name}`);
        if (isSelf && parsed.currentPassword !== u.password)
          return this.problem(res, 403, 'FORBIDDEN', 'the current password is wrong');
        u.password = String(parsed.password);
        u.version++;
        for (const [t, n] of this.tokens) if (n === u.name) this.tokens.delete(t);
        res.writeHead(204).end();
        return;
      }
      if (!admin) return forbid();
      if (!u) return this.problem(res, 404, 'NOT_FOUND', `no user ${name}`);
      const ifMatch = req.headers['if-match'];
      const stale = () =>
        this.problem(
          res,
          412,
          'PRECONDITION_FAILED',
          `user ${name} changed since you read it (version ${u.version}, you sent ${String(ifMatch).replace(/"/g, '')}): read it again`,
        );
      if (method === 'GET') {
        this.json(res, 200, this.view(u), { etag: `"${u.version}"` });
        if (this.bumpAfterGet) u.version++;
        return;
      }
      if (ifMatch !== undefined && ifMatch !== `"${u.version}"`) return stale();
      const admins = [...this.users.values()].filter((x) => x.role === 'administrator' && !x.disabled);
      const lastAdmin = u.role === 'administrator' && !u.disabled && admins.length === 1;
      if (method === 'PATCH') {
        if (lastAdmin && ((parsed.role && parsed.role !== 'administrator') || parsed.disabled === true))
          return this.problem(res, 409, 'LAST_ADMINISTRATOR', `${name} is the last enabled administrator`);
        if (parsed.role) u.role = String(parsed.role);
        if ('restoreTags' in parsed) u.restoreTags = parsed.restoreTags as Record<string, string> | null;
        if (typeof parsed.disabled === 'boolean') u.disabled = parsed.disabled;
        u.version++;
        u.updatedAt = now();
        return this.json(res, 200, this.view(u), { etag: `"${u.version}"` });
      }
      if (method === 'DELETE') {
        if (lastAdmin)
          return this.problem(res, 409, 'LAST_ADMINISTRATOR', `${name} is the last enabled administrator`);
        this.users.delete(name);
        res.writeHead(204).end();
        return;
      }
    }
    return this.problem(res, 404, 'NOT_FOUND', `no route ${method} ${url.pathname}`);
  }
}

// ---- exit codes ----

import { expect } from 'vitest';
import { ApplianceError } from '../src/appliance/errors.js';
import { exitCodeOf } from '../src/errors.js';
import { expectOneLineError, lifeboat, type RunResult, tempDir } from './helpers.js';

/**
 * True once errors.ts maps an ApplianceError to its own exit code (until then main.ts exits 1 for it). The tests
 * expect the documented code when wired, and 1 before, so that they hold on both sides of that change; the
 * mapping itself is tested as a unit (appliance-unit.test.ts).
 */
export const EXIT_CODES_WIRED = exitCodeOf(new ApplianceError('probe', { code: 'PROBE', exitCode: 9 })) === 9;

export function applianceExit(code: number): number {
  return EXIT_CODES_WIRED || code === 0 ? code : 1;
}

/** The run failed with this appliance exit code and one `error:` line containing `text`. */
export function expectApplianceFailure(r: RunResult, code: number, text?: string | RegExp): void {
  expect(r.code, `stderr: ${r.stderr}`).toBe(applianceExit(code));
  expectOneLineError(r.stderr);
  if (text !== undefined) expect(r.stderr).toMatch(text);
}

/** A CLI bound to one config folder and server. */
export class Cli {
  readonly config = tempDir('appliance-config');
  constructor(
    public server: string,
    public env: Record<string, string | undefined> = {},
  ) {}

  run(args: string[], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
    return lifeboat(args, {
      env: { XDG_CONFIG_HOME: this.config, LIFEBOAT_SERVER: this.server, ...this.env, ...extra },
    });
  }

  async ok(args: string[], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
    const r = await this.run(args, extra);
    if (r.code !== 0)
      throw new Error(`lifeboat ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  async json<T>(args: string[], extra: Record<string, string | undefined> = {}): Promise<T> {
    return JSON.parse((await this.ok(['--json', ...args], extra)).stdout) as T;
  }

  get credentialsFile(): string {
    return join(this.config, 'lifeboat', 'credentials.json');
  }

  credentials(): {
    current?: string;
    servers: Record<
      string,
      { user?: string; token?: string; expiresAt?: string; fingerprint?: string; certificate?: string }
    >;
  } {
    return JSON.parse(readFileSync(this.credentialsFile, 'utf8'));
  }

  login(user = 'admin', password = 'admin-secret', args: string[] = []): Promise<RunResult> {
    return this.ok(['login', '--user', user, ...args], { LIFEBOAT_LOGIN_PASSWORD: password });
  }
}
