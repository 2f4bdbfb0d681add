import { actorOf } from '@lifeboat/appliance';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type ApiContext, decodeCursor, encodeCursor, principal } from '../context.js';
import { Page, PageQuery } from '../schemas.js';
import { WaitQuery } from './policies.js';
import { responses } from './responses.js';
import { SessionWithTasks } from './sessions.js';

/**
 * Restore points of cloud-native snapshots (issue 17): one instant of one instance, its crash-consistent snapshot
 * set and replicas; holds that keep a point from retention; the rescan that rebuilds them from the snapshots'
 * seals; the janitor that finds leftovers of interrupted sessions; and each session's AWS calls.
 */
const tags = ['restore points'];
const strict = { additionalProperties: false } as const;
const Time = Type.String({ format: 'date-time' });
const NullableString = Type.Union([Type.String(), Type.Null()]);

const PointSnapshot = Type.Object(
  {
    snapshotId: Type.String(),
    role: Type.Union([Type.Literal('source'), Type.Literal('replica')]),
    account: Type.String({ description: 'the account name when registered, else the AWS account id' }),
    awsAccountId: Type.String(),
    region: Type.String(),
    device: Type.String({ description: "the instance's device name (/dev/xvda)" }),
    sizeGiB: Type.Integer(),
    encrypted: Type.Boolean(),
    kmsKeyId: NullableString,
    state: Type.Union(
      [Type.Literal('pending'), Type.Literal('completed'), Type.Literal('error'), Type.Literal('deleted')],
      { description: "EC2's snapshot state, or deleted (by retention, the janitor or by hand)" },
    ),
    sealed: Type.Boolean({ description: 'the sealed metadata tags are on it' }),
    target: Type.Union([Type.String(), Type.Null()], {
      description: "a replica's target as the policy names it, `<account>/<region>`",
    }),
    sourceSnapshotId: NullableString,
  },
  strict,
);

const Hold = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('manual'), Type.Literal('restore'), Type.Literal('backup-base')], {
      description:
        "manual (lifeboat hold), restore (a running restore), backup-base (a backup's changed-block base)",
    }),
    reason: Type.String(),
    createdBy: Type.Union([Type.String(), Type.Null()], { description: 'null: the appliance' }),
    createdAt: Time,
  },
  strict,
);

export const RestorePoint = Type.Object(
  {
    id: Type.String(),
    createdAt: Time,
    state: Type.Union(
      [
        Type.Literal('creating'),
        Type.Literal('available'),
        Type.Literal('partial'),
        Type.Literal('failed'),
        Type.Literal('deleted'),
      ],
      {
        description:
          'creating (snapshots being made), available, partial (some volumes missing), failed, deleted (every snapshot gone)',
      },
    ),
    policy: NullableString,
    policyId: NullableString,
    orphaned: Type.Boolean({ description: 'its policy was removed' }),
    account: Type.Union([Type.String(), Type.Null()], {
      description: 'the account name; null if not registered',
    }),
    awsAccountId: Type.String(),
    region: Type.String(),
    instanceId: Type.String(),
    instanceName: NullableString,
    sessionId: NullableString,
    volumes: Type.Array(PointSnapshot, { description: 'the source snapshots, one per device' }),
    replicas: Type.Array(PointSnapshot),
    holds: Type.Array(Hold, { description: 'why retention keeps it now; empty when nothing holds it' }),
    hasConfiguration: Type.Boolean({
      description: "the instance's configuration was recorded (a restore can rebuild the instance)",
    }),
    configuration: Type.Optional(
      Type.Unknown({ description: "the instance's configuration (GET of one restore point only)" }),
    ),
  },
  strict,
);

const PointQuery = Type.Object(
  {
    ...PageQuery,
    instance: Type.Optional(Type.String({ maxLength: 64, description: 'an instance id' })),
    policy: Type.Optional(Type.String({ maxLength: 64, description: 'a policy name' })),
    account: Type.Optional(Type.String({ maxLength: 64, description: 'an account name' })),
    region: Type.Optional(Type.String({ maxLength: 32 })),
    orphaned: Type.Optional(Type.Boolean({ description: 'only points whose policy was removed' })),
    all: Type.Optional(Type.Boolean({ description: 'include deleted points' })),
  },
  strict,
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

const HoldBody = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'why it is held (shown by retention)' }),
  },
  strict,
);

const Scope = Type.Object(
  {
    account: Type.Optional(Type.String({ maxLength: 64, description: 'one account (default: all)' })),
    region: Type.Optional(
      Type.String({ maxLength: 32, description: 'one region (default: every scanned one)' }),
    ),
  },
  strict,
);

const AwsCalls = Type.Object(
  {
    sessionId: Type.String(),
    total: Type.Integer({ minimum: 0 }),
    calls: Type.Array(
      Type.Object(
        {
          api: Type.String({ description: 'e.g. ec2:CreateSnapshots' }),
          region: Type.String(),
          count: Type.Integer({ minimum: 0 }),
        },
        strict,
      ),
    ),
  },
  strict,
);

const isBefore = (v: unknown): v is { createdAt: string; id: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { createdAt?: unknown }).createdAt === 'string' &&
  typeof (v as { id?: unknown }).id === 'string';

export function pointRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const points = ctx.appliance.points;
  const jobs = ctx.appliance.jobs;

  app.get(
    '/restore-points',
    {
      schema: {
        'x-permission': 'points.read',
        summary:
          'Restore points (snapshot sets), newest first; filters: instance, policy, account, region, orphaned; all: deleted ones too',
        tags,
        querystring: PointQuery,
        response: responses({ 200: Page(RestorePoint) }),
      },
    },
    async (request) => {
      const q = request.query as Static<typeof PointQuery> & { limit: number };
      const before = decodeCursor(q.cursor, isBefore);
      const items = await points.list(
        {
          ...(q.instance !== undefined && { instanceId: q.instance }),
          ...(q.policy !== undefined && { policy: q.policy }),
          ...(q.account !== undefined && { account: q.account }),
          ...(q.region !== undefined && { region: q.region }),
          ...(q.orphaned !== undefined && { orphaned: q.orphaned }),
          ...(q.all !== undefined && { all: q.all }),
        },
        { limit: q.limit + 1, ...(before && { before }) },
      );
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
    '/restore-points/:id',
    {
      schema: {
        'x-permission': 'points.read',
        summary: 'One restore point: its snapshots per device, replicas and holds',
        tags,
        params: IdParams,
        response: responses({ 200: RestorePoint }),
      },
    },
    async (request) => points.get((request.params as { id: string }).id),
  );

  app.post(
    '/restore-points/:id/hold',
    {
      schema: {
        'x-permission': 'points.write',
        summary: 'Hold a restore point by hand: retention skips it (and says why) until it is released',
        tags,
        params: IdParams,
        body: HoldBody,
        response: responses({ 200: RestorePoint }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { reason } = request.body as Static<typeof HoldBody>;
      return points.hold(actorOf(principal(request)), id, reason);
    },
  );

  app.delete(
    '/restore-points/:id/hold',
    {
      schema: {
        'x-permission': 'points.write',
        summary:
          "Release a restore point's manual holds (404 when it has none); holds of restores and backups stay",
        tags,
        params: IdParams,
        response: responses({ 200: RestorePoint }),
      },
    },
    async (request) => points.release(actorOf(principal(request)), (request.params as { id: string }).id),
  );

  for (const [path, summary] of [
    [
      '/rescan',
      "Rebuild restore points (configuration included) from the snapshots' seals: a session per account × region; wait: true answers once it ended",
    ],
    [
      '/janitor',
      'Find leftovers of interrupted sessions by their session tags and apply retention to them: a session; wait: true answers once it ended',
    ],
  ] as const) {
    app.post(
      path,
      {
        schema: {
          'x-permission': 'policies.write',
          summary,
          tags,
          querystring: WaitQuery,
          body: Scope,
          response: responses({ 200: SessionWithTasks, 202: SessionWithTasks }),
        },
      },
      async (request, reply) => {
        const body = request.body as Static<typeof Scope>;
        const { wait } = request.query as Static<typeof WaitQuery>;
        const scope = {
          ...(body.account !== undefined && { account: body.account }),
          ...(body.region !== undefined && { region: body.region }),
        };
        const actor = actorOf(principal(request));
        const session =
          path === '/rescan' ? await points.rescan(actor, scope) : await points.janitor(actor, scope);
        if (!wait) return reply.code(202).send(session);
        await jobs.whenEnded(session.id);
        return jobs.get(session.id);
      },
    );
  }

  app.get(
    '/sessions/:id/aws-calls',
    {
      schema: {
        'x-permission': 'sessions.read',
        summary: 'The AWS calls a session made, counted by API and region (the start of the cost history)',
        tags: ['sessions'],
        params: IdParams,
        response: responses({ 200: AwsCalls }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const calls = await points.awsCalls(id); // 404 for an unknown session
      return { sessionId: id, total: calls.reduce((n, c) => n + c.count, 0), calls };
    },
  );
}
