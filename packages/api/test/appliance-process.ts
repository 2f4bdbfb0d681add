/**
 * End-to-end helpers: the appliance as a real `lifeboat server` child process, driven over real HTTP (global
 * fetch) and through the real CLI. Nothing is mocked. Every child is killed on every exit path: `stopAll()` in
 * afterAll, and SIGKILL from the 'exit' handler of the test process for anything still alive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const BIN = join(ROOT, 'packages/cli/bin/lifeboat.js');
export const ADMIN_PASSWORD = 'admin-password-1';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

process.once('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lifeboat-api-e2e-${prefix}-`));
  dirs.add(dir);
  return dir;
}

/** A clean environment for children: PATH and HOME, plus what the caller adds. */
function childEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGKILLs every child still running and removes the temp folders (afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGKILL');
        }),
    ),
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `lifeboat ARGS` to its end. */
export function lifeboat(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 30_000,
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = track(
      spawn(process.execPath, [BIN, ...args], {
        env: childEnv(env),
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? 128, signal, stdout, stderr });
    });
    child.stdin!.end();
  });
}

/** stderr holds exactly one `error:` line and no stack trace. */
export function oneLineError(stderr: string): string {
  if (/\n\s+at /.test(`\n${stderr}`) || stderr.includes('node:internal')) {
    throw new Error(`stderr has a stack trace:\n${stderr}`);
  }
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  if (errors.length !== 1) throw new Error(`expected exactly one "error:" line on stderr, got:\n${stderr}`);
  return errors[0]!;
}

export interface StartOptions {
  /** The data folder (a new temp folder by default). */
  data?: string;
  /** LIFEBOAT_ADMIN_PASSWORD (default ADMIN_PASSWORD; null: unset). */
  adminPassword?: string | null;
  tls?: boolean;
  loginTtlHours?: number;
  listen?: string;
  args?: string[];
  /** More environment for the server process. */
  env?: Record<string, string | undefined>;
}

/** A running `lifeboat server`. */
export class ApplianceProcess {
  stdout = '';
  stderr = '';
  /** http(s)://127.0.0.1:PORT/api/v1 */
  api = '';
  /** http(s)://127.0.0.1:PORT */
  origin = '';
  fingerprint: string | null = null;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly data: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  static async start(options: StartOptions = {}): Promise<ApplianceProcess> {
    const data = options.data ?? join(tempDir('data'), 'data');
    const args = ['server', '--data', data, '--listen', options.listen ?? '127.0.0.1:0'];
    if (options.tls) args.push('--tls');
    if (options.loginTtlHours !== undefined) args.push('--login-ttl', String(options.loginTtlHours));
    args.push(...(options.args ?? []));
    const password = options.adminPassword === undefined ? ADMIN_PASSWORD : options.adminPassword;
    const child = track(
      spawn(process.execPath, [BIN, ...args], {
        env: childEnv({ LIFEBOAT_ADMIN_PASSWORD: password ?? undefined, ...options.env }),
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const appliance = new ApplianceProcess(data, child);
    await appliance.ready(Boolean(options.tls));
    return appliance;
  }

  private ready(tls: boolean): Promise<void> {
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        cleanup();
        this.child.kill('SIGKILL');
        fail(new Error(`the appliance did not start in 30 s:\n${this.stdout}\n${this.stderr}`));
      }, 30_000);
      const check = () => {
        const m = /lifeboat appliance: (\S+)\/api\/v1 \(data /.exec(this.stdout);
        const f = /certificate SHA-256 fingerprint: ([0-9A-F:]+)\n/.exec(this.stdout);
        if (m && (!tls || f)) {
          this.origin = m[1]!;
          this.api = `${m[1]}/api/v1`;
          this.fingerprint = f?.[1] ?? null;
          cleanup();
          done();
        }
      };
      const exit = (code: number | null) => {
        cleanup();
        fail(new Error(`the appliance exited ${code} before listening:\n${this.stdout}\n${this.stderr}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout!.off('data', check);
        this.child.off('exit', exit);
      };
      this.child.stdout!.on('data', check);
      this.child.once('exit', exit);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends SIGTERM (or `signal`) and waits for the exit. */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  waitExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }
}

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  /** A body sent as is (content-type application/json unless set in headers). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

/** A plain-HTTP client of the API with fetch. */
export class Api {
  constructor(readonly base: string) {}

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined;
    if (options.raw !== undefined) {
      body = options.raw;
      headers['content-type'] = 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, options.headers ?? {});
    const res = await fetch(`${this.base}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let parsed: unknown = text;
    if (/json/.test(res.headers.get('content-type') ?? '') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  async login(user: string, password: string): Promise<string> {
    const r = await this.call<{ token: string }>('POST', '/auth/login', { body: { user, password } });
    if (r.status !== 200) throw new Error(`login ${user}: ${r.status} ${r.text}`);
    return r.body.token;
  }

  /** Creates a user as `token` (an administrator) and returns it. */
  async addUser(
    token: string,
    name: string,
    role: string,
    password = `${name}-password`,
  ): Promise<Record<string, unknown>> {
    const r = await this.call('POST', '/users', { token, body: { name, role, password } });
    if (r.status !== 201) throw new Error(`add user ${name}: ${r.status} ${r.text}`);
    return r.body;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Asserts a problem+json answer with this status and code; returns the problem. */
export function problemOf(answer: Answer<unknown>, status: number, code?: string): Problem {
  const where = `${answer.status} ${answer.text}`;
  if (answer.status !== status) throw new Error(`expected ${status}${code ? ` ${code}` : ''}, got ${where}`);
  if (!/^application\/problem\+json/.test(answer.headers.get('content-type') ?? '')) {
    throw new Error(`expected application/problem+json, got ${answer.headers.get('content-type')}: ${where}`);
  }
  const p = answer.body as Problem;
  if (p.status !== status || typeof p.code !== 'string' || typeof p.detail !== 'string' || !p.type) {
    throw new Error(`not a problem: ${where}`);
  }
  if (code && p.code !== code) throw new Error(`expected code ${code}, got ${where}`);
  return p;
}

export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** A live `GET /events` stream, parsed. */
export class EventStream {
  readonly events: SseEvent[] = [];
  ended = false;
  private readonly waiters = new Set<() => void>();
  private readonly controller = new AbortController();
  status = 0;

  private constructor() {}

  static async open(
    api: string,
    token: string,
    headers: Record<string, string> = {},
    query = '',
  ): Promise<EventStream> {
    const stream = new EventStream();
    const res = await fetch(`${api}/events${query}`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
      signal: stream.controller.signal,
    });
    stream.status = res.status;
    if (res.status !== 200 || !res.body) {
      stream.ended = true;
      await res.text().catch(() => '');
      return stream;
    }
    void stream.pump(res.body);
    return stream;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: SseEvent = { id: undefined, event: undefined, data: '' };
          let any = false;
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (!m) continue;
            any = true;
            if (m[1] === 'data') e.data += m[2];
            else e[m[1] as 'id' | 'event'] = m[2];
          }
          if (any && (e.data || e.event)) this.events.push(e);
        }
        this.wake();
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Waits until `predicate` holds over the events received (or the stream ends, or the timeout). */
  until(predicate: (events: SseEvent[]) => boolean, timeoutMs = 10_000): Promise<boolean> {
    return new Promise((done) => {
      const check = () => {
        if (predicate(this.events)) finish(true);
        else if (this.ended) finish(false);
      };
      const finish = (v: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        done(v);
      };
      const timer = setTimeout(() => finish(predicate(this.events)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for the server to end the stream. */
  async end(timeoutMs = 10_000): Promise<boolean> {
    await this.until(() => false, timeoutMs);
    return this.ended;
  }

  close(): void {
    this.controller.abort();
  }
}

/** `lifeboat` as a client of one appliance, with its own XDG_CONFIG_HOME. */
export class Cli {
  readonly config = tempDir('config');
  constructor(
    readonly server: string | undefined,
    readonly env: Record<string, string | undefined> = {},
  ) {}

  run(args: string[], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
    return lifeboat(args, {
      XDG_CONFIG_HOME: this.config,
      LIFEBOAT_SERVER: this.server,
      ...this.env,
      ...extra,
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
}

/** A request over HTTPS trusting `ca` (the appliance's own certificate): fetch cannot be given a CA. */
export function httpsCall<T = Record<string, unknown>>(
  base: string,
  ca: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: T; fingerprint: string }> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const req = httpsRequest(`${base}${path}`, { method, ca, headers }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () =>
        done({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: (text && /json/.test(String(res.headers['content-type'])) ? JSON.parse(text) : text) as T,
          fingerprint,
        }),
      );
    });
    req.on('error', fail);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}
