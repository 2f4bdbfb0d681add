import { actorOf } from '@lifeboat/appliance';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type ApiContext, decodeCursor, encodeCursor, principal } from '../context.js';
import { Page, PageQuery } from '../schemas.js';
import { responses } from './responses.js';
import { SessionStateSchema, SessionWithTasks } from './sessions.js';

/** The inventory (issue 16): instances with their volumes per account and region, and its refresh on demand. */
const tags = ['inventory'];
const strict = { additionalProperties: false } as const;
const Time = Type.String({ format: 'date-time' });
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const Volume = Type.Object(
  {
    volumeId: Type.String(),
    device: NullableString,
    sizeGiB: Type.Integer(),
    type: NullableString,
    encrypted: Type.Boolean(),
    kmsKeyId: NullableString,
    deleteOnTermination: Type.Union([Type.Boolean(), Type.Null()]),
  },
  strict,
);

export const Instance = Type.Object(
  {
    account: Type.String({ description: 'the account name' }),
    awsAccountId: Type.String(),
    region: Type.String(),
    instanceId: Type.String(),
    name: NullableString,
    state: Type.String({
      description: "EC2's state, or `gone` (no longer in AWS; kept while restore points exist)",
    }),
    instanceType: Type.String(),
    availabilityZone: NullableString,
    vpcId: NullableString,
    subnetId: NullableString,
    launchedAt: Type.Union([Time, Type.Null()]),
    tags: Type.Record(Type.String(), Type.String()),
    volumes: Type.Array(Volume),
    firstSeenAt: Time,
    lastSeenAt: Time,
    goneAt: Type.Union([Time, Type.Null()]),
  },
  strict,
);

const InstanceQuery = Type.Object(
  {
    ...PageQuery,
    account: Type.Optional(Type.String({ maxLength: 64 })),
    region: Type.Optional(Type.String({ maxLength: 32 })),
    state: Type.Optional(Type.String({ maxLength: 32 })),
    tag: Type.Optional(
      Type.Union(
        [Type.String({ maxLength: 400 }), Type.Array(Type.String({ maxLength: 400 }), { maxItems: 20 })],
        {
          description: 'KEY=VALUE, repeatable: instances carrying every one',
        },
      ),
    ),
  },
  strict,
);

export const Refresh = Type.Object(
  {
    account: Type.Optional(Type.String({ maxLength: 64, description: 'one account (default: all)' })),
    region: Type.Optional(
      Type.String({ maxLength: 32, description: 'one region (default: every scanned one)' }),
    ),
    wait: Type.Optional(
      Type.Boolean({
        description:
          "answer when the session ended (200, with each account × region's outcome), not at once (202)",
      }),
    ),
  },
  strict,
);

const RegionRefresh = Type.Object(
  {
    account: Type.String(),
    region: Type.String(),
    ok: Type.Boolean(),
    instances: Type.Integer(),
    gone: Type.Integer(),
    error: NullableString,
  },
  strict,
);

export const RefreshReport = Type.Object(
  {
    sessionId: Type.String({ description: 'the refresh session (GET /sessions/{id})' }),
    state: SessionStateSchema,
    startedAt: Time,
    endedAt: Time,
    regions: Type.Array(RegionRefresh),
  },
  strict,
);

const isAfter = (v: unknown): v is { after: string } =>
  typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string';

function parseTags(tag: string | string[] | undefined): Record<string, string> | undefined {
  if (tag === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const pair of Array.isArray(tag) ? tag : [tag]) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw Object.assign(new Error(`tag ${pair}: expected KEY=VALUE`), {
        validation: [{ instancePath: '/tag', message: 'must be KEY=VALUE' }],
        validationContext: 'querystring',
      });
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function instanceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const inventory = ctx.appliance.inventory;

  app.get(
    '/instances',
    {
      schema: {
        'x-permission': 'inventory.read',
        summary: 'Instances with their volumes; filters: account, region, state, tag (KEY=VALUE, repeatable)',
        tags,
        querystring: InstanceQuery,
        response: responses({ 200: Page(Instance) }),
      },
    },
    async (request) => {
      const q = request.query as Static<typeof InstanceQuery> & { limit: number };
      const after = decodeCursor(q.cursor, isAfter)?.after;
      const tagFilter = parseTags(q.tag);
      const items = await inventory.list(q.limit + 1, after, {
        ...(q.account !== undefined && { account: q.account }),
        ...(q.region !== undefined && { region: q.region }),
        ...(q.state !== undefined && { state: q.state }),
        ...(tagFilter && { tags: tagFilter }),
      });
      const more = items.length > q.limit;
      const page = items.slice(0, q.limit);
      return {
        items: page.map((i) => i.instance),
        nextCursor: more ? encodeCursor({ after: page[page.length - 1]!.key }) : null,
      };
    },
  );

  app.post(
    '/inventory/refresh',
    {
      schema: {
        'x-permission': 'accounts.write',
        summary:
          'Start an inventory refresh session (one task per account × region; all accounts, one account, one region); wait: true to get its outcome',
        tags,
        body: Refresh,
        response: responses({ 200: RefreshReport, 202: SessionWithTasks }),
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof Refresh>;
      const scope = {
        ...(body.account !== undefined && { account: body.account }),
        ...(body.region !== undefined && { region: body.region }),
      };
      const session = await inventory.start(actorOf(principal(request)), scope);
      if (!body.wait) return reply.code(202).send(session);
      await ctx.appliance.jobs.whenEnded(session.id);
      return inventory.report(session.id);
    },
  );
}
