/**
 * The HTTP client of the appliance's REST API (docs/api.md): JSON over node:http / node:https, problem+json
 * answers turned into ApplianceError, an Idempotency-Key on every POST (retried once, with the same key, when the
 * connection drops), cursor paging, and the event stream. Certificates are pinned (tls.ts); plain HTTP is
 * refused beyond loopback.
 */
import { randomUUID } from 'node:crypto';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { APPLIANCE_EXIT, ApplianceError, errorFromResponse, unreachable } from './errors.js';
import { pinnedConnection } from './tls.js';

export const API_PREFIX = '/api/v1';
const DEFAULT_TIMEOUT_MS = 30_000;

/** The canonical form of a server URL (the key of saved logins): scheme, host, port, no /api/v1, no slash. */
export function normalizeServer(text: string): string {
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`);
  } catch {
    throw new UsageError(`"${text}" is not a URL (e.g. https://appliance.example:7420)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`"${text}": the appliance is reached over http:// (loopback) or https://`);
  if (url.username || url.password) throw new UsageError(`"${text}": no credentials in the URL`);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Plain HTTP carries tokens and passwords in clear: only on loopback. */
export function requireSecureTransport(server: string): void {
  const url = new URL(server);
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new ApplianceError(
      `refusing plain HTTP to ${server}: beyond loopback the appliance is reached over https:// only`,
      { code: 'INSECURE_URL', exitCode: APPLIANCE_EXIT.usage },
    );
  }
}

export interface ClientOptions {
  token?: string;
  /** Pinned SHA-256 fingerprint (https servers). */
  fingerprint?: string;
  timeoutMs?: number;
}

export interface RequestArgs {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface Answer<T> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
  /** The ETag, when the resource has one. */
  etag?: string;
}

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export class ApplianceClient {
  readonly server: string;
  private readonly url: URL;

  constructor(
    server: string,
    private readonly options: ClientOptions = {},
  ) {
    this.server = normalizeServer(server);
    this.url = new URL(this.server);
    requireSecureTransport(this.server);
    if (this.url.protocol === 'https:' && !options.fingerprint) {
      throw new ApplianceError(
        `no pinned certificate for ${this.server}: run \`lifeboat login --server ${this.server} --fingerprint F\` ` +
          '(F as `lifeboat server` printed it) or set LIFEBOAT_FINGERPRINT',
        { code: 'CERTIFICATE_NOT_TRUSTED', exitCode: APPLIANCE_EXIT.unreachable },
      );
    }
  }

  get<T>(path: string, args: RequestArgs = {}): Promise<Answer<T>> {
    return this.request<T>('GET', path, args);
  }
  post<T>(path: string, body?: unknown, args: RequestArgs = {}): Promise<Answer<T>> {
    return this.request<T>('POST', path, { ...args, body });
  }
  patch<T>(path: string, body: unknown, args: RequestArgs = {}): Promise<Answer<T>> {
    return this.request<T>('PATCH', path, { ...args, body });
  }
  put<T>(path: string, body: unknown, args: RequestArgs = {}): Promise<Answer<T>> {
    return this.request<T>('PUT', path, { ...args, body });
  }
  delete<T = undefined>(path: string, args: RequestArgs = {}): Promise<Answer<T>> {
    return this.request<T>('DELETE', path, args);
  }

  /** One request; non-2xx answers throw ApplianceError, connection failures exit 10. */
  async request<T>(method: string, path: string, args: RequestArgs = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...args.headers };
    let payload: string | undefined;
    if (args.body !== undefined) {
      payload = JSON.stringify(args.body);
      headers['content-type'] = 'application/json';
    }
    // Every POST carries a key: a retry after a dropped connection is answered from the first attempt's result.
    if (method === 'POST' && !Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key'))
      headers['idempotency-key'] = randomUUID();
    const retryable = method === 'GET' || method === 'HEAD' || method === 'POST';
    let raw: Raw;
    for (let attempt = 0; ; attempt++) {
      try {
        raw = await this.send(method, this.pathOf(path, args.query), headers, payload, args.timeoutMs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const dropped =
          code === 'ECONNRESET' || code === 'EPIPE' || (err as Error).message === 'socket hang up';
        if (retryable && dropped && attempt === 0) {
          await sleep(250);
          continue;
        }
        throw unreachable(this.server, err);
      }
      // The first attempt may still be running on the server: its key is "in progress" for a moment.
      const inProgress =
        raw.status === 409 &&
        attempt < 5 &&
        method === 'POST' &&
        raw.text.includes('IDEMPOTENCY_IN_PROGRESS');
      if (inProgress) {
        await sleep(500);
        continue;
      }
      break;
    }
    const body = parseBody(raw);
    if (raw.status < 200 || raw.status > 299) throw errorFromResponse(raw.status, body, raw.headers);
    if (body === INVALID) {
      throw new ApplianceError(
        `the appliance at ${this.server} answered ${method} ${path} with invalid JSON`,
        {
          code: 'INVALID_RESPONSE',
          exitCode: APPLIANCE_EXIT.failure,
          status: raw.status,
        },
      );
    }
    const etag = raw.headers.etag;
    return {
      status: raw.status,
      headers: raw.headers,
      body: body as T,
      ...(typeof etag === 'string' && { etag }),
    };
  }

  /** Every item of a list, following `nextCursor`, at most `limit` of them. */
  async list<T>(
    path: string,
    query: Record<string, string | number | undefined> = {},
    limit?: number,
  ): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    for (;;) {
      const want = limit === undefined ? 500 : Math.min(500, limit - out.length);
      const page = await this.get<Page<T>>(path, { query: { ...query, limit: want, cursor } });
      const items = Array.isArray(page.body?.items) ? page.body.items : [];
      out.push(...items);
      if (limit !== undefined && out.length >= limit) return out.slice(0, limit);
      const next = page.body?.nextCursor;
      if (!next || items.length === 0) return out;
      cursor = next;
    }
  }

  /**
   * Opens a streaming GET (server-sent events): resolves with the response once its headers arrived (non-2xx
   * answers throw as usual). The caller reads and ends it; `signal` aborts it.
   */
  openStream(
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.start('GET', this.pathOf(path), { accept: 'text/event-stream', ...headers }, signal);
      const timer = setTimeout(() => req.destroy(timeoutError()), timeoutMs);
      req.once('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
          resolve(res);
          return;
        }
        collect(res).then(
          (text) =>
            reject(
              errorFromResponse(
                res.statusCode ?? 0,
                parseBody({ status: 0, headers: res.headers, text }),
                res.headers,
              ),
            ),
          (err) => reject(unreachable(this.server, err)),
        );
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(signal.aborted ? err : unreachable(this.server, err));
      });
      req.end();
    });
  }

  private pathOf(path: string, query: Record<string, string | number | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
    const qs = params.toString();
    const base = this.url.pathname === '/' ? '' : this.url.pathname;
    return `${base}${API_PREFIX}${path}${qs ? `?${qs}` : ''}`;
  }

  private start(method: string, path: string, headers: Record<string, string>, signal?: AbortSignal) {
    const all: Record<string, string> = { 'user-agent': 'lifeboat-cli', ...headers };
    if (this.options.token) all.authorization = `Bearer ${this.options.token}`;
    const https = this.url.protocol === 'https:';
    const options: RequestOptions = {
      method,
      host: this.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.url.port ? Number(this.url.port) : https ? 443 : 80,
      path,
      headers: all,
      ...(signal && { signal }),
      ...(https && { createConnection: pinnedConnection(this.server, this.options.fingerprint!) }),
    };
    return https ? httpsRequest(options) : httpRequest(options);
  }

  private send(
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: string | undefined,
    timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  ): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const req = this.start(method, path, {
        ...headers,
        ...(payload !== undefined && { 'content-length': String(Buffer.byteLength(payload)) }),
      });
      const timer = setTimeout(() => req.destroy(timeoutError()), timeoutMs);
      req.once('response', (res) => {
        collect(res).then(
          (text) => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
          },
          (err) => {
            clearTimeout(timer);
            reject(err);
          },
        );
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
  }
}

const INVALID = Symbol('invalid JSON');

function parseBody(raw: Raw): unknown {
  if (raw.text.length === 0) return undefined;
  const type = String(raw.headers['content-type'] ?? '');
  if (!/json/i.test(type)) return raw.status >= 200 && raw.status < 300 ? raw.text : undefined;
  try {
    return JSON.parse(raw.text);
  } catch {
    return raw.status >= 200 && raw.status < 300 ? INVALID : undefined;
  }
}

function collect(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (b: Buffer) => chunks.push(b));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    res.once('aborted', () => reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
  });
}

function timeoutError(): Error {
  return Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
