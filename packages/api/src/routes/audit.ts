import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type ApiContext, decodeCursor, encodeCursor } from '../context.js';
import { AuditEntry, Page, PageQuery } from '../schemas.js';
import { responses } from './responses.js';

const isBefore = (v: unknown): v is { before: number } =>
  typeof v === 'object' && v !== null && Number.isInteger((v as { before?: unknown }).before);

const AuditQuery = Type.Object(
  {
    ...PageQuery,
    actor: Type.Optional(Type.String({ maxLength: 64 })),
    action: Type.Optional(Type.String({ maxLength: 64, description: "exact, or a prefix ending in '.'" })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export function auditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/audit',
    {
      schema: {
        'x-permission': 'audit.read',
        summary: 'The audit log, newest first: who changed what and when, and every restore with its reason',
        tags: ['audit'],
        querystring: AuditQuery,
        response: responses({ 200: Page(AuditEntry) }),
      },
    },
    async (request) => {
      const q = request.query as {
        limit: number;
        cursor?: string;
        actor?: string;
        action?: string;
        since?: string;
      };
      const before = decodeCursor(q.cursor, isBefore)?.before;
      const items = await ctx.appliance.audit.list({
        limit: q.limit + 1,
        before,
        actor: q.actor,
        action: q.action,
        since: q.since ? new Date(q.since).toISOString() : undefined,
      });
      const more = items.length > q.limit;
      const page = items.slice(0, q.limit);
      return { items: page, nextCursor: more ? encodeCursor({ before: page[page.length - 1]!.id }) : null };
    },
  );
}
