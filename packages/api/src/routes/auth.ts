import { ROLE_PERMISSIONS } from '@lifeboat/appliance';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SESSION_COOKIE } from '../auth-hook.js';
import { type ApiContext, principal } from '../context.js';
import { Login, LoginResult, Logout, NoContent, WhoAmI } from '../schemas.js';
import { responses } from './responses.js';

export function authRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post(
    '/auth/login',
    {
      schema: {
        'x-permission': 'none',
        summary: 'Log in: a bearer token (mode token) or a session cookie with a CSRF token (mode cookie)',
        tags: ['auth'],
        security: [],
        body: Login,
        response: responses({ 200: LoginResult }),
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof Login>;
      const mode = body.mode ?? 'token';
      const login = await ctx.appliance.auth.login(body.user, body.password, mode, request.ip);
      reply.header('cache-control', 'no-store');
      if (mode === 'token') return { user: login.user, token: login.secret, expiresAt: login.expiresAt };
      const maxAge = Math.max(0, Math.floor((Date.parse(login.expiresAt) - Date.now()) / 1000));
      reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${login.secret}; Path=/api; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${ctx.secureCookies ? '; Secure' : ''}`,
      );
      return { user: login.user, csrfToken: login.csrfToken ?? undefined, expiresAt: login.expiresAt };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        'x-permission': 'self',
        summary: 'End this login, or every login of the user (all: true)',
        tags: ['auth'],
        body: Logout,
        response: responses({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as Static<typeof Logout>;
      await ctx.appliance.auth.logout(principal(request), body.all === true);
      if (principal(request).loginKind === 'cookie') {
        reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0`);
      }
      return reply.code(204).send();
    },
  );

  app.get(
    '/auth/whoami',
    {
      schema: {
        'x-permission': 'self',
        summary: 'Who is signed in, with which role and permissions',
        tags: ['auth'],
        response: responses({ 200: WhoAmI }),
      },
    },
    async (request) => {
      const p = principal(request);
      return {
        name: p.name,
        role: p.role,
        restoreTags: p.restoreTags,
        loginKind: p.loginKind,
        expiresAt: p.expiresAt,
        permissions: [...ROLE_PERMISSIONS[p.role]],
      };
    },
  );
}
