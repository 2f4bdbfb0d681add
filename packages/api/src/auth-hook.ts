import { createHash } from 'node:crypto';
import { ApplianceError, can, type Permission } from '@lifeboat/appliance';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';

export const SESSION_COOKIE = 'lifeboat_session';
const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Every route declares one permission in its schema (`x-permission`, also published in the OpenAPI description);
 * a route without one cannot be registered. `none` marks the two public routes (health, login).
 */
export function installAuth(app: FastifyInstance, ctx: ApiContext): void {
  app.addHook('onRoute', (route) => {
    if (!route.schema?.['x-permission']) {
      throw new Error(`route ${route.method} ${route.url} declares no x-permission`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const permission = request.routeOptions.schema?.['x-permission'];
    if (!permission || permission === 'none') return;
    request.principal = await authenticate(request, ctx);
    if (!can(request.principal.role, permission as Permission)) {
      throw new ApplianceError(
        'FORBIDDEN',
        `${request.principal.name} (${request.principal.role}) may not do this: it needs ${permission}`,
      );
    }
  });
}

/** The signed-in user of a request (bearer token or cookie, with the CSRF check of unsafe cookie requests). */
export async function authenticate(request: FastifyRequest, ctx: ApiContext) {
  const header = request.headers.authorization;
  const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (header && !bearer) throw new ApplianceError('UNAUTHENTICATED', 'Authorization must be "Bearer TOKEN"');
  const cookie = bearer ? undefined : cookieValue(request.headers.cookie, SESSION_COOKIE);
  const secret = bearer ?? cookie;
  if (!secret) throw new ApplianceError('UNAUTHENTICATED', 'not signed in: log in first (lifeboat login)');
  const principal = await ctx.appliance.auth.authenticate(secret, request.ip);
  if (cookie && UNSAFE.has(request.method)) {
    const csrf = request.headers['x-csrf-token'];
    if (typeof csrf !== 'string' || !principal.csrfHash || sha256(csrf) !== principal.csrfHash) {
      throw new ApplianceError('CSRF_REQUIRED', 'this request needs the X-CSRF-Token that login returned');
    }
  }
  return principal;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
