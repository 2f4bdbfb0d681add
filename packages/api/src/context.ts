import type { Appliance, Permission, Principal } from '@lifeboat/appliance';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** What every route module gets: the appliance's services and the request's signed-in user. */
export interface ApiContext {
  appliance: Appliance;
  /** Cookies carry `Secure` when the API is served over HTTPS. */
  secureCookies: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifySchema {
    'x-permission'?: Permission | 'none';
  }
}

/** The signed-in user of a route that declared a permission (the auth hook ran). */
export function principal(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`route ${request.url} ran without authentication`);
  return request.principal;
}

/** `"<version>"`, the ETag of a versioned resource. */
export const etag = (version: number): string => `"${version}"`;

/** The version an If-Match names: undefined without the header or for `*`; NaN (never matches) if malformed. */
export function ifMatch(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"(\d+)"\s*$/.exec(header);
  return m ? Number(m[1]) : Number.NaN;
}

export function sendEtag(reply: FastifyReply, version: number): FastifyReply {
  return reply.header('etag', etag(version));
}

/** Opaque list cursors: base64url JSON of where the next page starts. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (check(value)) return value;
  } catch {}
  throw Object.assign(new Error('cursor is not valid: pass nextCursor from the previous page unchanged'), {
    validation: [{ instancePath: '/cursor', message: 'is not a cursor of this list' }],
    validationContext: 'querystring',
  });
}
