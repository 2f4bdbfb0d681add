import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import type { Account, RegionInfo } from '../core/model.js';
import type { AdminOps } from './admin-ops.js';
import { readBody } from './body.js';

/** Content writes and imports carry disk data: allow large bodies on the admin API. */
const ADMIN_BODY_LIMIT = 1024 * 1024 * 1024;

export interface AdminInfo {
  endpoint: () => string;
  accounts: readonly Account[];
  regions: readonly RegionInfo[];
  token: string;
}

type Handler = (m: RegExpMatchArray, q: URLSearchParams, body: Buffer) => unknown;

/**
 * The sandbox-only admin API under /_sandbox/ (JSON; volume content as raw bytes), authenticated with
 * `Authorization: Bearer <adminToken>`. Only /_sandbox/health answers without it.
 */
export function createAdminHandler(ops: AdminOps, info: AdminInfo) {
  const json = (body: Buffer) => (body.length ? JSON.parse(body.toString('utf8')) : {});
  const routes: Array<[method: string, pattern: RegExp, handler: Handler]> = [
    [
      'GET',
      /^accounts$/,
      () => ({ endpoint: info.endpoint(), accounts: info.accounts, regions: info.regions }),
    ],
    ['POST', /^volumes$/, (_m, _q, b) => ops.createVolume(json(b))],
    ['POST', /^volumes\/import$/, (_m, _q, b) => ops.importVolume(json(b))],
    [
      'PUT',
      /^volumes\/([^/]+)\/content$/,
      (m, q, b) => {
        const offset = num(q.get('offset') ?? '0', 'offset');
        ops.writeVolume(m[1] as string, offset, b);
        return { volumeId: m[1], offset, length: b.length };
      },
    ],
    [
      'GET',
      /^volumes\/([^/]+)\/content$/,
      (m, q) =>
        ops.readVolume(
          m[1] as string,
          num(q.get('offset') ?? '0', 'offset'),
          num(q.get('length') ?? '', 'length'),
        ),
    ],
    [
      'POST',
      /^volumes\/([^/]+)\/snapshot$/,
      (m, _q, b) => ops.snapshotVolume(m[1] as string, json(b).description),
    ],
    ['GET', /^counters$/, () => ({ counters: ops.counters() })],
    [
      'POST',
      /^counters\/reset$/,
      () => {
        ops.resetCounters();
        return {};
      },
    ],
    ['GET', /^quotas$/, () => ops.quotas()],
    ['PUT', /^quotas$/, (_m, _q, b) => ops.setQuotas(json(b))],
    ['GET', /^consistency$/, () => ops.consistency()],
    ['POST', /^consistency$/, (_m, _q, b) => ops.setConsistency(json(b))],
    ['GET', /^faults$/, () => ({ faults: ops.faults() })],
    ['POST', /^faults$/, (_m, _q, b) => ({ id: ops.addFault(json(b)) })],
    [
      'DELETE',
      /^faults$/,
      () => {
        ops.clearFaults();
        return {};
      },
    ],
    [
      'DELETE',
      /^faults\/([^/]+)$/,
      (m) => ({ removed: ops.removeFault(decodeURIComponent(m[1] as string)) }),
    ],
    [
      'POST',
      /^clock$/,
      (_m, _q, b) => ({ now: ops.advanceClock(num(String(json(b).advanceMs ?? 0), 'advanceMs')) }),
    ],
    ['GET', /^process$/, () => ops.processStats()],
    ['GET', /^permissions$/, () => ({ permissions: ops.permissions() })],
    [
      'PUT',
      /^permissions$/,
      (_m, _q, b) => {
        const { arn, actions } = json(b);
        return { permissions: ops.setPermissions(String(arn ?? ''), actions ?? null) };
      },
    ],
  ];

  return async (
    req: IncomingMessage,
    res: ServerResponse,
    rawPath: string,
    rawQuery: string,
  ): Promise<void> => {
    const sub = rawPath.slice('/_sandbox/'.length);
    if (sub === 'health') return send(res, 200, { ok: true });
    if (!authorized(req.headers.authorization, info.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, {
        error: 'Unauthorized',
        message: 'The admin API needs Authorization: Bearer <adminToken>',
      });
    }
    const found = routes.find(([method, pattern]) => method === req.method && pattern.test(sub));
    if (!found)
      return send(res, 404, { error: 'NotFound', message: `No admin route ${req.method} ${rawPath}` });
    try {
      const body = await readBody(req, ADMIN_BODY_LIMIT);
      const result = found[2](sub.match(found[1]) as RegExpMatchArray, new URLSearchParams(rawQuery), body);
      if (Buffer.isBuffer(result)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': result.length });
        res.end(result);
      } else send(res, 200, result);
    } catch (e) {
      if (e instanceof SyntaxError)
        return send(res, 400, { error: 'BadRequest', message: 'The body is not JSON' });
      if (!(e instanceof AwsError)) throw e;
      send(res, e.status === 400 && e.code.endsWith('NotFound') ? 404 : e.status, {
        error: e.code,
        message: e.message,
      });
    }
  };
}

function authorized(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7).trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function num(text: string, name: string): number {
  if (!/^\d+$/.test(text))
    throw new AwsError('InvalidParameterValue', `${name} must be a non-negative integer`);
  return Number(text);
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}
