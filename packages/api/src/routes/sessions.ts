import { actorOf } from '@lifeboat/appliance';
import { SESSION_STATES, type SessionState, TASK_STATES } from '@lifeboat/catalog';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type ApiContext, decodeCursor, encodeCursor, principal } from '../context.js';
import { Page, PageQuery } from '../schemas.js';
import { responses } from './responses.js';

/** The job engine's sessions (issue 16): list, one with its tasks, its log, cancel. */
const strict = { additionalProperties: false } as const;
const Time = Type.String({ format: 'date-time' });
const NullableTime = Type.Union([Time, Type.Null()]);
const Fraction = Type.Number({ minimum: 0, maximum: 1 });

export const SessionStateSchema = Type.Union(
  SESSION_STATES.map((s) => Type.Literal(s)),
  { description: 'queued, running, then succeeded, warning, failed or cancelled' },
);
const TaskStateSchema = Type.Union(TASK_STATES.map((s) => Type.Literal(s)));

export const Session = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    state: SessionStateSchema,
    createdBy: Type.Union([Type.String(), Type.Null()], { description: 'null: the appliance (a schedule)' }),
    createdAt: Time,
    startedAt: NullableTime,
    endedAt: NullableTime,
    progress: Fraction,
    counts: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'tasks per state' }),
    summary: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    cancelRequested: Type.Boolean(),
  },
  strict,
);

export const Task = Type.Object(
  {
    id: Type.String(),
    sessionId: Type.String(),
    seq: Type.Integer(),
    kind: Type.String(),
    resource: Type.Union([Type.String(), Type.Null()]),
    account: Type.Union([Type.String(), Type.Null()]),
    region: Type.Union([Type.String(), Type.Null()]),
    input: Type.Unknown(),
    state: TaskStateSchema,
    attempts: Type.Integer({ minimum: 0 }),
    progress: Fraction,
    note: Type.Union([Type.String(), Type.Null()]),
    startedAt: NullableTime,
    endedAt: NullableTime,
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }, strict), Type.Null()]),
    checkpoint: Type.Unknown({ description: 'what the task recorded to resume from after a restart' }),
    result: Type.Unknown(),
  },
  strict,
);

export const SessionWithTasks = Type.Object(
  { ...Session.properties, tasks: Type.Array(Task) },
  { ...strict, description: 'a session and its tasks, by seq' },
);

const LogLine = Type.Object(
  {
    id: Type.Integer(),
    sessionId: Type.String(),
    taskId: Type.Union([Type.String(), Type.Null()]),
    at: Time,
    level: Type.Union([
      Type.Literal('debug'),
      Type.Literal('info'),
      Type.Literal('warn'),
      Type.Literal('error'),
    ]),
    message: Type.String(),
  },
  strict,
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

const SessionQuery = Type.Object(
  {
    ...PageQuery,
    state: Type.Optional(SessionStateSchema),
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  strict,
);

const LogQuery = Type.Object(
  {
    ...PageQuery,
    task: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "only this task's lines" })),
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'lines after this line id (to follow a log: the last id seen)',
      }),
    ),
  },
  strict,
);

const isBefore = (v: unknown): v is { createdAt: string; id: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { createdAt?: unknown }).createdAt === 'string' &&
  typeof (v as { id?: unknown }).id === 'string';
const isAfter = (v: unknown): v is { after: number } =>
  typeof v === 'object' && v !== null && Number.isInteger((v as { after?: unknown }).after);

const tags = ['sessions'];

export function sessionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const jobs = ctx.appliance.jobs;

  app.get(
    '/sessions',
    {
      schema: {
        'x-permission': 'sessions.read',
        summary: 'Sessions (runs of the job engine), newest first; filter by state or kind',
        tags,
        querystring: SessionQuery,
        response: responses({ 200: Page(Session) }),
      },
    },
    async (request) => {
      const q = request.query as { limit: number; cursor?: string; state?: SessionState; kind?: string };
      const before = decodeCursor(q.cursor, isBefore);
      const items = await jobs.list({ limit: q.limit + 1, before, state: q.state, kind: q.kind });
      const more = items.length > q.limit;
      const page = items.slice(0, q.limit);
      const last = page[page.length - 1];
      return {
        items: page,
        nextCursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
      };
    },
  );

  app.get(
    '/sessions/:id',
    {
      schema: {
        'x-permission': 'sessions.read',
        summary: 'One session with its tasks (state, progress, attempts, timings, error)',
        tags,
        params: IdParams,
        response: responses({ 200: SessionWithTasks }),
      },
    },
    async (request) => jobs.get((request.params as { id: string }).id),
  );

  app.get(
    '/sessions/:id/log',
    {
      schema: {
        'x-permission': 'sessions.read',
        summary: "A session's log lines, oldest first (?task= for one task's, ?after= to follow)",
        tags,
        params: IdParams,
        querystring: LogQuery,
        response: responses({ 200: Page(LogLine) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const q = request.query as { limit: number; cursor?: string; task?: string; after?: number };
      const after = decodeCursor(q.cursor, isAfter)?.after ?? q.after;
      const items = await jobs.readLog({ sessionId: id, taskId: q.task, after, limit: q.limit + 1 });
      const more = items.length > q.limit;
      const page = items.slice(0, q.limit);
      return { items: page, nextCursor: more ? encodeCursor({ after: page[page.length - 1]!.id }) : null };
    },
  );

  app.post(
    '/sessions/:id/cancel',
    {
      schema: {
        'x-permission': 'sessions.write',
        summary:
          'Cancel a session: queued tasks are cancelled, running ones stopped; it ends `cancelled` (202; as it is if it ended)',
        tags,
        params: IdParams,
        response: responses({ 202: SessionWithTasks }),
      },
    },
    async (request, reply) => {
      const session = await jobs.cancel(actorOf(principal(request)), (request.params as { id: string }).id);
      return reply.code(202).send(session);
    },
  );
}

export type SessionJson = Static<typeof SessionWithTasks>;
