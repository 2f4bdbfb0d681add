import type { ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import type { Appliance } from '@lifeboat/appliance';
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { installAuth } from './auth-hook.js';
import type { ApiContext } from './context.js';
import { installIdempotency } from './idempotency-hook.js';
import { problem, problemOf } from './problem.js';
import { accountRoutes } from './routes/accounts.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { instanceRoutes } from './routes/instances.js';
import { openapiRoutes } from './routes/openapi.js';
import { pointRoutes } from './routes/points.js';
import { policyRoutes } from './routes/policies.js';
import { sessionRoutes } from './routes/sessions.js';
import { testModeRoutes } from './routes/test-mode.js';
import { userRoutes } from './routes/users.js';
import { installValidation } from './validation.js';
import { VERSION } from './version.js';

export const API_PREFIX = '/api/v1';
export const BODY_LIMIT = 1024 * 1024;

export interface ApiOptions {
  appliance: Appliance;
  /** Key and certificate (PEM) to serve HTTPS; plain HTTP without. */
  tls?: { key: string; cert: string };
  /** Where the appliance's log lines go (never secrets). */
  log?: (line: string) => void;
}

FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\dT/.test(v));

/** The API as a fastify instance, routes registered, not yet listening. */
export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const serverOptions: FastifyServerOptions = {
    bodyLimit: BODY_LIMIT,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // The router's own refusals (a path that is not valid percent-encoded UTF-8) as problems too, not fastify's JSON.
    frameworkErrors: (err, _request, reply) => {
      const answer = problemOf(err);
      (reply as FastifyReply)
        .code(answer.body.status)
        .headers(answer.headers)
        .type('application/problem+json')
        .send(answer.body);
    },
  };
  // One instance type for both: the routes never see whether TLS is on.
  const app = Fastify(
    (options.tls ? { ...serverOptions, https: options.tls } : serverOptions) as FastifyServerOptions,
  ) as unknown as FastifyInstance;
  const ctx: ApiContext = { appliance: options.appliance, secureCookies: Boolean(options.tls) };
  const streams = new Set<ServerResponse>();
  installValidation(app);
  // Bodies are JSON only: fastify's built-in text/plain parser would hand a string to the schema (400, not 415).
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Lifeboat appliance API', version: VERSION },
      servers: [{ url: API_PREFIX }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'lifeboat_session' },
        },
      },
      security: [{ bearer: [] }, { cookie: [] }],
    },
  });

  app.setErrorHandler((err, request, reply) => {
    const answer = problemOf(err);
    if (answer.internal) {
      const { id, err: cause } = answer.internal as { id: string; err: Error };
      log(`error ${id} ${request.method} ${request.url}: ${cause?.stack ?? String(cause)}`);
    }
    return reply
      .code(answer.body.status)
      .headers(answer.headers)
      .type('application/problem+json')
      .send(answer.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send(
        problem(
          404,
          'NOT_FOUND',
          `no route ${request.method} ${request.url.split('?')[0]}: see /api/v1/openapi.json`,
        ),
      ),
  );
  // Responses are checked against the same schemas that describe them: a mismatch is a bug, reported as one.
  app.addHook('preSerialization', async (request, reply, payload) => {
    const schemas = request.routeOptions.schema?.response as Record<string, TSchema> | undefined;
    const schema = schemas?.[String(reply.statusCode)] ?? schemas?.[`${String(reply.statusCode)[0]}xx`];
    if (schema && !Value.Check(schema, payload)) {
      const first = [...Value.Errors(schema, payload)][0];
      throw new Error(
        `response of ${request.method} ${request.url} does not match its schema at ${first?.path}: ${first?.message}`,
      );
    }
    return payload;
  });
  // The inventory's schedule runs while the API serves (not in tests that only inject requests).
  app.addHook('onListen', async () => options.appliance.startSchedules(log));
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  await app.register(
    async (api) => {
      installAuth(api, ctx);
      installIdempotency(api, ctx);
      healthRoutes(api);
      authRoutes(api, ctx);
      userRoutes(api, ctx);
      auditRoutes(api, ctx);
      sessionRoutes(api, ctx);
      // Only in `lifeboat server --test-mode`: absent (404) otherwise.
      if (ctx.appliance.testMode) testModeRoutes(api, ctx);
      accountRoutes(api, ctx);
      instanceRoutes(api, ctx);
      policyRoutes(api, ctx);
      pointRoutes(api, ctx);
      eventRoutes(api, ctx, streams);
      openapiRoutes(api);
    },
    { prefix: API_PREFIX },
  );
  await app.ready();
  return app;
}
