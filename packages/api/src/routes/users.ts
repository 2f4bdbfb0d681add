import { actorOf } from '@lifeboat/appliance';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type ApiContext, decodeCursor, encodeCursor, ifMatch, principal, sendEtag } from '../context.js';
import {
  IfMatch,
  NameParams,
  NewUser,
  NoContent,
  Page,
  PageQuery,
  PasswordChange,
  User,
  UserEdit,
} from '../schemas.js';
import { responses } from './responses.js';

const tags = ['users'];
const isAfter = (v: unknown): v is { after: string } =>
  typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string';

export function userRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const users = ctx.appliance.users;

  app.get(
    '/users',
    {
      schema: {
        'x-permission': 'users.read',
        summary: 'List users by name',
        tags,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: responses({ 200: Page(User) }),
      },
    },
    async (request) => {
      const q = request.query as { limit: number; cursor?: string };
      const after = decodeCursor(q.cursor, isAfter)?.after;
      const items = await users.list(q.limit + 1, after);
      const more = items.length > q.limit;
      const page = items.slice(0, q.limit);
      return { items: page, nextCursor: more ? encodeCursor({ after: page[page.length - 1]!.name }) : null };
    },
  );

  app.post(
    '/users',
    {
      schema: {
        'x-permission': 'users.write',
        summary: 'Add a user',
        tags,
        body: NewUser,
        response: responses({ 201: User }),
      },
    },
    async (request, reply) => {
      const user = await users.create(actorOf(principal(request)), request.body as Static<typeof NewUser>);
      sendEtag(reply, user.version).header('location', `/api/v1/users/${user.name}`);
      return reply.code(201).send(user);
    },
  );

  app.get(
    '/users/:name',
    {
      schema: {
        'x-permission': 'users.read',
        summary: 'One user, with its ETag',
        tags,
        params: NameParams,
        response: responses({ 200: User }),
      },
    },
    async (request, reply) => {
      const user = await users.get((request.params as { name: string }).name);
      sendEtag(reply, user.version);
      return user;
    },
  );

  app.patch(
    '/users/:name',
    {
      schema: {
        'x-permission': 'users.write',
        summary: 'Change a user: role, restore tags, disabled (If-Match: 412 on a lost update)',
        tags,
        params: NameParams,
        headers: IfMatch,
        body: UserEdit,
        response: responses({ 200: User }),
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const user = await users.update(
        actorOf(principal(request)),
        name,
        request.body as Static<typeof UserEdit>,
        ifMatch(request),
      );
      sendEtag(reply, user.version);
      return user;
    },
  );

  app.put(
    '/users/:name/password',
    {
      schema: {
        'x-permission': 'self',
        summary:
          "Set a password: one's own with currentPassword, anyone's as administrator; ends their logins",
        tags,
        params: NameParams,
        headers: IfMatch,
        body: PasswordChange,
        response: responses({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const body = request.body as Static<typeof PasswordChange>;
      const p = principal(request);
      await users.setPassword(p, actorOf(p), name, body.password, body.currentPassword, ifMatch(request));
      return reply.code(204).send();
    },
  );

  app.delete(
    '/users/:name',
    {
      schema: {
        'x-permission': 'users.write',
        summary: 'Remove a user (not the last enabled administrator)',
        tags,
        params: NameParams,
        headers: IfMatch,
        response: responses({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      await users.remove(actorOf(principal(request)), name, ifMatch(request));
      return reply.code(204).send();
    },
  );
}
