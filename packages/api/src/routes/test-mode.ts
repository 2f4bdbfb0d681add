import { ApplianceError, actorOf, advanceTestClock } from '@lifeboat/appliance';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type ApiContext, principal } from '../context.js';
import { responses } from './responses.js';
import { SessionWithTasks } from './sessions.js';

/**
 * TEST-ONLY routes, registered only when the appliance runs with `lifeboat server --test-mode` (404 otherwise):
 * move the test clock (and the sandbox's), and start a session of any registered kind (the test-only kinds of
 * LIFEBOAT_TEST_TASK_KINDS=1 among them) without a product route.
 */
const strict = { additionalProperties: false } as const;

const ClockMove = Type.Object(
  { advanceSeconds: Type.Number({ minimum: 0, maximum: 10 * 366 * 86_400 }) },
  strict,
);
const ClockAnswer = Type.Object(
  {
    now: Type.String({ format: 'date-time' }),
    sandbox: Type.Optional(Type.Object({ now: Type.String() }, strict)),
  },
  strict,
);

const TestSession = Type.Object(
  {
    kind: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    tasks: Type.Array(
      Type.Object(
        {
          kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          resource: Type.Optional(Type.String({ maxLength: 200 })),
          account: Type.Optional(Type.String({ maxLength: 64 })),
          region: Type.Optional(Type.String({ maxLength: 64 })),
          input: Type.Optional(Type.Unknown()),
        },
        strict,
      ),
      { maxItems: 1000 },
    ),
  },
  strict,
);

export function testModeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post(
    '/test/clock',
    {
      schema: {
        'x-permission': 'self',
        summary: 'TEST MODE ONLY (administrators): move the clock forward, the sandbox clock too',
        tags: ['test'],
        body: ClockMove,
        response: responses({ 200: ClockAnswer }),
      },
    },
    async (request) => {
      const p = principal(request);
      if (p.role !== 'administrator') {
        throw new ApplianceError(
          'FORBIDDEN',
          `${p.name} (${p.role}) may not move the clock: administrators only`,
        );
      }
      const { advanceSeconds } = request.body as Static<typeof ClockMove>;
      return advanceTestClock(ctx.appliance.clock, advanceSeconds * 1000);
    },
  );

  app.post(
    '/test/sessions',
    {
      schema: {
        'x-permission': 'sessions.write',
        summary: 'TEST MODE ONLY: start a session of registered task kinds',
        tags: ['test'],
        body: TestSession,
        response: responses({ 201: SessionWithTasks }),
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof TestSession>;
      const session = await ctx.appliance.jobs.startSession(actorOf(principal(request)), body);
      return reply.code(201).send(session);
    },
  );
}
