import { ApplianceError, actorOf } from '@lifeboat/appliance';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ApiContext, decodeCursor, encodeCursor, ifMatch, principal, sendEtag } from '../context.js';
import { IfMatch, NameParams, Page, PageQuery } from '../schemas.js';
import { responses } from './responses.js';
import { SessionWithTasks } from './sessions.js';

/**
 * Backup policies (issue 17): a document saying what to protect, when, how long snapshots stay and where replicas
 * go. The document is validated by the appliance, not by the schemas below: its answer names every wrong field
 * (problem `errors: [{ path, message }]`, `path` the document's own field path such as `resources.tags` or
 * `replicas[0].keep`), unknown keys included, which a JSON Schema could only report one way.
 */
const tags = ['policies'];
const strict = { additionalProperties: false } as const;
const Time = Type.String({ format: 'date-time' });
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const PolicyDocument = Type.Record(Type.String(), Type.Unknown(), {
  description: [
    'A policy document (the appliance validates it; every wrong field is named in the problem’s `errors`, unknown keys are refused):',
    '`{ name, description?, resources: { accounts: [account names], regions: [regions], instances?: [instance ids],',
    'tags?: {Key: value or "*"}, exclude?: { instances?, tags? (any of them excludes), devices? } }, schedule?: one of',
    '{ daily: { times: ["HH:MM"] } }, { weekly: { days: [mon..sun], times } }, { monthly: { days: [1..31 | "last"], times } },',
    '{ yearly: { dates: ["MM-DD"], times } }, { cron: "m h dom mon dow" }, plus timezone? (IANA, e.g. Europe/Berlin),',
    'snapshots: { keep: 1-1000 restore points per instance, keepDays?: 0-36500 } (a point is kept while either rule keeps it),',
    'replicas?: [{ account, region, kmsKey?, shareKmsKey?, keep }] }`. Instances are the union of `instances` and those',
    'carrying all of `tags`, minus the exclusions.',
  ].join(' '),
});

export const Policy = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    document: PolicyDocument,
    enabled: Type.Boolean({ description: 'a disabled policy keeps its restore points and is not scheduled' }),
    version: Type.Integer({ description: 'the ETag is `"<version>"`' }),
    createdAt: Time,
    updatedAt: Time,
    scheduleText: Type.Union([Type.String(), Type.Null()], {
      description: 'the schedule in words; null without one (the policy runs only when asked)',
    }),
    nextRunAt: Type.Union([Time, Type.Null()], {
      description: 'the next scheduled run; null when disabled or unscheduled',
    }),
    lastSessionId: NullableString,
    points: Type.Integer({ minimum: 0, description: 'restore points of the policy that exist' }),
  },
  strict,
);

const SelectedInstance = Type.Object(
  {
    account: Type.String(),
    region: Type.String(),
    instanceId: Type.String(),
    name: NullableString,
    state: Type.String(),
    devices: Type.Array(Type.String(), { description: 'devices whose volumes the policy protects' }),
    excludedDevices: Type.Array(Type.String()),
  },
  strict,
);

const PolicyWarning = Type.Object(
  {
    code: Type.Union([
      Type.Literal('SELECTS_NOTHING'),
      Type.Literal('UNKNOWN_REGION'),
      Type.Literal('INVENTORY_MISSING'),
    ]),
    message: Type.String(),
  },
  strict,
);

export const PolicyChangeReport = Type.Object(
  {
    action: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('unchanged')]),
    dryRun: Type.Boolean({ description: 'true: nothing was changed, this is what would be' }),
    policy: Type.Union([Policy, Type.Null()], {
      description:
        'the policy as it is now (after the change; before it with dryRun, null if it does not exist)',
    }),
    changedFields: Type.Array(Type.String(), {
      description: 'document fields that change (`schedule`, `snapshots.keep`, ...)',
    }),
    selected: Type.Array(SelectedInstance, {
      description: 'the instances the document selects (from the inventory)',
    }),
    added: Type.Array(Type.String(), { description: 'instance ids selected now and not before' }),
    removed: Type.Array(Type.String(), { description: 'instance ids selected before and not now' }),
    wouldDelete: Type.Array(
      Type.Object(
        {
          pointId: Type.String(),
          instanceId: Type.String(),
          snapshotId: Type.String(),
          region: Type.String(),
          account: Type.String(),
        },
        strict,
      ),
      {
        description:
          "snapshots (sources and replicas) the new retention would delete at the policy's next run",
      },
    ),
    warnings: Type.Array(PolicyWarning),
  },
  strict,
);

const DryRunQuery = Type.Object(
  {
    dryRun: Type.Optional(
      Type.Boolean({ description: 'validate and report what would change, change nothing (200)' }),
    ),
  },
  strict,
);

export const WaitQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Boolean({
        description: 'answer when the session ended (200, the session with its tasks), not at once (202)',
      }),
    ),
  },
  strict,
);

const RemoveQuery = Type.Object(
  {
    deleteSnapshots: Type.Optional(
      Type.Boolean({
        description:
          "also delete the policy's snapshots (a session does; its id is answered); else they stay, listed as orphaned",
      }),
    ),
  },
  strict,
);

const Removed = Type.Object(
  {
    sessionId: Type.Union([Type.String(), Type.Null()], {
      description: 'the session deleting the snapshots (deleteSnapshots), else null',
    }),
  },
  strict,
);

const isAfter = (v: unknown): v is { after: string } =>
  typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string';

const policyPath = (name: string) => `/api/v1/policies/${encodeURIComponent(name)}`;

function withEtag(
  reply: FastifyReply,
  report: { dryRun: boolean; policy: { version: number } | null },
): FastifyReply {
  return report.policy && !report.dryRun ? sendEtag(reply, report.policy.version) : reply;
}

export function policyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const policies = ctx.appliance.policies;

  app.get(
    '/policies',
    {
      schema: {
        'x-permission': 'policies.read',
        summary: 'List backup policies by name',
        tags,
        querystring: Type.Object(PageQuery, strict),
        response: responses({ 200: Page(Policy) }),
      },
    },
    async (request) => {
      const q = request.query as { limit: number; cursor?: string };
      const after = decodeCursor(q.cursor, isAfter)?.after;
      const items = await policies.list({ limit: q.limit + 1, ...(after !== undefined && { after }) });
      const more = items.length > q.limit;
      const page = items.slice(0, q.limit);
      return { items: page, nextCursor: more ? encodeCursor({ after: page[page.length - 1]!.name }) : null };
    },
  );

  app.get(
    '/policies/:name',
    {
      schema: {
        'x-permission': 'policies.read',
        summary: 'One policy with its ETag, its document, schedule in words and next run',
        tags,
        params: NameParams,
        response: responses({ 200: Policy }),
      },
    },
    async (request, reply) => {
      const policy = await policies.get((request.params as { name: string }).name);
      sendEtag(reply, policy.version);
      return policy;
    },
  );

  app.post(
    '/policies',
    {
      schema: {
        'x-permission': 'policies.write',
        summary:
          'Create a policy from its document (201 with the change report; 409 when the name exists; dryRun: only the report, 200)',
        tags,
        querystring: DryRunQuery,
        body: PolicyDocument,
        response: responses({ 200: PolicyChangeReport, 201: PolicyChangeReport }),
      },
    },
    async (request, reply) => {
      const { dryRun } = request.query as Static<typeof DryRunQuery>;
      const report = await policies.apply(actorOf(principal(request)), request.body, {
        createOnly: true,
        dryRun: dryRun === true,
      });
      if (report.dryRun) return reply.code(200).send(report);
      withEtag(reply, report);
      if (report.policy) reply.header('location', policyPath(report.policy.name));
      return reply.code(201).send(report);
    },
  );

  app.put(
    '/policies/:name',
    {
      schema: {
        'x-permission': 'policies.write',
        summary:
          "Apply a policy's document: create it (201) or update it (200); the path's name must be the document's; dryRun: only the report (200)",
        tags,
        params: NameParams,
        querystring: DryRunQuery,
        headers: IfMatch,
        body: PolicyDocument,
        response: responses({ 200: PolicyChangeReport, 201: PolicyChangeReport }),
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { dryRun } = request.query as Static<typeof DryRunQuery>;
      const document = request.body as Record<string, unknown>;
      if (typeof document.name === 'string' && document.name !== name) {
        throw new ApplianceError(
          'VALIDATION_FAILED',
          `the document's name "${document.name}" is not the policy's name in the path ("${name}")`,
          { errors: [{ path: 'name', message: `must be "${name}", the name in the path` }] },
        );
      }
      const expectedVersion = ifMatch(request);
      const report = await policies.apply(actorOf(principal(request)), document, {
        dryRun: dryRun === true,
        ...(expectedVersion !== undefined && { expectedVersion }),
      });
      withEtag(reply, report);
      return reply.code(report.action === 'create' && !report.dryRun ? 201 : 200).send(report);
    },
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(
      `/policies/:name/${verb}`,
      {
        schema: {
          'x-permission': 'policies.write',
          summary: enabled
            ? 'Enable a policy: it runs on its schedule again'
            : 'Disable a policy: no scheduled runs (run-now still works); its restore points stay',
          tags,
          params: NameParams,
          headers: IfMatch,
          response: responses({ 200: Policy }),
        },
      },
      async (request, reply) => {
        const { name } = request.params as { name: string };
        const policy = await policies.setEnabled(
          actorOf(principal(request)),
          name,
          enabled,
          ifMatch(request),
        );
        sendEtag(reply, policy.version);
        return policy;
      },
    );
  }

  app.post(
    '/policies/:name/run',
    {
      schema: {
        'x-permission': 'sessions.write',
        summary:
          "Run a policy now: 202 its session (a task per instance); wait: true answers once it ended (200); 409 while the policy's previous session runs",
        tags,
        params: NameParams,
        querystring: WaitQuery,
        response: responses({ 200: SessionWithTasks, 202: SessionWithTasks }),
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { wait } = request.query as Static<typeof WaitQuery>;
      const session = await policies.run(actorOf(principal(request)), name);
      if (!wait) return reply.code(202).send(session);
      await ctx.appliance.jobs.whenEnded(session.id);
      return ctx.appliance.jobs.get(session.id);
    },
  );

  app.delete(
    '/policies/:name',
    {
      schema: {
        'x-permission': 'policies.write',
        summary:
          'Remove a policy; its snapshots stay (orphaned restore points) unless deleteSnapshots, which starts a session deleting them',
        tags,
        params: NameParams,
        querystring: RemoveQuery,
        headers: IfMatch,
        response: responses({ 200: Removed }),
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      const { deleteSnapshots } = request.query as Static<typeof RemoveQuery>;
      const expectedVersion = ifMatch(request);
      return policies.remove(actorOf(principal(request)), name, {
        deleteSnapshots: deleteSnapshots === true,
        ...(expectedVersion !== undefined && { expectedVersion }),
      });
    },
  );
}
